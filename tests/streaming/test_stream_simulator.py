"""The stream simulator: deterministic, atomic, never overwriting, time-ordered, planted late/dirty/anomalies."""
from __future__ import annotations
from pathlib import Path

import os
from datetime import datetime, timedelta

import pytest

from shopsense.errors import ShopSenseError
from shopsense.streaming.intervals import interval_seconds
from shopsense.streaming.simulator import DIRTY_KINDS, Simulator, load_pool
from shopsense.streaming.source import EVENT_TIME_STRFTIME, STREAM_COLUMNS

from stream_helpers import START


def _sim(config, pool, **kwargs):
    args = dict(batch_size=100, interval=20, seed=9, start_time=START, late_fraction=0.2, dirty_fraction=0.1,
                anomaly_fraction=0.02)
    args.update(kwargs)
    return Simulator(config, pool, **args)


def _times(lines):
    idx = STREAM_COLUMNS.index("event_time")
    out = []
    for line in lines[1:]:
        try:
            out.append(datetime.strptime(line.split(",")[idx], EVENT_TIME_STRFTIME))
        except (ValueError, IndexError):
            pass  # a dirty row
    return out


def test_same_seed_and_start_give_the_same_files(config, pool):
    assert _sim(config, pool).batch_lines(3)[0] == _sim(config, pool).batch_lines(3)[0]
    assert _sim(config, pool).batch_lines(3)[0] != _sim(config, pool, seed=10).batch_lines(3)[0]


def test_files_are_atomic_never_overwritten_and_sort_in_time_order(config, pool):
    sim = _sim(config, pool)
    infos = list(sim.run(batches=6, pace=False))
    names = sorted(p.name for p in Path(config.stream_input_dir).iterdir())
    assert names == [i.path.name for i in infos]  # name order = batch order = event-time order
    mtimes = [os.stat(i.path).st_mtime_ns for i in infos]
    assert mtimes == sorted(mtimes) and len(set(mtimes)) == len(mtimes)
    assert list(Path(config.stream_tmp_dir).iterdir()) == []  # temporary files are gone, none in the input folder
    before = infos[0].path.read_bytes()
    with pytest.raises(ShopSenseError, match="never overwritten"):
        _sim(config, pool).write_batch(0)
    assert infos[0].path.read_bytes() == before
    header = infos[0].path.read_text().splitlines()[0]
    assert header == ",".join(STREAM_COLUMNS)


def test_on_time_events_cover_the_batch_span(config, pool):
    sim = _sim(config, pool, late_fraction=0.0, dirty_fraction=0.0, anomaly_fraction=0.0)
    times = _times(sim.batch_lines(4)[0])
    span = START.replace(tzinfo=None) + timedelta(seconds=80)
    assert len(times) == 100 and all(span <= t < span + timedelta(seconds=20) for t in times)


def test_late_events_fall_inside_or_beyond_the_watermark(config, pool):
    sim = _sim(config, pool, dirty_fraction=0.0, anomaly_fraction=0.0)
    k = 30  # 10 minutes in: every late event fits after the start
    lines, info = sim.batch_lines(k)
    span = START.replace(tzinfo=None) + timedelta(seconds=k * 20)
    delays = [(span - t).total_seconds() for t in _times(lines) if t < span]
    watermark = interval_seconds(config.stream_watermark)
    window = interval_seconds(config.stream_window)
    within = [d for d in delays if d < watermark]
    beyond = [d for d in delays if d >= watermark]
    assert info.late_within == len(within) == 10 and info.late_beyond == len(beyond) == 10
    assert all(d >= watermark + window + 20 for d in beyond)  # their window closed before they arrive
    # the first batch has nothing to be late against: all its events are on time
    assert _sim(config, pool).batch_lines(0)[1].late_within == 0


def test_dirty_rows_and_anomalies_are_planted(config, pool):
    lines, info = _sim(config, pool, dirty_fraction=0.11, anomaly_fraction=0.05).batch_lines(2)
    assert sum(info.dirty.values()) == 11 and set(info.dirty) == set(DIRTY_KINDS)
    assert len(info.anomaly_event_ids) == 5
    amount = STREAM_COLUMNS.index("Purchase Amount (USD)")
    by_id = {line.split(",")[STREAM_COLUMNS.index("event_id")]: line for line in lines[1:]}
    assert all(float(by_id[i].split(",")[amount]) >= 6 * 20 for i in info.anomaly_event_ids)


def test_bad_options_are_user_errors(config, pool):
    with pytest.raises(ShopSenseError):
        _sim(config, pool, late_fraction=0.7, dirty_fraction=0.5)
    with pytest.raises(ShopSenseError, match="ingest"):
        load_pool(config, "processed", seed=1)


def test_a_big_processed_log_gives_a_bounded_sample_fixed_by_the_seed(config):
    from shopsense.generate import generate_frame, to_processed_frame

    log = to_processed_frame(generate_frame(1000, 3))
    processed = Path(config.processed_dir)
    processed.mkdir(parents=True)
    log.iloc[:600].to_parquet(processed / "part-0.parquet")
    log.iloc[600:].to_parquet(processed / "part-1.parquet")
    whole, origin = load_pool(config, "auto", seed=4)  # the default limit is far above 1,000 rows
    assert len(whole) == 1000 and origin == "processed data (1,000 rows)"

    bounded = config.with_overrides(stream_pool_rows=300)
    pool, origin = load_pool(bounded, "auto", seed=4)
    assert len(pool) == 300 and origin == "processed data (a sample of 300 of its 1,000 rows, seed 4)"
    assert list(pool.columns) == list(whole.columns)
    assert pool.equals(load_pool(bounded, "auto", seed=4)[0])  # the same seed, the same sample
    assert not pool.equals(load_pool(bounded, "auto", seed=5)[0])
    rows = iter(map(tuple, whole.values))
    assert all(row in rows for row in map(tuple, pool.values))  # rows of the log, in the whole pool's order

    # The same rows in another layout (e.g. written by a cluster): three files, another row order.
    relaid = config.with_overrides(home=config.home / "relaid")
    other = Path(relaid.processed_dir)
    other.mkdir(parents=True)
    shuffled = log.sample(frac=1.0, random_state=0).reset_index(drop=True)
    for part, part_rows in enumerate((slice(0, 200), slice(200, 650), slice(650, None))):
        shuffled.iloc[part_rows].to_parquet(other / f"part-{part}.parquet")
    assert load_pool(relaid, "auto", seed=4)[0].equals(whole)
    assert load_pool(relaid.with_overrides(stream_pool_rows=300), "auto", seed=4)[0].equals(pool)


ABSENT = ["Promo Code Used", "Age"]  # null in every row of the processed log below; Color in 10 rows


def _pool_lacking_columns(config):
    """The simulator's pool from a processed log whose input had no promo and age columns and some rows no
    colour, with the generator's frame it came from."""
    import pandas as pd

    from shopsense.generate import generate_frame, to_processed_frame

    raw = generate_frame(50, 3)
    log = to_processed_frame(raw)
    # The processed Parquet's types: Spark writes a null boolean, integer or string column as such.
    log["promo_code_used"] = pd.array([None] * len(log), dtype="boolean")
    log["age"] = pd.array([None] * len(log), dtype="Int32")
    log["color"] = pd.array([None] * 10 + list(log["color"][10:]), dtype="string")
    Path(config.processed_dir).mkdir(parents=True)
    log.to_parquet(Path(config.processed_dir) / "part-0.parquet")
    # The pool holds the rows in the order of their values (load_pool): the generator's rows in that order.
    order = log.sort_values(list(log.columns), na_position="last", kind="stable").index
    return load_pool(config, "processed", seed=1)[0], raw.loc[order].reset_index(drop=True)


def test_columns_missing_from_the_processed_log_are_left_out_and_nulls_are_empty_fields(config):
    """A column the ingested input lacked (null in every processed row) is left out of the files; a single
    null is an empty field; never the text of a Python null ('None', 'nan')."""
    pool, raw = _pool_lacking_columns(config)
    assert (pool[ABSENT] == "").all().all() and (pool["Color"] == "").sum() == 10
    amount = "Purchase Amount (USD)"  # a double in the processed data: '78.0' for the generator's 78
    assert pool[amount].astype(float).equals(raw[amount].astype(float))
    present = [c for c in pool.columns if c not in (*ABSENT, amount, "Color")]
    assert pool[present].equals(raw[present].astype(str))  # every other value as the generator wrote it

    lines = _sim(config, pool, batch_size=60, late_fraction=0.0, dirty_fraction=0.0,
                 anomaly_fraction=0.0).batch_lines(0)[0]
    header = lines[0].split(",")
    assert header == [c for c in STREAM_COLUMNS if c not in ABSENT]
    fields = [line.split(",") for line in lines[1:]]
    assert all(len(f) == len(header) for f in fields)
    assert not any("None" in f or "nan" in f for f in fields)
    assert any(f[header.index("Color")] == "" for f in fields)
    # no dirty kind is planted in a column the files lack
    assert "age_out_of_range" not in _sim(config, pool).dirty_kinds
    assert _sim(config, pool, dirty_fraction=0.5).batch_lines(1)[1].dirty["age_out_of_range"] == 0


def test_every_dirty_kind_planted_in_an_optional_column_names_it(pool):
    from shopsense import generate, schema
    from shopsense.streaming.simulator import LENGTH_KINDS, PLANTED_IN

    fields = list(pool.iloc[0])
    essential = {c.raw for c in schema.COLUMNS if c.name in schema.ESSENTIAL_COLUMNS}
    for kind in DIRTY_KINDS:
        if kind in LENGTH_KINDS or kind not in generate.DIRTY_KINDS:
            continue
        changed = [schema.RAW_COLUMNS[i] for i, (a, b) in
                   enumerate(zip(fields, generate._dirty_line(fields, kind).split(","))) if a != b]
        assert len(changed) == 1, kind
        assert PLANTED_IN.get(kind) == changed[0] or (kind not in PLANTED_IN and changed[0] in essential), kind


@pytest.mark.slow  # the stream parser's plan: about 30 s on a loaded machine
def test_the_stream_reads_a_left_out_column_as_absent_and_an_empty_field_as_missing(config, spark):
    from shopsense.streaming import source

    pool, _ = _pool_lacking_columns(config)
    info = _sim(config, pool, batch_size=60, late_fraction=0.0, dirty_fraction=0.0,
                anomaly_fraction=0.0).write_batch(0)
    lines = info.path.read_text().splitlines()
    colour = lines[0].split(",").index("Color")
    empty_colour = sum(line.split(",")[colour] == "" for line in lines[1:])
    events = source.parse_events(source.read_batch(spark, str(info.path.parent)))
    counts = {(r["valid"], r["fail_missing_value"]): r["count"]
              for r in events.groupBy("valid", "fail_missing_value").count().collect()}
    assert counts == {(True, False): 60 - empty_colour, (False, True): empty_colour}  # only the empty colours
    assert events.where("promo_code_used IS NOT NULL OR age IS NOT NULL").isEmpty()
