"""Reading the raw CSV: header check first, then every column as a string with an explicit schema.

Nothing is inferred. The header line decides the positional read schema: each file column matched to a
contract column (shopsense.ingest.columns) is read under its snake_case name, extra columns under a
placeholder name (read so that the token count check still sees them, then dropped), a contract column the
file lacks is null, and `_corrupt_record` keeps the raw line of rows Spark cannot parse into exactly that
many fields (too many or too few tokens). The delimiter (`,`, `;`, tab or `|`) is detected from the header
unless given; the encoding is UTF-8 (a BOM is dropped) unless given (e.g. latin-1); `.gz` files are read as
such by Spark.
"""
from __future__ import annotations

import csv
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
from shopsense.ingest.columns import HeaderMatch, match_header

CORRUPT_RECORD = "_corrupt_record"
SOURCE_FILE = "source_file"
# A row carries the number of its file (its position in Header.sources, from 1), not the path: a path of ~70
# bytes in every row would be copied through the dedupe shuffle, the validation and the cache (5M rows: ingest
# 2-4% less CPU with a number, docs/benchmarks.md). `source_file_column` gives the path back.
SOURCE_NUMBER = "_source_number"
_FILE_PATH = "_file_path"
BOM = "\ufeff"


DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")


@dataclass(frozen=True)
class Header:
    """The checked header of the input: read schema fields in file order and the ignored extra columns."""

    fields: tuple[str, ...]  # one per header column: a processed column name or an `_ignored_<i>` placeholder
    ignored: tuple[str, ...]  # header names of the extra columns, as written in the file
    match: HeaderMatch | None = None  # how each column was matched
    delimiter: str = ","
    encoding: str = "UTF-8"
    files: tuple[str, ...] = ()  # the input files whose header was checked
    # The same files as Spark's file source names them (`_metadata.file_path`), sorted: the smallest
    # SOURCE_NUMBER is the smallest path.
    sources: tuple[str, ...] = ()

    @property
    def absent(self) -> frozenset[str]:
        """Contract columns the input does not have (null in the processed data)."""
        return frozenset(c for c in schema.PROCESSED_COLUMNS if c not in self.fields)

    def read_schema(self) -> StructType:
        return StructType(
            [StructField(name, StringType(), nullable=True) for name in self.fields]
            + [StructField(CORRUPT_RECORD, StringType(), nullable=True)]
        )


def split_header(line: str, delimiter: str = ",") -> list[str]:
    """Column names of a header line: CSV quoting honoured, BOM and surrounding whitespace removed."""
    names = next(csv.reader([line.lstrip(BOM)], delimiter=delimiter, skipinitialspace=True), [])
    return [name.strip() for name in names]


def detect_delimiter(line: str) -> str:
    """The DELIMITERS entry that splits a header line into the most names (`,` when none splits it)."""
    return max(DELIMITERS, key=lambda d: (len(split_header(line, d)), d == ","))


def check_header(names: list[str], source: str = "input", mapping: dict[str, str] | None = None) -> Header:
    """Match header names onto the contract (shopsense.ingest.columns.match_header), or raise ShopSenseError."""
    match = match_header(names, mapping, source)
    fields = tuple(f if f is not None else f"_ignored_{i}" for i, f in enumerate(match.fields))
    return Header(fields=fields, ignored=match.extra, match=match)


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


def read_header(spark: SparkSession, path: str, mapping: dict[str, str] | None = None,
                delimiter: str | None = None, encoding: str = "UTF-8") -> Header:
    """Check the header of every input file (one tiny `limit(1)` job per file); all must agree."""
    headers, sources = {}, []
    for file in input_files(spark, path):
        first = spark.read.text(file).select("value", "_metadata.file_path").limit(1).collect()
        if not first or not first[0].value.lstrip(BOM).strip():
            raise ShopSenseError(f"{file}: the file is empty (expected a header line: {', '.join(schema.RAW_COLUMNS)})")
        sep = delimiter or detect_delimiter(first[0].value)
        if encoding.replace("-", "").upper() == "UTF8":
            names = split_header(first[0].value, sep)
        else:  # the text source decodes UTF-8 only; the CSV source decodes the header in the file's encoding
            line = spark.read.options(sep=sep, encoding=encoding, header=False).csv(file).limit(1).first()
            names = [(n or "").strip() for n in line]
        headers[file] = (names, sep)
        sources.append(first[0].file_path)
    first_file, (names, sep) = next(iter(headers.items()))
    for file, other in headers.items():
        if other != (names, sep):
            raise ShopSenseError(f"{file}: header differs from the one of {first_file}; all input files must match")
    checked = check_header(names, source=first_file if len(headers) == 1 else path, mapping=mapping)
    return replace(checked, delimiter=sep, encoding=encoding, files=tuple(headers), sources=tuple(sorted(sources)))


def read_raw(spark: SparkSession, path: str, header: Header) -> DataFrame:
    """All rows as strings: the 18 contract columns (snake_case names; null when `header.absent`),
    `_corrupt_record`, and the number of
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
        .option("encoding", header.encoding)
        .option("sep", header.delimiter)
        .csv(path)
    )
    # Built in the JVM: a DataFrame of a Python list would start Python workers just to unpickle it.
    number = F.col("id").cast("int")
    numbers = spark.range(1, len(header.sources) + 1).select(
        number.alias(SOURCE_NUMBER), F.element_at(F.lit(list(header.sources)), number).alias(_FILE_PATH))
    columns = [F.lit(None).cast("string").alias(c) if c in header.absent else F.col(c)
               for c in schema.PROCESSED_COLUMNS]
    rows = raw.select(*columns, CORRUPT_RECORD, F.col("_metadata.file_path").alias(_FILE_PATH))
    return rows.join(F.broadcast(numbers), _FILE_PATH, "left").select(
        *schema.PROCESSED_COLUMNS, CORRUPT_RECORD, SOURCE_NUMBER)


def source_file_column(sources: tuple[str, ...]) -> Column:
    """`source_file`: the path of the file numbered SOURCE_NUMBER in `sources` (Header.sources)."""
    return F.element_at(F.lit(list(sources)), F.col(SOURCE_NUMBER)).alias(SOURCE_FILE)
