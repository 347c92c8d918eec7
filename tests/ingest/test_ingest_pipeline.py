"""End-to-end ingestion on real sample rows and on generated dirty data."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from shopsense import schema
from shopsense.config import load_config
from shopsense.errors import ShopSenseError
from shopsense.io import SNAPSHOTS, current_location, list_names
from shopsense.generate import generate, generate_frame, to_processed_frame, write_csv
from shopsense.ingest import stage
from shopsense.ingest.stage import RAW_LINE, ingest
from shopsense.ingest.validate import REASONS

SAMPLE_CSV = Path(__file__).parents[1] / "fixtures" / "shopping_sample.csv"
pytestmark = pytest.mark.slow

# The reason code each dirty kind of the generator must produce.
EXPECTED_REASON = {
    "non_numeric_amount": "non_numeric_purchase_amount_usd",
    "missing_field": "missing_gender",
    "unknown_category": "unknown_category",
    "item_category_mismatch": "item_category_mismatch",
    "age_out_of_range": "age_out_of_range",
    "rating_out_of_range": "review_rating_out_of_range",
    "extra_column": "malformed_row",
    "missing_column": "malformed_row",
}


def invariant_holds(summary: stage.IngestSummary) -> bool:
    return summary.rows_read == summary.rows_clean + summary.rows_quarantined + summary.rows_duplicate


@pytest.fixture(scope="module")
def dirty(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("dirty")
    config = load_config(home=home)
    generated = generate(3000, seed=5, dirty_fraction=0.03)
    path = write_csv(generated, home / "dirty.csv")
    return config, generated, ingest(spark, config, path)


def test_dirty_rows_counts_and_invariant(dirty):
    _, generated, summary = dirty
    kinds = generated.dirty_kinds
    assert all(n > 0 for n in kinds.values()), kinds
    assert invariant_holds(summary)
    assert summary.rows_read == 3000
    assert summary.rows_duplicate == kinds["duplicate_row"]
    assert summary.rows_quarantined == sum(n for kind, n in kinds.items() if kind != "duplicate_row")
    expected = {}
    for kind, reason in EXPECTED_REASON.items():
        expected[reason] = expected.get(reason, 0) + kinds[kind]
    expected["missing_frequency_of_purchases"] = kinds["missing_column"]  # the dropped last field
    assert summary.reasons == expected


def test_quarantine_keeps_original_values_and_reasons(spark, dirty):
    config, generated, summary = dirty
    quarantine = spark.read.parquet(current_location(spark, config.quarantine_rows_dir))
    assert quarantine.count() == summary.rows_quarantined
    rows = [r.asDict() for r in quarantine.collect()]
    amounts = {r["purchase_amount_usd"] for r in rows if "non_numeric_purchase_amount_usd" in r[REASONS]}
    assert amounts == {"forty-two"}
    assert {r["age"] for r in rows if "age_out_of_range" in r[REASONS]} == {"250"}
    malformed = [r for r in rows if "malformed_row" in r[REASONS]]
    assert malformed and all(r[RAW_LINE] in generated.lines for r in malformed)
    assert all(r[RAW_LINE] is None for r in rows if "malformed_row" not in r[REASONS])


def test_clean_output_has_the_processed_schema(spark, dirty):
    config, _, summary = dirty
    clean = spark.read.parquet(current_location(spark, config.processed_dir))
    assert [(f.name, f.dataType) for f in clean.schema] == [(f.name, f.dataType) for f in schema.PROCESSED_SCHEMA]
    nulls = clean.select([F.sum(F.col(c).isNull().cast("int")).alias(c) for c in clean.columns]).first()
    assert clean.count() == summary.rows_clean and not any(nulls)
    # no exact duplicate survives
    assert clean.distinct().count() == summary.rows_clean


def test_reports_and_summary_are_written(dirty):
    config, _, summary = dirty
    assert json.loads(config.ingest_summary.read_text()) == json.loads(json.dumps(summary.to_dict()))
    for key in ("correlation_csv", "correlation_json", "correlation_png"):
        assert Path(summary.outputs[key]).stat().st_size > 0
    corr = summary.correlation
    assert corr["rows"] == summary.rows_clean and corr["features"] == list(schema.NUMERIC_COLUMNS)
    assert corr["pearson"][0][0] == pytest.approx(1.0)


def test_real_sample_rows_are_all_clean_and_exact(spark, config):
    summary = ingest(spark, config, SAMPLE_CSV)
    expected = to_processed_frame(pd.read_csv(SAMPLE_CSV, dtype={"Purchase Amount (USD)": float}))
    assert (summary.rows_read, summary.rows_quarantined, summary.rows_duplicate) == (len(expected), 0, 0)
    assert summary.reasons == {} and summary.ignored_columns == []
    actual = spark.read.parquet(current_location(spark, config.processed_dir))
    assertDataFrameEqual(actual, spark.createDataFrame(expected, schema.PROCESSED_SCHEMA))


def test_missing_column_stops_before_writing_anything(spark, config):
    frame = generate_frame(20, seed=1).drop(columns=["Category"])
    path = config.home / "in" / "no_category.csv"
    path.parent.mkdir()
    frame.to_csv(path, index=False)
    with pytest.raises(ShopSenseError, match="'Category'"):
        ingest(spark, config, path)
    assert sorted(p.name for p in config.home.iterdir()) == ["in"]


def test_header_only_file_gives_an_empty_valid_run(spark, config):
    path = write_csv(generate(0), config.home / "empty.csv")
    summary = ingest(spark, config, path)
    assert (summary.rows_read, summary.rows_clean, summary.rows_quarantined) == (0, 0, 0)
    assert "fewer than 2" in summary.correlation["note"]
    assert spark.read.parquet(current_location(spark, config.processed_dir)).count() == 0


def test_failed_run_keeps_previous_output_and_rerun_is_idempotent(spark, config, monkeypatch):
    # BOM + CRLF + an extra column of the public variant: same clean result as the plain sample.
    lines = SAMPLE_CSV.read_text().splitlines()
    lines = [lines[0] + ",Preferred Payment Method"] + [line + ",Cash" for line in lines[1:]]
    variant = config.home / "variant.csv"
    variant.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    first = ingest(spark, config, variant)
    assert first.rows_quarantined == 0 and first.ignored_columns == ["Preferred Payment Method"]
    before = spark.read.parquet(current_location(spark, config.processed_dir)).toPandas()

    def broken(*args, **kwargs):
        raise RuntimeError("simulated crash after staging")

    monkeypatch.setattr(stage.correlation, "correlations", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        ingest(spark, config, write_csv(generate(50, seed=9), config.home / "other.csv"))
    monkeypatch.undo()
    pd.testing.assert_frame_equal(spark.read.parquet(current_location(spark, config.processed_dir)).toPandas(), before)
    assert json.loads(config.ingest_summary.read_text())["rows_read"] == first.rows_read
    assert len(list_names(spark, f"{config.processed_dir}/{SNAPSHOTS}")) == 1  # the crashed run's snapshot is gone

    again = ingest(spark, config, variant)
    assert again.rows_clean == first.rows_clean
    assert spark.read.parquet(current_location(spark, config.processed_dir)).count() == first.rows_clean  # no duplication
