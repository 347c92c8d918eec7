"""`shopsense run`: every stage in order, counts that add up, a safe re-run, a failing stage named."""
from __future__ import annotations

from pathlib import Path
import io
import json

import pandas as pd
import pytest
from rich.console import Console

from shopsense.generate import generate
from shopsense.run import STAGE_NAMES, StageFailed, run_stages
from shopsense.io import local_current_folder
from tests.conftest import PIPELINE_DIRTY, PIPELINE_ROWS

pytestmark = pytest.mark.slow


def run(config, **kwargs) -> tuple[dict, str]:
    out = io.StringIO()
    results = run_stages(config, console=Console(file=out, width=240), **kwargs)
    return results, out.getvalue()


def stream_output_digest(folder: Path):
    """What a re-run of the stream demo must reproduce of one durable output. The data-quality query writes
    one row per (micro-batch, window), and how Spark cuts the files into micro-batches may differ between
    runs, so for it the totals of rows seen and invalid are compared; the other outputs by their rows."""
    frame = pd.read_parquet(folder)
    if folder.name == "data_quality":
        return int(frame["rows_seen"].sum()), int(frame["rows_invalid"].sum())
    return len(frame)


def snapshot(config) -> dict:
    """The outputs a re-run must reproduce exactly (row order is not part of the contract)."""
    clean = pd.read_parquet(local_current_folder(config.processed_dir))
    queries = {p.name: p.read_text() for p in sorted(config.queries_dir.glob("*.csv"))}
    kpis = json.loads(config.kpis_json.read_text())
    summary = json.loads(config.ingest_summary.read_text())
    summary.pop("seconds")  # wall time: differs between runs
    streams = {p.name: stream_output_digest(p) for p in sorted(Path(config.stream_output_dir).iterdir())}
    return {"clean": clean.sort_values(list(clean.columns)).reset_index(drop=True), "queries": queries,
            "kpis": kpis, "ingest": summary, "streams": streams}


@pytest.fixture(scope="module")
def first_run(pipeline_run):
    """The session's pipeline run (tests/conftest.py) and a snapshot of its outputs."""
    config, results, text = pipeline_run
    return config, results, text, snapshot(config)


def test_all_stages_run_in_order_and_the_counts_add_up(first_run):
    config, results, text, snap = first_run
    assert list(results) == list(STAGE_NAMES)
    assert results["generate"].rows_out == PIPELINE_ROWS
    assert results["ingest"].rows_in == PIPELINE_ROWS
    assert results["analyze"].rows_in == results["ingest"].rows_out == len(snap["clean"])
    summary = snap["ingest"]
    assert summary["rows_read"] == PIPELINE_ROWS
    assert summary["rows_clean"] + summary["rows_quarantined"] + summary["rows_duplicate"] == PIPELINE_ROWS
    kinds = generate(PIPELINE_ROWS, config.default_seed, dirty_fraction=PIPELINE_DIRTY).dirty_kinds
    planted = sum(kinds.values())
    assert planted == round(PIPELINE_ROWS * PIPELINE_DIRTY) and kinds["duplicate_row"] > 0
    assert f"{PIPELINE_ROWS:,} rows (seed {config.default_seed}, {planted:,} of them bad)" in text
    # every planted bad row is quarantined, every planted copy counted as a duplicate
    assert summary["rows_duplicate"] == kinds["duplicate_row"]
    assert summary["rows_quarantined"] == planted - kinds["duplicate_row"]
    assert len(pd.read_parquet(local_current_folder(config.quarantine_rows_dir))) == summary["rows_quarantined"]
    assert results["stream"].rows_in == 6 * 500
    trained = "\n".join(results["train"].notes)
    for name in ("promo: serving ", "season: serving ", "recommender: serving "):
        assert name in trained
    assert trained.count(" vs ") == 3  # every model's test metric next to its baseline
    for name in ("promo", "season", "recommender"):
        assert Path(config.model_dir(name), "metrics.json").exists()
    assert "ShopSense run summary" in text
    assert f"shopsense --home {config.home} app" in text
    assert str(config.report_html) in text and config.report_html.exists()


def test_rerun_is_idempotent(first_run):
    config, _, _, snap = first_run
    before = dict(snap)
    run(config, skip=["train"])
    after = snapshot(config)
    pd.testing.assert_frame_equal(before.pop("clean"), after.pop("clean"))
    assert before == after


def test_a_failing_stage_is_named_and_earlier_outputs_stay_valid(first_run, tmp_path):
    config, _, _, before = first_run
    bad = tmp_path / "bad.csv"
    bad.write_text("Customer ID,Age\n1,30\n")
    with pytest.raises(StageFailed, match="stage 'ingest' failed: .*missing required column"):
        run(config, input_csv=bad, only=["ingest", "analyze"])
    pd.testing.assert_frame_equal(
        before["clean"], pd.read_parquet(local_current_folder(config.processed_dir)).sort_values(list(before["clean"].columns))
        .reset_index(drop=True))


def test_unknown_stage_is_one_clear_line(tmp_path, shopsense_in_process):
    out = shopsense_in_process("--home", tmp_path, "run", "--only", "bogus")
    assert out.returncode == 2
    assert "unknown stage 'bogus'" in out.stderr and "Traceback" not in out.stderr


def test_run_takes_a_glob_like_ingest(spark, config, tmp_path):
    """--input is any input `shopsense ingest` takes (here a glob over two files), not only one file."""
    from shopsense.generate import generate, write_csv

    for name, seed in (("a.csv", 1), ("b.csv", 2)):
        write_csv(generate(30, seed), tmp_path / "in" / name)
    results, _ = run(config, input_csv=str(tmp_path / "in" / "*.csv"), only=["ingest"])
    assert results["ingest"].rows_in == 60


def test_missing_input_is_one_clear_line_before_spark(tmp_path, shopsense_in_process):
    out = shopsense_in_process("--home", tmp_path, "run", "--input", tmp_path / "nope.csv")
    assert out.returncode == 2
    assert f"input not found: {tmp_path / 'nope.csv'}" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "logs").exists()  # no Spark session was started
