"""`shopsense sql`: Spark SQL over the catalog, printed as a table, CSV or JSON lines."""
from __future__ import annotations

import csv
import json
import logging
import sys
from dataclasses import replace
from typing import Iterable, TextIO

from pyspark.errors import PySparkException

from shopsense.catalog.tables import DATABASE, Catalog, catalog_conf
from shopsense.config import Config
from shopsense.errors import ShopSenseError

FORMATS = ("table", "csv", "json")


def catalog_session(config: Config):
    """A SparkSession set up as a catalog reader, its tables registered from the outputs."""
    from shopsense.spark import get_spark

    # PySpark logs every failed statement's JVM stack trace; the user gets its one-line message instead.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    spark = get_spark(replace(config.spark, extra={**catalog_conf(config), **config.spark.extra}))
    catalog = Catalog(spark, config)
    catalog.sync()
    spark.sql(f"USE {DATABASE}")
    return spark, catalog


def split_statements(text: str) -> list[str]:
    """SQL text -> its statements, split at `;` outside quotes and `--` comments."""
    statements, current, quote, comment = [], [], None, False
    for i, char in enumerate(text):
        if comment:
            comment = char != "\n"
        elif quote:
            quote = None if char == quote and text[i - 1] != "\\" else quote
        elif char in "'\"`":
            quote = char
        elif char == "-" and text[i:i + 2] == "--":
            comment = True
        elif char == ";":
            statements.append("".join(current))
            current = []
            continue
        current.append(char)
    statements.append("".join(current))
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines())


def run_statements(spark, catalog: Catalog, statements: list[str], output_format: str, max_rows: int,
                   out: TextIO | None = None) -> None:
    """Run each statement, printing its result (to stdout by default). A bad statement (unknown table or
    column, syntax error, a failing expression) is a ShopSenseError of one line."""
    out = out or sys.stdout
    for statement in statements:
        try:
            result = spark.sql(statement)
            columns = result.columns
            rows = result.toLocalIterator() if output_format != "table" else result.limit(max_rows + 1).collect()
            if output_format == "csv":
                write_csv(columns, rows, out)
            elif output_format == "json":
                write_json_lines(columns, rows, out)
            else:
                write_table(columns, rows, max_rows, out)
        except PySparkException as exc:
            raise ShopSenseError(_one_line(exc, catalog)) from None


def _one_line(exc: PySparkException, catalog: Catalog) -> str:
    message = " ".join(next((line for line in str(exc).splitlines() if line.strip()), repr(exc)).split())
    if exc.getCondition() == "TABLE_OR_VIEW_NOT_FOUND":
        names = ", ".join(sorted(catalog.registered)) or "none yet"
        message += f" (tables: {names}; the others appear once their command has run)"
    return message


def _plain(value):
    """Rows and maps as plain dicts and lists (printable as JSON)."""
    if hasattr(value, "asDict"):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _text(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (dict, list)) or hasattr(value, "asDict"):
        return json.dumps(_plain(value), default=str)
    return str(value)


def write_table(columns: list[str], rows: list, max_rows: int, out: TextIO) -> None:
    shown = [[_text(v) for v in row] for row in rows[:max_rows]]
    widths = [max([len(c)] + [len(r[i]) for r in shown]) for i, c in enumerate(columns)]
    line = "+".join("-" * (w + 2) for w in widths)
    print(" | ".join(c.ljust(w) for c, w in zip(columns, widths)), file=out)
    print(line, file=out)
    for row in shown:
        print(" | ".join(v.ljust(w) for v, w in zip(row, widths)), file=out)
    more = " (more not shown: use --max-rows or --format csv)" if len(rows) > max_rows else ""
    print(f"({len(shown)} row{'s' if len(shown) != 1 else ''}{more})", file=out)


def write_csv(columns: list[str], rows: Iterable, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _text(v) for v in row])


def write_json_lines(columns: list[str], rows: Iterable, out: TextIO) -> None:
    for row in rows:
        print(json.dumps(_plain(row), default=str), file=out)
