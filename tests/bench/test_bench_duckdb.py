"""The benchmark's DuckDB side applies the ingestion rules (same counts as the generator planted), and the
engine comparison detects a difference in the clean data, a count or one query cell. No Spark needed."""
from __future__ import annotations

import json
import shutil

import duckdb
import pandas as pd
import pytest

from benchmarks import duck
from benchmarks.compare import ResultsDiffer, compare
from benchmarks.run import markdown, update_doc
from shopsense.config import load_config
from shopsense.generate import generate, write_csv
from shopsense.io import local_current_folder

# The reason code each dirty kind of the generator must produce (as in tests/ingest/test_ingest_pipeline.py).
EXPECTED_REASON = {
    "non_numeric_amount": "non_numeric_purchase_amount_usd", "missing_field": "missing_gender",
    "unknown_category": "unknown_category", "item_category_mismatch": "item_category_mismatch",
    "age_out_of_range": "age_out_of_range", "rating_out_of_range": "review_rating_out_of_range",
    "extra_column": "malformed_row", "missing_column": "malformed_row",
}


@pytest.fixture(scope="module")
def duck_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("duck")
    generated = generate(3000, seed=5, dirty_fraction=0.03)
    csv = write_csv(generated, home / "dirty.csv")
    config = load_config(home=home)
    con = duck.connect(2)
    summary = duck.ingest(con, config, csv)
    duck.analyze(con, config)
    return config, generated, summary


def test_duckdb_ingest_applies_the_same_rules(duck_run):
    config, generated, summary = duck_run
    kinds = generated.dirty_kinds
    assert summary["rows_read"] == 3000
    assert summary["rows_duplicate"] == kinds["duplicate_row"]
    assert summary["rows_quarantined"] == sum(n for kind, n in kinds.items() if kind != "duplicate_row")
    expected = {}
    for kind, reason in EXPECTED_REASON.items():
        expected[reason] = expected.get(reason, 0) + kinds[kind]
    expected["missing_frequency_of_purchases"] = kinds["missing_column"]
    assert summary["reasons"] == expected
    clean = f"read_parquet('{config.processed_dir}/*')"
    rows, distinct = duckdb.connect().execute(
        f"SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT * FROM {clean})) FROM {clean}").fetchone()
    assert rows == distinct == summary["rows_clean"]
    assert (config.queries_dir / "customer_lifetime_value.csv").exists() and config.report_html.exists()


def _copy(config, tmp_path):
    other = load_config(home=tmp_path / "other")
    shutil.copytree(config.home, other.home)
    return other


def test_compare_accepts_equal_outputs_and_catches_differences(duck_run, tmp_path):
    config, _, _ = duck_run
    other = _copy(config, tmp_path)
    assert len(compare(config, other)) == 3

    query = other.queries_dir / "subscription_impact.csv"
    frame = pd.read_csv(query)
    frame.loc[0, "avg_review_rating"] += 0.02  # two units of the last place: more than rounding
    frame.to_csv(query, index=False)
    with pytest.raises(ResultsDiffer, match="avg_review_rating"):
        compare(config, other)

    shutil.rmtree(other.home)
    other = _copy(config, tmp_path)
    summary = json.loads(other.ingest_summary.read_text())
    summary["rows_duplicate"] += 1
    other.ingest_summary.write_text(json.dumps(summary))
    with pytest.raises(ResultsDiffer, match="rows_duplicate"):
        compare(config, other)

    shutil.rmtree(other.home)
    other = _copy(config, tmp_path)
    part = next(local_current_folder(other.processed_dir).glob("*.parquet"))
    duckdb.connect().execute(f"COPY (SELECT * REPLACE (age + 1 AS age) FROM read_parquet('{part}')) "
                             f"TO '{part}.new' (FORMAT parquet)")
    part.with_name(part.name + ".new").replace(part)
    with pytest.raises(ResultsDiffer, match="clean"):
        compare(config, other)


def test_results_table_goes_into_the_marked_section(tmp_path):
    phase = {"wall_s": 2.0, "rows_per_s": 500.0, "peak_rss_mib": 100.0, "cpu_s": 1.5}
    engine = {p: dict(phase) for p in ("startup", "ingest", "analyze", "end_to_end", "total")}
    report = {"cores": 2,
              "machine": {"cores": 2, "memory_gib": 24.0, "spark": "4.3.0", "duckdb": "1"},
              "sizes": [{"rows": 1000, "reps": 3, "measured": "now", "csv_mib": 0.1, "spark": engine, "duckdb": engine,
                         "load_average_1min": {"min": 1.0, "max": 2.0},
                         "ratio_spark_over_duckdb": {p: 1.0 for p in ("ingest", "analyze", "end_to_end", "total")}}]}
    doc = tmp_path / "bench.md"
    doc.write_text("# B\n\nintro\n<!-- bench:results:begin -->\nold\n<!-- bench:results:end -->\n\nnotes\n")
    update_doc(doc, markdown(report))
    text = doc.read_text()
    assert "old" not in text and "intro" in text and "notes" in text and "| 1,000 (3x, now) |" in text


def test_frames_compare_an_integer_column_with_its_float_spelling():
    """One engine may write 54619 where the other writes 54619.0 (e.g. DuckDB's HUGEINT sums): equal values
    pass, a changed value is still caught."""
    from benchmarks.compare import frames_equal

    spark_side = pd.DataFrame({"n": [54619, 9180], "share": [0.5, 0.25]})
    frames_equal(spark_side, pd.DataFrame({"n": [54619.0, 9180.0], "share": [0.5, 0.25]}), "q")
    with pytest.raises(ResultsDiffer, match="q.n"):
        frames_equal(spark_side, pd.DataFrame({"n": [54619.0, 9181.0], "share": [0.5, 0.25]}), "q")
