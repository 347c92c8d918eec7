"""The `shopsense` database: one external Parquet table per data output, registered from the outputs.

The source of truth is on the data root, not in a metastore: each folder output has a pointer to its
current snapshot (shopsense.io), written by the command that produced it. A session registers the tables
from the pointers (`Catalog.sync`) into Spark's in-memory catalog, and `shopsense serve-sql` repeats that
every `sql_refresh_seconds`, switching a table to its new snapshot with ALTER TABLE ... SET LOCATION (one
step). So the writers (`ingest`, `analyze`, `train`, `stream run`) and any number of readers run in
separate processes with no shared metastore to lock (an embedded Derby metastore admits one JVM).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pyspark.sql.types import StructType

from shopsense import io, schema
from shopsense.analytics.stage import KPIS_TABLE
from shopsense.analytics.queries import QUERIES, parse_header, render_sql
from shopsense.config import Config
from shopsense.streaming.runner import QUERY_NAMES as STREAM_QUERIES
from shopsense.streaming.sinks import BATCH_COLUMN as STREAM_BATCH_COLUMN

DATABASE = "shopsense"


def catalog_conf(config: Config) -> dict[str, str]:
    """Session settings of a catalog reader (`shopsense sql`, `serve-sql`): Spark's in-memory catalog (no
    Derby, no metastore_db/), tables resolved and their files listed afresh by every query (a cached
    relation would keep a switched table's old snapshot, and an append-only stream output's old batches),
    the warehouse folder on the data root instead of the working directory."""
    return {
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.filesourceTableRelationCacheSize": "0",
        "spark.sql.hive.manageFilesourcePartitions": "false",
        "spark.sql.warehouse.dir": config.warehouse_dir,
    }


@dataclass(frozen=True)
class Table:
    name: str
    output: str  # the output folder's URI
    comment: str
    column_comments: dict[str, str] = field(default_factory=dict)
    partition_columns: tuple[str, ...] = ()


def contract_comment(column: schema.Column) -> str:
    """What the data contract says about a processed column: its CSV header and its allowed values."""
    rule = ""
    if column.name in schema.VOCABULARIES:
        values = schema.VOCABULARIES[column.name]
        rule = f"one of {', '.join(values)}" if len(values) <= 7 else f"one of {len(values)} allowed values"
    elif column.name in schema.NUMERIC_RANGES:
        low, high = schema.NUMERIC_RANGES[column.name]
        rule = f"{low:g} to {high:g}"
    elif column.name in schema.BOOLEAN_COLUMNS:
        rule = "true/false (CSV: Yes/No)"
    elif column.name == "color":
        rule = "free text"
    return f"CSV column '{column.raw}'" + (f"; {rule}" if rule else "")


def header_column_comments(text: str) -> dict[str, str]:
    """A query file's `columns:` line, "name (description), name, ..." -> {name: description or ""}."""
    comments, depth, item = {}, 0, ""
    for char in text + ",":
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            match = re.match(r"\s*(\w+)\s*(?:\((.*)\))?\s*$", item, re.S)
            if match:
                comments[match.group(1)] = (match.group(2) or "").strip()
            item = ""
        else:
            item += char
    return comments


def query_tables(config: Config) -> list[Table]:
    tables = []
    for query in QUERIES:
        header = parse_header(render_sql(query, config))
        tables.append(Table(query.name, config.analytics_table_dir(query.name),
                            f"`shopsense analyze`: {header.get('question', query.name)}",
                            header_column_comments(header.get("columns", ""))))
    return tables


def tables(config: Config) -> list[Table]:
    """Every table of the catalog, registered when its output exists."""
    contract = {c.name: contract_comment(c) for c in schema.COLUMNS}
    return [
        Table("purchases", config.processed_dir, "`shopsense ingest`: the clean purchase log", contract),
        Table("quarantine", config.quarantine_rows_dir,
              "`shopsense ingest`: rejected rows as read (text values) and why",
              {"source_file": "the input file of the row",
               **{name: f"as read; {text}" for name, text in contract.items()},
               "raw_line": "the whole line of a row that could not be split into columns",
               "reasons": "reason codes of the rejection (docs/ingest.md)"}),
        *query_tables(config),
        Table(KPIS_TABLE, config.analytics_table_dir(KPIS_TABLE), "`shopsense analyze`: headline KPIs (reports/kpis.json)"),
        Table("recommendations", f"{config.model_dir('recommender')}/recommendations",
              "`shopsense train`: the ALS recommender's precomputed top items per customer"),
        *(Table(f"stream_{name}", f"{config.stream_output_dir}/{name}",
                f"`shopsense stream run`: finalised rows of the {name} query, one folder per micro-batch",
                {STREAM_BATCH_COLUMN: "the micro-batch that wrote the row"}, (STREAM_BATCH_COLUMN,))
          for name in STREAM_QUERIES),
    ]


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_table_sql(table: Table, struct: StructType, location: str) -> str:
    columns = ",\n  ".join(
        f"`{f.name}` {f.dataType.simpleString()}"
        + (f" COMMENT {_literal(table.column_comments[f.name])}" if table.column_comments.get(f.name) else "")
        for f in struct.fields)
    partitioned = (f"PARTITIONED BY ({', '.join(f'`{c}`' for c in table.partition_columns)})\n"
                   if table.partition_columns else "")
    return (f"CREATE TABLE {DATABASE}.`{table.name}` (\n  {columns}\n) USING parquet\n{partitioned}"
            f"LOCATION {_literal(location)}\nCOMMENT {_literal(table.comment)}")


@dataclass
class Registered:
    location: str
    struct: StructType


class Catalog:
    """The tables of one session, kept in step with the outputs' pointers by `sync`."""

    def __init__(self, spark, config: Config):
        self.spark = spark
        self.tables = tables(config)
        self.registered: dict[str, Registered] = {}
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE} COMMENT 'ShopSense outputs (docs/sql.md)' "
                  f"LOCATION {_literal(config.warehouse_dir + '/' + DATABASE + '.db')}")
        for row in spark.sql(f"SHOW TABLES IN {DATABASE}").collect():  # left by another Catalog of this session
            if not row.isTemporary:
                spark.sql(f"DROP TABLE IF EXISTS {DATABASE}.`{row.tableName}`")

    def sync(self) -> list[str]:
        """Register new outputs, switch changed ones to their current snapshot, drop deleted ones; return
        the names of the tables that changed."""
        changed = []
        for table in self.tables:
            location = io.current_location(self.spark, table.output)
            known = self.registered.get(table.name)
            if (known.location if known else None) == location:
                continue
            if location is None:
                self.spark.sql(f"DROP TABLE IF EXISTS {DATABASE}.`{table.name}`")
                del self.registered[table.name]
            else:
                self._register(table, location, known)
            changed.append(table.name)
        return changed

    def _register(self, table: Table, location: str, known: Registered | None) -> None:
        struct = self.spark.read.parquet(location).schema
        if known and known.struct == struct:
            self.spark.sql(f"ALTER TABLE {DATABASE}.`{table.name}` SET LOCATION {_literal(location)}")
        else:  # new, or its columns changed: define it again
            self.spark.sql(f"DROP TABLE IF EXISTS {DATABASE}.`{table.name}`")
            self.spark.sql(create_table_sql(table, struct, location))
        self.registered[table.name] = Registered(location, struct)
