"""The stream's file format, the file source, and parsing + validation against the data contract.

A stream file is a headered CSV: its columns are matched by their header names with the same rules and
`[columns]` mapping as batch ingestion (shopsense.ingest.columns), in any order, plus the event time
(`event_time`, `timestamp`, `event_timestamp` or `purchase_time`; ISO formats with or without fraction or
zone) and an optional `event_id` (when absent: the file's path and the line's number, the same on every
re-read, so a restart stays exactly once). The simulator writes schema.RAW_COLUMNS (less any column the
processed data holds no value for), `event_id`, `event_time`.

Each file is read whole (one row per file: its header travels with its lines, so every line is parsed by
its own file's header without a join), split into lines, and each line into its values. A line whose
field count differs from its header's, and every line of a file whose header lacks an essential column
(schema.ESSENTIAL_COLUMNS) or the event time, is a malformed row: counted, never an exception that kills
the stream. The delimiter is Config.input_delimiter, else `,`; files are UTF-8.
"""
from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from shopsense import schema
from shopsense.ingest.columns import (
    COLUMN_OF_KEY, EVENT_COLUMN_OF_KEY, EVENT_ID, EVENT_TIME, NOT_KEY_PATTERN, UNIT_PATTERN, mapping_keys,
)
from shopsense.ingest.read import BOM
from shopsense.ingest.validate import (
    REASON_BITS, present_bit, reason_mask, sql_string, typed_values, validate_and_type,
)
from shopsense.ingest.validate import RULES as CONTRACT_RULES

CORRUPT = "_corrupt_record"
STREAM_COLUMNS: tuple[str, ...] = schema.RAW_COLUMNS + (EVENT_ID, EVENT_TIME)
# Event times are written and parsed in UTC (the Spark session time zone) with milliseconds.
EVENT_TIME_PATTERN = "yyyy-MM-dd HH:mm:ss.SSS"  # Spark datetime pattern
EVENT_TIME_STRFTIME = "%Y-%m-%d %H:%M:%S.%f"  # Python; the simulator cuts microseconds to milliseconds
_FIELDS = "_fields"  # per line: its file's columns in header order (processed names; '' for an extra one)
_TOKENS = "_tokens"  # per line: its values in header order
_LINE_NUMBER = "_line_number"
_NAME_QUOTES = BOM + '|"'  # removed from header names before their key is taken

# Validation rules, each a boolean column `fail_<rule>` (true = the row breaks the rule).
RULES: tuple[str, ...] = (
    "malformed_row",  # wrong number of fields for its header, or a header without an essential column
    "missing_event_id",
    "bad_event_time",  # missing or not an ISO date-time
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
    """Text-source options shared by the streaming source and the batch oracle (so both read alike)."""
    return {
        "pathGlobFilter": "*.csv",  # only the simulator's files; never half-written temporary names
    }


def read_stream(spark, input_dir: str, trigger_limits: dict[str, str] | None = None) -> DataFrame:
    """The raw file stream: one row per file (`value`: its whole text, so the header travels with its lines)
    with the file's path and time. `trigger_limits`: the file source's maxFilesPerTrigger /
    maxBytesPerTrigger options, if any."""
    return _with_file_info(spark.readStream.options(**read_options(), **(trigger_limits or {}))
                           .text(input_dir, wholetext=True))


def read_batch(spark, input_dir: str) -> DataFrame:
    """The same files read as a static DataFrame (the batch oracle of the tests)."""
    return _with_file_info(spark.read.options(**read_options()).text(input_dir, wholetext=True))


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


def _header_fields(mapping: dict[str, str] | None, split_sep: str) -> str:
    """SQL: the first line's names as processed names ('' for an extra column), by header key
    (shopsense.ingest.columns: the same key patterns and mapping)."""
    keys = {**COLUMN_OF_KEY, **EVENT_COLUMN_OF_KEY, **mapping_keys(mapping)}
    key_map = "map(" + ", ".join(f"{sql_string(k)}, {sql_string(v)}" for k, v in keys.items()) + ")"
    name = f"lower(trim(regexp_replace(n, {sql_string(_NAME_QUOTES)}, '')))"
    key = f"regexp_replace(regexp_replace({name}, {sql_string(UNIT_PATTERN)}, ''), {sql_string(NOT_KEY_PATTERN)}, '')"
    return f"transform(split(lines[0], {split_sep}), n -> coalesce(try_element_at({key_map}, {key}), ''))"


def _index(name: str) -> str:
    """Name of the per-file column: where the file's header has column `name` (0-based; -1 = absent)."""
    return f"_index_{name}"


_PRESENT = "_present"  # per file: the contract columns its header has (validate.present_bit)
_COLUMNS = (*schema.PROCESSED_COLUMNS, EVENT_ID, EVENT_TIME)


def _lines(raw: DataFrame, mapping: dict[str, str] | None, delimiter: str) -> DataFrame:
    """One row per data line of each file: its values, trimmed and null when empty (`trimmed_text`), under
    the processed names, one `null_<column>` flag each, `_corrupt_record` (the line, when malformed), its
    event id (derived from the file's path and the line's number when the file has none) and event time.

    What depends on the header only (each column's position, the columns present, whether the essential
    ones are) is computed once per file, before the file is exploded into lines. A line that holds no
    double quote is split on the delimiter; another one on the delimiters outside double quotes (a regular
    expression, with a look-ahead per delimiter), then each value is unquoted: one array per line, computed
    once (`from_csv` into a wide struct made Spark plan one parse per extracted field, and the stream's
    plans took minutes). The values, flags and event columns are then one projection: Spark evaluates
    each value's trimmed text once for all of them (subexpression elimination)."""
    sep = re.escape(delimiter)
    split_sep = sql_string(sep)
    outside_quotes = sql_string(f'{sep}(?=(?:[^"]*"[^"]*")*[^"]*$)')
    unquoted = f"""regexp_replace(regexp_replace(trim(t), '^"(.*)"$', '$1'), '""', '"')"""
    required = " AND ".join(f"array_contains({_FIELDS}, {sql_string(c)})"
                            for c in (*schema.ESSENTIAL_COLUMNS, EVENT_TIME))
    present = " | ".join(f"IF(array_contains({_FIELDS}, {sql_string(c)}), {present_bit(c)}L, 0L)"
                         for c in schema.PROCESSED_COLUMNS)
    per_file = ("_header_ok", "_field_count", "_has_event_id", _PRESENT, *map(_index, _COLUMNS), FILE_PATH, FILE_TIME)

    def text(column: str) -> str:  # trimmed_text of the line's value of `column`
        value = f"trim(get({_TOKENS}, {_index(column)}))"
        return f"CASE WHEN {value} != '' THEN {value} END"

    derived_id = f"concat({FILE_PATH}, ':', CAST({_LINE_NUMBER} + 1 AS STRING))"
    return (
        raw.selectExpr("IF(contains(value, '\\r'), split(value, '\\r?\\n', -1), split(value, '\\n', -1)) AS lines",
                       FILE_PATH, FILE_TIME)
        .selectExpr("lines", f"{_header_fields(mapping, split_sep)} AS {_FIELDS}", FILE_PATH, FILE_TIME)
        .selectExpr(
            "lines", f"exists({_FIELDS}, f -> f != '') AS _is_header", f"({required}) AS _header_ok",
            f"size({_FIELDS}) AS _field_count", f"array_contains({_FIELDS}, {sql_string(EVENT_ID)}) AS _has_event_id",
            f"{present} AS {_PRESENT}",
            *[f"CAST(array_position({_FIELDS}, {sql_string(c)}) AS INT) - 1 AS {_index(c)}" for c in _COLUMNS],
            FILE_PATH, FILE_TIME)
        # posexplode_outer: posexplode would make Spark add a filter that splits each file a second time
        # (every file has a first line, so no row is added).
        .selectExpr(f"posexplode_outer(lines) AS ({_LINE_NUMBER}, line)", "_is_header", *per_file)
        # A first line that names no known column is not a header but a (malformed) line of its own.
        .where(f"({_LINE_NUMBER} > 0 OR NOT _is_header) AND trim(line) != ''")
        .selectExpr("*", f"IF(NOT contains(line, '\"'), split(line, {split_sep}, -1), "
                         f"transform(split(line, {outside_quotes}, -1), t -> {unquoted})) AS {_TOKENS}")
        .selectExpr(
            *[f"{text(c)} AS `{c}`" for c in schema.PROCESSED_COLUMNS],
            f"IF(_has_event_id, {text(EVENT_ID)}, {derived_id}) AS {EVENT_ID}",
            f"try_to_timestamp({text(EVENT_TIME)}) AS {EVENT_TIME}",
            *[f"{text(c)} IS NULL AS null_{c}" for c in _COLUMNS],
            f"IF(size({_TOKENS}) != _field_count OR NOT _header_ok, line, NULL) AS {CORRUPT}",
            _PRESENT, FILE_PATH, FILE_TIME)
    )


def parse_events(raw: DataFrame, mapping: dict[str, str] | None = None, delimiter: str | None = None) -> DataFrame:
    """Raw stream files -> typed rows (processed names) with one `fail_<rule>` flag per rule and `valid`.

    Every data line stays (header lines are dropped): invalid rows are kept, flagged, for the
    data-quality query; the window queries keep only `valid` rows. The contract columns are checked and
    typed exactly as by batch ingestion (normalised, vocabularies matched, a column the file lacks is null;
    an invalid value becomes null, never an error under ANSI mode). `mapping`: the `[columns]` table.
    """
    lines = _lines(raw, mapping, delimiter or ",")
    # reason bits and typed values from one parse; the values are trimmed texts already
    checked = validate_and_type(lines, present=_PRESENT, trimmed=True)
    return checked.select(
        EVENT_ID,
        EVENT_TIME,
        *typed_values(),
        *[F.coalesce(flag, F.lit(False)).alias(f"fail_{rule}") for rule, flag in _rule_flags().items()],
        *[f"null_{name}" for name in _COLUMNS],
        FILE_PATH,
        FILE_TIME,
        _valid(),
    )


def _rule_flags() -> dict[str, Column]:
    """Rule name -> a column that is true when the row breaks the rule (after `validate`)."""
    flags = {
        "missing_event_id": F.col(EVENT_ID).isNull(),
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
    return (F.col(EVENT_ID).isNotNull() & F.col(EVENT_TIME).isNotNull()
            & (F.col(REASON_BITS) == 0)).alias("valid")


def valid_events(parsed: DataFrame, watermark: str | None = None) -> DataFrame:
    """Only the rows that pass every rule, in the processed layout plus event_id/event_time.

    The watermark is declared here, after the validity filter, so that it advances on valid rows only
    (a row with a garbage event time can never move it); every window query and the data-quality
    query's late-row rule therefore see the same event times.
    """
    events = parsed.filter(F.col("valid")).select(EVENT_ID, EVENT_TIME, *schema.PROCESSED_COLUMNS)
    return events.withWatermark(EVENT_TIME, watermark) if watermark else events


def unreadable_input(spark, input_dir: str, mapping: dict[str, str] | None = None,
                     delimiter: str | None = None) -> str | None:
    """Why no line of the stream files in `input_dir` was valid, when there are lines and none was (a
    stream of another layout must not finish "cleanly" with nothing); None otherwise. A batch read of the
    files, only after the stream has stopped."""
    parsed = parse_events(read_batch(spark, input_dir), mapping, delimiter)
    if parsed.where("valid").isEmpty():
        counts = parsed.agg(F.count(F.lit(1)).alias("lines"), F.countDistinct(FILE_PATH).alias("files"),
                            *[F.count_if(f"fail_{rule}").alias(rule) for rule in RULES]).first()
        if counts["lines"]:
            failed = ", ".join(f"{rule} {counts[rule]:,}" for rule in RULES if counts[rule])
            return (f"no line of the {counts['files']:,} stream file(s) in {input_dir} is valid "
                    f"({counts['lines']:,} lines: {failed}); a header needs "
                    f"{', '.join(schema.ESSENTIAL_COLUMNS)} and an event time column (docs/ingest.md)")
    return None
