"""`shopsense ingest`: raw CSV -> clean Parquet + quarantine + correlation reports + summary.

Order matters: the header is checked before anything is written; clean data and quarantine are staged,
their written row counts checked against the single aggregation, then both are swapped in together; the
reports and `ingest_summary.json` come last.
"""
from __future__ import annotations

import time
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shopsense import schema
from shopsense.config import Config
from shopsense.io import Snapshot, stage_parquet, staged_outputs, write_json
from shopsense.ingest import correlation
from shopsense.ingest.read import CORRUPT_RECORD, read_header, read_raw, source_file_column
from shopsense.ingest.split import (
    CLEAN, QUARANTINED, STATUS, Counts, InvariantError, classify, count_outcomes, deduplicate,
)
from shopsense.ingest.validate import REASON_BITS, REASONS, reasons_of, typed_values, validate_and_type

RAW_LINE = "raw_line"


def classified_rows(raw: DataFrame) -> DataFrame:
    """Raw rows -> one row per distinct row, validated, typed and given its status (see `classify`)."""
    return classify(validate_and_type(deduplicate(raw)))


def clean_rows(classified: DataFrame) -> DataFrame:
    """The clean rows in the processed layout (schema.PROCESSED_SCHEMA)."""
    return classified.where(F.col(STATUS) == CLEAN).select(*typed_values())


def quarantined_rows(classified: DataFrame, sources: tuple[str, ...]) -> DataFrame:
    """Rejected rows as read (string values, snake_case names): their file (`sources`: read.Header.sources),
    the raw line of malformed rows, the reasons."""
    return classified.where(F.col(STATUS) == QUARANTINED).select(
        source_file_column(sources), *schema.PROCESSED_COLUMNS, F.col(CORRUPT_RECORD).alias(RAW_LINE),
        reasons_of(REASON_BITS).alias(REASONS))


def ingest(spark: SparkSession, config: Config, input_path: str | Path | None = None) -> dict:
    """Run the ingestion; return the summary (also written to config.ingest_summary)."""
    started = time.perf_counter()
    path = str(input_path or config.default_raw_csv)
    header = read_header(spark, path)  # raises ShopSenseError before anything is written
    classified = classified_rows(read_raw(spark, path, header)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = count_outcomes(classified)
        with staged_outputs(spark) as staged:
            clean_stage = stage_parquet(clean_rows(classified), config.processed_dir)
            staged.append(clean_stage)
            quarantine_stage = stage_parquet(quarantined_rows(classified, header.sources), config.quarantine_rows_dir)
            staged.append(quarantine_stage)
            _check_written(spark, counts, clean_stage, quarantine_stage)
            corr = correlation.correlations(spark.read.parquet(clean_stage.location), config.correlation_threshold)
    finally:
        classified.unpersist()

    correlation.write_csv(corr, config.correlation_csv)
    write_json(corr.to_dict(), config.correlation_json)
    correlation.write_heatmap(corr, config.correlation_png)
    summary = {
        "input": path,
        "input_files": list(header.files),
        "rows_read": counts.rows_read,
        "rows_clean": counts.rows_clean,
        "rows_quarantined": counts.rows_quarantined,
        "rows_duplicate": counts.rows_duplicate,
        "reasons": counts.reasons,
        "ignored_columns": list(header.ignored),
        "correlation": corr.to_dict(),
        "outputs": {
            "processed": str(config.processed_dir),
            "quarantine": str(config.quarantine_rows_dir),
            "correlation_csv": str(config.correlation_csv),
            "correlation_json": str(config.correlation_json),
            "correlation_png": str(config.correlation_png),
            "summary": str(config.ingest_summary),
        },
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json(summary, config.ingest_summary)
    return summary


def _check_written(spark: SparkSession, counts: Counts, clean: Snapshot, quarantine: Snapshot) -> None:
    """The staged Parquet holds exactly the counted rows (a cheap footer-only count): no row lost."""
    written = {"rows_clean": spark.read.parquet(clean.location).count(),
               "rows_quarantined": spark.read.parquet(quarantine.location).count()}
    expected = {"rows_clean": counts.rows_clean, "rows_quarantined": counts.rows_quarantined}
    if written != expected:
        raise InvariantError(f"written rows {written} differ from the counted rows {expected}")
