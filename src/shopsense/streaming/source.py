"""The stream's file format, the file source, and parsing + validation against the data contract.

A stream file is a headered CSV whose columns are the contract's raw columns (schema.RAW_COLUMNS, as
strings) followed by `event_id` and `event_time`. It is read with an explicit all-string schema (never
inferred) plus a corrupt-record column, in PERMISSIVE mode, so a malformed line or file becomes a counted
row instead of an exception that kills the stream. Header lines are recognised and dropped explicitly
(rather than with header=true, which would silently skip the first line of a file that has no header).
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from shopsense import schema
from shopsense.ingest.validate import REASON_BITS, reason_mask, trimmed_text, typed_values, validate_and_type
from shopsense.ingest.validate import RULES as CONTRACT_RULES

EVENT_ID = "event_id"
EVENT_TIME = "event_time"
CORRUPT = "_corrupt_record"
STREAM_COLUMNS: tuple[str, ...] = schema.RAW_COLUMNS + (EVENT_ID, EVENT_TIME)
# Event times are written and parsed in UTC (the Spark session time zone) with milliseconds.
EVENT_TIME_PATTERN = "yyyy-MM-dd HH:mm:ss.SSS"  # Spark datetime pattern
EVENT_TIME_STRFTIME = "%Y-%m-%d %H:%M:%S.%f"  # Python; the simulator cuts microseconds to milliseconds

STREAM_SCHEMA = StructType(
    [StructField(name, StringType(), nullable=True) for name in STREAM_COLUMNS]
    + [StructField(CORRUPT, StringType(), nullable=True)]
)

# Validation rules, each a boolean column `fail_<rule>` (true = the row breaks the rule).
RULES: tuple[str, ...] = (
    "malformed_row",  # wrong number of fields: the CSV line does not fit the stream schema
    "missing_event_id",
    "bad_event_time",  # missing or not in EVENT_TIME_PATTERN
    "missing_value",  # a contract column is empty
    "not_a_number",  # a numeric column holds text
    "out_of_range",  # a numeric value outside schema.NUMERIC_RANGES
    "unknown_value",  # a value outside the column's vocabulary (schema.VOCABULARIES)
    "bad_boolean",  # a Yes/No column holds something else
    "item_category_mismatch",  # the item does not belong to the category (schema.CATEGORY_OF_ITEM)
)
FILE_PATH = "file_path"
FILE_TIME = "file_time"  # modification time of the file = when it landed in the folder


def read_options() -> dict[str, str]:
    """CSV options shared by the streaming source and the batch oracle (so both parse alike)."""
    return {
        "header": "false",
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": CORRUPT,
        "pathGlobFilter": "*.csv",  # only the simulator's files; never half-written temporary names
        "encoding": "UTF-8",
    }


def read_stream(spark, input_dir: str, trigger_limits: dict[str, str] | None = None) -> DataFrame:
    """The raw file stream: all-string columns, the corrupt-record column and the file's path and time.

    `trigger_limits`: the file source's maxFilesPerTrigger / maxBytesPerTrigger options, if any."""
    return _with_file_info(
        spark.readStream.schema(STREAM_SCHEMA).options(**read_options(), **(trigger_limits or {})).csv(input_dir)
    )


def read_batch(spark, input_dir: str) -> DataFrame:
    """The same files read as a static DataFrame (the batch oracle of the tests)."""
    return _with_file_info(spark.read.schema(STREAM_SCHEMA).options(**read_options()).csv(input_dir))


def _with_file_info(df: DataFrame) -> DataFrame:
    return df.select(
        "*",
        F.col("_metadata.file_path").alias(FILE_PATH),
        F.col("_metadata.file_modification_time").alias(FILE_TIME),
    )


# --- parsing and validation (pure DataFrame -> DataFrame) ------------------------------------------------
# The data contract is checked by the SAME rules as batch ingestion (shopsense.ingest.validate), so a row
# is valid in the stream exactly when `shopsense ingest` would keep it. The stream reports them grouped
# by kind (one data-quality column per group), plus its own two rules on the event columns.
CONTRACT_RULE_KINDS: dict[str, tuple[str, ...]] = {
    "malformed_row": ("malformed",),
    "missing_value": ("missing",),
    "not_a_number": ("non_numeric", "non_integer"),
    "out_of_range": ("out_of_range",),
    "unknown_value": ("unknown",),
    "bad_boolean": ("non_boolean",),
    "item_category_mismatch": ("mismatch",),
}


def _key(name: str) -> str:
    """Column name after parsing: the processed name of a contract column, else the name itself."""
    return schema.RAW_TO_PROCESSED.get(name, name)


def _text(name: str) -> Column:
    return F.expr(trimmed_text(name))


def _rule_flags() -> dict[str, Column]:
    """Rule name -> a column that is true when the row breaks the rule (after `validate`)."""
    flags = {
        "missing_event_id": F.col(f"s_{EVENT_ID}").isNull(),
        "bad_event_time": F.col(EVENT_TIME).isNull(),
    }
    for rule, kinds in CONTRACT_RULE_KINDS.items():
        codes = [r.code for r in CONTRACT_RULES if r.kind in kinds]
        flags[rule] = F.col(REASON_BITS).bitwiseAND(F.lit(reason_mask(codes))) != 0
    return {rule: flags[rule] for rule in RULES}


def _valid() -> Column:
    """`valid`: the row breaks no rule, i.e. it has an event id and time and no contract reason (every
    contract rule belongs to a group of CONTRACT_RULE_KINDS). Written from the reason bits directly rather
    than as NOT of the `fail_` flags: the filter on it is pushed below the projection, and each flag would
    inline the whole reasons expression into it again (sales_kpis' optimized plan: 67,273 -> 12,155
    characters; its planning time per micro-batch fell 4-5x, docs/streaming.md)."""
    return (F.col(f"s_{EVENT_ID}").isNotNull() & F.col(EVENT_TIME).isNotNull()
            & (F.col(REASON_BITS) == 0)).alias("valid")


def is_header() -> Column:
    """A header line of a stream file (every file starts with one)."""
    return F.expr(f"coalesce(`{EVENT_ID}` = '{EVENT_ID}' AND `{EVENT_TIME}` = '{EVENT_TIME}' "
                  f"AND `{schema.RAW_COLUMNS[0]}` = '{schema.RAW_COLUMNS[0]}', false)")


def parse_events(raw: DataFrame) -> DataFrame:
    """Raw stream rows -> typed rows (processed names) with one `fail_<rule>` flag per rule and `valid`.

    Every data line stays (header lines are dropped): invalid rows are kept, flagged, for the
    data-quality query; the window queries keep only `valid` rows. The contract columns are checked and
    typed exactly as by batch ingestion (trimmed, vocabulary matched case-insensitively; an invalid value
    becomes null, never an error under ANSI mode).
    """
    lines = raw.filter(~is_header()).select(
        *[F.col(f"`{name}`").alias(_key(name)) for name in schema.RAW_COLUMNS],
        _text(EVENT_ID).alias(f"s_{EVENT_ID}"),
        F.try_to_timestamp(_text(EVENT_TIME), F.lit(EVENT_TIME_PATTERN)).alias(EVENT_TIME),
        *[_text(name).isNull().alias(f"null_{_key(name)}") for name in STREAM_COLUMNS],
        CORRUPT, FILE_PATH, FILE_TIME,
    )
    checked = validate_and_type(lines)  # reason bits and typed values from one parse
    return checked.select(
        F.col(f"s_{EVENT_ID}").alias(EVENT_ID),
        EVENT_TIME,
        *typed_values(),
        *[F.coalesce(flag, F.lit(False)).alias(f"fail_{rule}") for rule, flag in _rule_flags().items()],
        *[f"null_{_key(name)}" for name in STREAM_COLUMNS],
        FILE_PATH,
        FILE_TIME,
        _valid(),
    )


def valid_events(parsed: DataFrame, watermark: str | None = None) -> DataFrame:
    """Only the rows that pass every rule, in the processed layout plus event_id/event_time.

    The watermark is declared here, after the validity filter, so that it advances on valid rows only
    (a row with a garbage event time can never move it); every window query and the data-quality
    query's late-row rule therefore see the same event times.
    """
    events = parsed.filter(F.col("valid")).select(EVENT_ID, EVENT_TIME, *schema.PROCESSED_COLUMNS)
    return events.withWatermark(EVENT_TIME, watermark) if watermark else events
