"""Reading the raw CSV: header check first, then every column as a string with an explicit schema.

Nothing is inferred. The header line decides the positional read schema: each of the 18 contract columns is
read under its snake_case name, unknown extra columns under a placeholder name (read so that the token count
check still sees them, then dropped), and `_corrupt_record` keeps the raw line of rows Spark cannot parse
into exactly that many fields (too many or too few tokens).
"""
from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from shopsense import schema
from shopsense.errors import ShopSenseError

CORRUPT_RECORD = "_corrupt_record"
SOURCE_FILE = "source_file"
# A row carries the number of its file (its position in Header.sources, from 1), not the path: a path of ~70
# bytes in every row would be copied through the dedupe shuffle, the validation and the cache (5M rows: ingest
# 2-4% less CPU with a number, docs/benchmarks.md). `source_file_column` gives the path back.
SOURCE_NUMBER = "_source_number"
_FILE_PATH = "_file_path"
BOM = "\ufeff"


@dataclass(frozen=True)
class Header:
    """The checked header of the input: read schema fields in file order and the ignored extra columns."""

    fields: tuple[str, ...]  # one per header column: a processed column name or an `_ignored_<i>` placeholder
    ignored: tuple[str, ...]  # header names of the extra columns, as written in the file
    files: tuple[str, ...] = ()  # the input files whose header was checked
    # The same files as Spark's file source names them (`_metadata.file_path`), sorted: the smallest
    # SOURCE_NUMBER is the smallest path.
    sources: tuple[str, ...] = ()

    def read_schema(self) -> StructType:
        return StructType(
            [StructField(name, StringType(), nullable=True) for name in self.fields]
            + [StructField(CORRUPT_RECORD, StringType(), nullable=True)]
        )


def split_header(line: str) -> list[str]:
    """Column names of a header line: CSV quoting honoured, BOM and surrounding whitespace removed."""
    names = next(csv.reader([line.lstrip(BOM)], skipinitialspace=True), [])
    return [name.strip() for name in names]


def check_header(names: list[str], source: str = "input") -> Header:
    """Map header names onto the contract, or raise ShopSenseError naming the missing/duplicated columns."""
    known = set(schema.RAW_COLUMNS)
    duplicated = sorted({n for n in names if n in known and names.count(n) > 1})
    if duplicated:
        raise ShopSenseError(f"{source}: column(s) appear more than once in the header: {_quoted(duplicated)}")
    missing = [c for c in schema.RAW_COLUMNS if c not in names]
    unknown = [n for n in names if n not in known]
    if missing:
        hints = [_rename_hint(column, unknown) for column in missing]
        raise ShopSenseError(
            f"{source}: missing required column(s) {'; '.join(hints)}. "
            f"Expected the header: {', '.join(schema.RAW_COLUMNS)}"
        )
    fields = tuple(schema.RAW_TO_PROCESSED.get(n, f"_ignored_{i}") for i, n in enumerate(names))
    return Header(fields=fields, ignored=tuple(unknown))


def _rename_hint(column: str, unknown: list[str]) -> str:
    lowered = {n.lower(): n for n in unknown}
    close = difflib.get_close_matches(column.lower(), list(lowered), n=1, cutoff=0.6)
    return f"'{column}' (found '{lowered[close[0]]}': renamed or misspelled?)" if close else f"'{column}'"


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def input_not_found(path: str) -> ShopSenseError:
    """The one message for an input that does not exist (said by the CLI before Spark starts, or by Spark)."""
    return ShopSenseError(f"input not found: {path}")


def missing_local_input(path: str) -> bool:
    """True when `path` is a plain local path (no URI scheme, no glob) that does not exist: the CLI says so
    before it starts a Spark session (seconds) only to find out."""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", path) or any(c in path for c in "*?[{"):
        return False  # another file system, or a pattern: Spark decides
    return not Path(path).exists()


def check_local_input(path: str) -> None:
    """Raise `input_not_found` for a plain local path that does not exist (before any Spark session starts)."""
    if missing_local_input(path):
        raise input_not_found(path)


def input_files(spark: SparkSession, path: str) -> list[str]:
    """The files behind `path` (a file, a folder of CSV files or a glob), via Spark: any file system works.

    Spark lists them as URIs ("a%20b.csv"); a path string is what its readers take back ("a b.csv")."""
    try:
        files = [unquote(uri) for uri in spark.read.text(path).inputFiles()]
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc) or "Path does not exist" in str(exc):
            raise input_not_found(path) from None
        raise
    if not files:
        raise ShopSenseError(f"no input files in {path}")
    return sorted(files)


def read_header(spark: SparkSession, path: str) -> Header:
    """Check the header of every input file (one tiny `limit(1)` job per file); all must agree."""
    headers, sources = {}, []
    for file in input_files(spark, path):
        first = spark.read.text(file).select("value", "_metadata.file_path").limit(1).collect()
        names = split_header(first[0].value) if first else []
        if not any(names):
            raise ShopSenseError(f"{file}: the file is empty (expected a header line: {', '.join(schema.RAW_COLUMNS)})")
        headers[file] = names
        sources.append(first[0].file_path)
    first_file, names = next(iter(headers.items()))
    for file, other in headers.items():
        if other != names:
            raise ShopSenseError(f"{file}: header differs from the one of {first_file}; all input files must match")
    checked = check_header(names, source=first_file if len(headers) == 1 else path)
    return replace(checked, files=tuple(headers), sources=tuple(sorted(sources)))


def read_raw(spark: SparkSession, path: str, header: Header) -> DataFrame:
    """All rows as strings: the 18 contract columns (snake_case names), `_corrupt_record`, and the number of
    the row's file (SOURCE_NUMBER; joined from the few `header.sources` by a broadcast, left join: no row lost).

    PERMISSIVE mode keeps malformed rows (their raw line lands in `_corrupt_record`). `columnPruning` is off
    because with it Spark tokenizes only the selected columns and silently stops flagging rows with too many
    or too few fields (verified on Spark 4.3, see tests/ingest/test_read.py). Whitespace around separators is
    not significant (it also lets a quoted field follow `, `).
    """
    raw = (
        spark.read.schema(header.read_schema())
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
        .option("columnPruning", False)
        .option("ignoreLeadingWhiteSpace", True)
        .option("ignoreTrailingWhiteSpace", True)
        .option("encoding", "UTF-8")
        .csv(path)
    )
    # Built in the JVM: a DataFrame of a Python list would start Python workers just to unpickle it.
    number = F.col("id").cast("int")
    numbers = spark.range(1, len(header.sources) + 1).select(
        number.alias(SOURCE_NUMBER), F.element_at(F.lit(list(header.sources)), number).alias(_FILE_PATH))
    rows = raw.select(*schema.PROCESSED_COLUMNS, CORRUPT_RECORD, F.col("_metadata.file_path").alias(_FILE_PATH))
    return rows.join(F.broadcast(numbers), _FILE_PATH, "left").select(
        *schema.PROCESSED_COLUMNS, CORRUPT_RECORD, SOURCE_NUMBER)


def source_file_column(sources: tuple[str, ...]) -> Column:
    """`source_file`: the path of the file numbered SOURCE_NUMBER in `sources` (Header.sources)."""
    return F.element_at(F.lit(list(sources)), F.col(SOURCE_NUMBER)).alias(SOURCE_FILE)
