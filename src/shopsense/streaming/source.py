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
from pyspark.sql.types import BooleanType, StringType, StructField, StructType

from shopsense import schema

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


def read_options(max_files_per_trigger: int | None = None) -> dict[str, str]:
    """CSV options shared by the streaming source and the batch oracle (so both parse alike)."""
    options = {
        "header": "false",
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": CORRUPT,
        "pathGlobFilter": "*.csv",  # only the simulator's files; never half-written temporary names
        "encoding": "UTF-8",
    }
    if max_files_per_trigger:
        options["maxFilesPerTrigger"] = str(max_files_per_trigger)
    return options


def read_stream(spark, input_dir: str, max_files_per_trigger: int) -> DataFrame:
    """The raw file stream: all-string columns, the corrupt-record column and the file's path and time."""
    return _with_file_info(
        spark.readStream.schema(STREAM_SCHEMA).options(**read_options(max_files_per_trigger)).csv(input_dir)
    )


def read_batch(spark, input_dir: str) -> DataFrame:
    """The same files read as a static DataFrame (the oracle of the tests and the benchmark)."""
    return _with_file_info(spark.read.schema(STREAM_SCHEMA).options(**read_options()).csv(input_dir))


def _with_file_info(df: DataFrame) -> DataFrame:
    return df.select(
        "*",
        F.col("_metadata.file_path").alias(FILE_PATH),
        F.col("_metadata.file_modification_time").alias(FILE_TIME),
    )


# --- parsing and validation (pure DataFrame -> DataFrame) ------------------------------------------------
# The expressions are SQL text: one call into the JVM per column instead of one per literal (the
# vocabularies are long), which keeps building and re-planning every micro-batch cheap.
def _key(name: str) -> str:
    """Column name after parsing: the processed name of a contract column, else the name itself."""
    return schema.RAW_TO_PROCESSED.get(name, name)


def _sql_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _typed_sql(column: schema.Column) -> str:
    text = f"s_{column.name}"
    if isinstance(column.dtype, StringType):
        return text
    if isinstance(column.dtype, BooleanType):
        return (f"CASE WHEN lower({text}) IN ({_sql_list(schema.TRUE_VALUES)}) THEN true "
                f"WHEN lower({text}) IN ({_sql_list(schema.FALSE_VALUES)}) THEN false END")
    return f"try_cast({text} AS {column.dtype.simpleString()})"


def _any_sql(conditions) -> str:
    return " OR ".join(f"coalesce({c}, false)" for c in conditions)


def _rule_sql() -> dict[str, str]:
    """Rule name -> SQL that is true when the row breaks the rule (on the trimmed and typed columns)."""
    numeric = [c.name for c in schema.COLUMNS if not isinstance(c.dtype, (StringType, BooleanType))]
    pairs = _sql_list(f"{item}|{category}" for item, category in schema.CATEGORY_OF_ITEM.items())
    return {
        "malformed_row": f"{CORRUPT} IS NOT NULL",
        "missing_event_id": f"s_{EVENT_ID} IS NULL",
        "bad_event_time": f"{EVENT_TIME} IS NULL",
        "missing_value": _any_sql(f"s_{c.name} IS NULL" for c in schema.COLUMNS),
        "not_a_number": _any_sql(f"s_{name} IS NOT NULL AND {name} IS NULL" for name in numeric),
        "out_of_range": _any_sql(f"NOT ({name} BETWEEN {low!r} AND {high!r})"
                                 for name, (low, high) in schema.NUMERIC_RANGES.items()),
        "unknown_value": _any_sql(f"NOT ({name} IN ({_sql_list(vocabulary)}))"
                                  for name, vocabulary in schema.VOCABULARIES.items()),
        "bad_boolean": _any_sql(f"s_{name} IS NOT NULL AND {name} IS NULL" for name in schema.BOOLEAN_COLUMNS),
        "item_category_mismatch": _any_sql([
            f"category IN ({_sql_list(schema.CATEGORIES)}) AND item_purchased IN ({_sql_list(schema.ITEMS)}) "
            f"AND NOT (concat(item_purchased, '|', category) IN ({pairs}))"]),
    }


def is_header() -> Column:
    """A header line of a stream file (every file starts with one)."""
    return F.expr(f"coalesce(`{EVENT_ID}` = '{EVENT_ID}' AND `{EVENT_TIME}` = '{EVENT_TIME}' "
                  f"AND `{schema.RAW_COLUMNS[0]}` = '{schema.RAW_COLUMNS[0]}', false)")


def parse_events(raw: DataFrame) -> DataFrame:
    """Raw stream rows -> typed rows (processed names) with one `fail_<rule>` flag per rule and `valid`.

    Every data line stays (header lines are dropped): invalid rows are kept, flagged, for the
    data-quality query; the window queries keep only `valid` rows. Values are trimmed; an empty value is
    missing; numbers that do not parse become null (try_cast: never an error under ANSI mode).
    """
    trimmed = raw.filter(~is_header()).select(
        *[F.expr(f"nullif(trim(`{name}`), '')").alias(f"s_{_key(name)}") for name in STREAM_COLUMNS],
        CORRUPT, FILE_PATH, FILE_TIME,
    )
    typed = trimmed.select(
        "*",
        F.expr(f"try_to_timestamp(s_{EVENT_TIME}, '{EVENT_TIME_PATTERN}')").alias(EVENT_TIME),
        *[F.expr(_typed_sql(c)).alias(c.name) for c in schema.COLUMNS],
    )
    flagged = typed.select(
        F.col(f"s_{EVENT_ID}").alias(EVENT_ID),
        EVENT_TIME,
        *schema.PROCESSED_COLUMNS,
        *[F.expr(f"coalesce({sql}, false)").alias(f"fail_{rule}") for rule, sql in _rule_sql().items()],
        *[F.expr(f"s_{_key(name)} IS NULL").alias(f"null_{_key(name)}") for name in STREAM_COLUMNS],
        FILE_PATH,
        FILE_TIME,
    )
    return flagged.withColumn("valid", F.expr(" AND ".join(f"NOT fail_{rule}" for rule in RULES)))


def valid_events(parsed: DataFrame, watermark: str | None = None) -> DataFrame:
    """Only the rows that pass every rule, in the processed layout plus event_id/event_time.

    The watermark is declared here, after the validity filter, so that it advances on valid rows only
    (a row with a garbage event time can never move it); every window query and the data-quality
    query's late-row rule therefore see the same event times.
    """
    events = parsed.filter(F.col("valid")).select(EVENT_ID, EVENT_TIME, *schema.PROCESSED_COLUMNS)
    return events.withWatermark(EVENT_TIME, watermark) if watermark else events
