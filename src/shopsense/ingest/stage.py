"""`shopsense ingest`: raw CSV -> clean Parquet + quarantine + correlation reports + summary.

Order matters: the header is checked before anything is written; the rows are counted, and when more than
`max_quarantine_share` of them would be quarantined the run stops (the rejected rows are written to
`rejected_rows_dir`, nothing else is replaced); clean data and quarantine are staged, their written row
counts checked against the single aggregation, then both are swapped in together; the reports and
`ingest_summary.json` come last.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from shopsense import schema
from shopsense.config import Config
from shopsense.errors import ShopSenseError
from shopsense.io import Snapshot, stage_parquet, staged_outputs, write_json, write_parquet
from shopsense.ingest import correlation
from shopsense.ingest.read import CORRUPT_RECORD, Header, read_header, read_raw, source_file_column
from shopsense.ingest.split import (
    CLEAN, COPIES, QUARANTINED, STATUS, Counts, InvariantError, classify, count_outcomes, deduplicate,
)
from shopsense.ingest.validate import (
    REASON_BITS, REASONS, RULES, reasons_of, typed_column, typed_values, validate_and_type,
)

RAW_LINE = "raw_line"


NEW_VALUES_LISTED = 20  # per open-vocabulary column, the most frequent new values in the summary


def classified_rows(raw: DataFrame, absent: frozenset[str] = frozenset()) -> DataFrame:
    """Raw rows -> one row per distinct row, validated, typed and given its status (see `classify`).
    `absent`: contract columns the input lacks (read.Header.absent)."""
    return classify(validate_and_type(deduplicate(raw), absent))


def read_input(spark: SparkSession, config: Config, path: str, max_rows: int | None = None) -> tuple[Header, DataFrame]:
    """The checked header and the classified rows of an input (at most `max_rows` rows read): the one way
    `ingest` and `inspect` read a file."""
    header = read_header(spark, path, config.columns, config.input_delimiter, config.input_charset)
    raw = read_raw(spark, path, header)
    return header, classified_rows(raw if max_rows is None else raw.limit(max_rows), header.absent)


def new_values(classified: DataFrame) -> dict[str, dict[str, int]]:
    """Per open-vocabulary column, the values of clean rows outside its known vocabulary with their row
    counts (the NEW_VALUES_LISTED most frequent): one aggregation over the few new (column, value) pairs."""
    pairs = [F.when(~F.col(typed_column(c)).isin(*schema.VOCABULARIES[c]),
                    F.struct(F.lit(c).alias("column"), F.col(typed_column(c)).alias("value")))
             for c in schema.OPEN_VOCABULARIES]
    counts = (classified.where(F.col(STATUS) == CLEAN)
              .select(COPIES, F.explode(F.array_compact(F.array(*pairs))).alias("new"))
              .groupBy("new.column", "new.value").agg(F.sum(COPIES).alias("rows")))
    rank = F.row_number().over(Window.partitionBy("column").orderBy(F.desc("rows"), "value"))
    found: dict[str, dict[str, int]] = {}
    top = counts.withColumn("rank", rank).where(F.col("rank") <= NEW_VALUES_LISTED)
    for row in top.orderBy("column", "rank").collect():
        found.setdefault(row["column"], {})[row["value"]] = row["rows"]
    return found


_REASON_WORDS = {
    "malformed": "wrong number of fields", "missing": "empty", "non_numeric": "not a number",
    "non_integer": "not a whole number", "out_of_range": "out of range", "unknown": "not a known value",
    "non_boolean": "not yes/no", "mismatch": "item not in its category",
}


def describe_reasons(counts: Counts, top: int = 3) -> list[str]:
    """The `top` most frequent reasons, each with an example raw value:
    `purchase_amount_usd: 3,900 of 3,900 rows not a number, e.g. 'n/a'`."""
    kinds = {r.code: r for r in RULES}
    ranked = sorted(counts.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [f"{kinds[code].column or code}: {n:,} of {counts.rows_read:,} rows {_REASON_WORDS[kinds[code].kind]}, "
            f"e.g. {counts.examples.get(code, '')!r}" for code, n in ranked]


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest did; written as reports/ingest_summary.json (`to_dict`)."""
    input: str
    input_files: list[str]
    rows_read: int
    rows_clean: int
    rows_quarantined: int
    rows_duplicate: int
    reasons: dict[str, int]  # quarantined rows per reason code
    ignored_columns: list[str]  # file columns that match no contract column
    missing_columns: list[str]  # contract columns the file lacks (null in the processed data)
    columns: list[dict]  # per column: {"header", "column", "how"} (how: exact, normalised, mapped, missing, extra)
    normalised: dict[str, int]  # rows read per normalisation code (validate.NORMALISATIONS)
    new_values: dict[str, dict[str, int]]  # open-vocabulary column -> new value -> clean rows
    correlation: dict
    outputs: dict[str, str]
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def clean_rows(classified: DataFrame) -> DataFrame:
    """The clean rows in the processed layout (schema.PROCESSED_SCHEMA)."""
    return classified.where(F.col(STATUS) == CLEAN).select(*typed_values())


def quarantined_rows(classified: DataFrame, sources: tuple[str, ...]) -> DataFrame:
    """Rejected rows as read (string values, snake_case names): their file (`sources`: read.Header.sources),
    the raw line of malformed rows, the reasons."""
    return classified.where(F.col(STATUS) == QUARANTINED).select(
        source_file_column(sources), *schema.PROCESSED_COLUMNS, F.col(CORRUPT_RECORD).alias(RAW_LINE),
        reasons_of(REASON_BITS).alias(REASONS))


def ingest(spark: SparkSession, config: Config, input_path: str | Path | None = None) -> IngestSummary:
    """Run the ingestion; return the summary (also written to config.ingest_summary)."""
    started = time.perf_counter()
    path = str(input_path or config.default_raw_csv)
    header, classified = read_input(spark, config, path)  # the header is checked before anything is written
    classified = classified.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = count_outcomes(classified)
        _guard_quarantine_share(config, path, counts, quarantined_rows(classified, header.sources))
        found = new_values(classified)
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
    summary = IngestSummary(
        input=path,
        input_files=list(header.files),
        rows_read=counts.rows_read,
        rows_clean=counts.rows_clean,
        rows_quarantined=counts.rows_quarantined,
        rows_duplicate=counts.rows_duplicate,
        reasons=counts.reasons,
        ignored_columns=list(header.ignored),
        missing_columns=sorted(header.absent, key=schema.PROCESSED_COLUMNS.index),
        columns=[asdict(m) for m in header.match.matches],
        normalised=counts.normalised,
        new_values=found,
        correlation=corr.to_dict(),
        outputs={
            "processed": str(config.processed_dir),
            "quarantine": str(config.quarantine_rows_dir),
            "correlation_csv": str(config.correlation_csv),
            "correlation_json": str(config.correlation_json),
            "correlation_png": str(config.correlation_png),
            "summary": str(config.ingest_summary),
        },
        seconds=round(time.perf_counter() - started, 2),
    )
    write_json(summary.to_dict(), config.ingest_summary)
    return summary


def _guard_quarantine_share(config: Config, path: str, counts: Counts, rejected: DataFrame) -> None:
    """Stop before any output is replaced when more than `max_quarantine_share` of the rows read would be
    quarantined (a wrong delimiter, encoding or column, not bad rows): the rejected rows go to
    `rejected_rows_dir` for a look, the message names the top reasons with an example each."""
    share = counts.rows_quarantined / counts.rows_read if counts.rows_read else 0.0
    if share <= config.max_quarantine_share:
        return
    write_parquet(rejected, config.rejected_rows_dir)
    raise ShopSenseError(
        f"{path}: {counts.rows_quarantined:,} of {counts.rows_read:,} rows ({share:.0%}) would be quarantined, "
        f"more than max_quarantine_share = {config.max_quarantine_share}; nothing was replaced. Top reasons: "
        + "; ".join(describe_reasons(counts))
        + f". The rejected rows (Parquet, with reasons): {config.rejected_rows_dir}; "
        f"`shopsense inspect {path}` shows how each column was read.")


def _check_written(spark: SparkSession, counts: Counts, clean: Snapshot, quarantine: Snapshot) -> None:
    """The staged Parquet holds exactly the counted rows (a cheap footer-only count): no row lost."""
    written = {"rows_clean": spark.read.parquet(clean.location).count(),
               "rows_quarantined": spark.read.parquet(quarantine.location).count()}
    expected = {"rows_clean": counts.rows_clean, "rows_quarantined": counts.rows_quarantined}
    if written != expected:
        raise InvariantError(f"written rows {written} differ from the counted rows {expected}")
