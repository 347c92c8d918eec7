"""The analytical SQL suite: named, documented Spark SQL files under `sql/`, run by one runner.

Every `.sql` file starts with a header of `-- key: value` comment lines (name, question, columns,
tie-break, needs, ...) and reads the temporary view `purchases` (the processed data, cached once per run). A few
placeholders are filled in before running: the age-group CASE expression of the data contract, sort
orders for age groups and seasons, and the market-basket column and minimum support. Each result is
registered as a temporary view under its name (so later queries may build on earlier ones) and saved as
one CSV file with a header.

`-- needs:` lists the optional columns (schema.ESSENTIAL_COLUMNS are always there) that the query reads. When
the input had one of them not at all (absent.absent_columns), the query is skipped with that reason, and so
is a query reading its result: it has no CSV file and no table, rather than rows grouped on nulls.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame

from shopsense import schema
from shopsense.analytics import absent
from shopsense.config import Config
from shopsense.io import local_output

VIEW = "purchases"
HEADER_LINE = re.compile(r"^--\s*([a-z-]+):\s*(.*)$")


@dataclass(frozen=True)
class Query:
    name: str  # result name: reports/queries/<name>.csv and the temp view of its result
    file: str  # SQL file under sql/
    params: dict[str, str] = field(default_factory=dict)  # query-specific placeholders
    # One row per customer (millions at scale): Spark writes the CSV, only the report's first rows reach the
    # driver. Other results are aggregates of a few hundred rows at most and come back whole as pandas.
    per_customer: bool = False
    reads: tuple[str, ...] = ()  # results of earlier queries that this one reads (as views): run after them


@dataclass(frozen=True)
class QueryResult:
    name: str
    sql: str
    header: dict[str, str]  # the file's `-- key: value` lines (question, columns, tie-break, ...)
    frame: pd.DataFrame  # the result, or its first report rows when `spark_result` is set
    path: Path | None = None  # where the CSV went
    spark_result: DataFrame | None = None  # a per-customer result, cached until the suite ends
    total_rows: int | None = None  # rows of `spark_result`
    skipped: str | None = None  # why the query did not run (then `frame` is empty)

    @property
    def rows(self) -> int:
        return len(self.frame) if self.total_rows is None else self.total_rows


def _case_order(column: str, labels: tuple[str, ...] | list[str]) -> str:
    """SQL expression giving each label its position, for sorting labels in their natural order."""
    whens = " ".join(f"WHEN '{label}' THEN {i}" for i, label in enumerate(labels, start=1))
    return f"CASE {column} {whens} END"


COMMON_PARAMS: dict[str, str] = {
    "age_group": schema.age_group_sql("age"),
    "age_group_order": _case_order("age_group", [label for label, _, _ in schema.AGE_GROUPS]),
    "season_order": _case_order("season", schema.SEASONS),
}

BASKET_ITEMS = Query("market_basket_items", "market_basket.sql",
                     {"basket_column": "item_purchased", "basket_label": "items"})
BASKET_CATEGORIES = Query("market_basket_categories", "market_basket.sql",
                          {"basket_column": "category", "basket_label": "categories"})

# The suite, in run (and report) order. clv_segment_summary reads the customer_lifetime_value view.
QUERIES: tuple[Query, ...] = (
    Query("top_categories_by_age_group", "top_categories_by_age_group.sql"),
    Query("subscription_impact", "subscription_impact.sql"),
    Query("promotion_effectiveness", "promotion_effectiveness.sql"),
    Query("payment_shipping_preferences", "payment_shipping_preferences.sql"),
    Query("seasonal_trends", "seasonal_trends.sql"),
    Query("customer_lifetime_value", "customer_lifetime_value.sql", per_customer=True),
    Query("clv_segment_summary", "clv_segment_summary.sql", reads=("customer_lifetime_value",)),
    Query("geographic_patterns", "geographic_patterns.sql"),
    BASKET_ITEMS,
    BASKET_CATEGORIES,
    Query("demographic_segments", "demographic_segments.sql"),
)


def render_sql(query: Query, config: Config) -> str:
    """The query's SQL text with every placeholder filled in."""
    text = resources.files("shopsense.analytics").joinpath("sql", query.file).read_text(encoding="utf-8")
    params = {**COMMON_PARAMS, "min_support": repr(float(config.basket_min_support)), **query.params}
    return text.format(**params)


def parse_header(sql: str) -> dict[str, str]:
    """The leading `-- key: value` comment lines; indented `--` lines continue the previous key."""
    header: dict[str, str] = {}
    key = None
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        match = HEADER_LINE.match(line)
        if match:
            key = match.group(1)
            header[key] = match.group(2).strip()
        elif key:
            header[key] += "\n" + line.lstrip("-").strip()
    return header


def needs(header: dict[str, str]) -> tuple[str, ...]:
    """The optional columns a query file's `-- needs:` line names."""
    return tuple(name.strip() for name in header.get("needs", "").split(",") if name.strip())


def skipped_query(query: Query, config: Config, absent_columns: frozenset[str],
                  skipped_reads: dict[str, str]) -> QueryResult | None:
    """The query as skipped (with its reason) when it needs an absent column or reads a skipped result."""
    sql = render_sql(query, config)
    header = parse_header(sql)
    missing = [c for c in needs(header) if c in absent_columns]
    why = absent.reason(missing) if missing else next(
        (skipped_reads[name] for name in query.reads if name in skipped_reads), None)
    return None if why is None else QueryResult(query.name, sql, header, pd.DataFrame(), skipped=why)


def run_query(spark, query: Query, config: Config) -> QueryResult:
    """Run one query on the `purchases` view. An aggregated result comes back as pandas; a per-customer one
    is cached (later queries may read its view) and only its first `report_max_table_rows` come back."""
    sql = render_sql(query, config)
    result = spark.sql(sql)
    if not query.per_customer:
        result.createOrReplaceTempView(query.name)
        return QueryResult(query.name, sql, parse_header(sql), result.toPandas())
    result = result.cache()
    result.createOrReplaceTempView(query.name)
    return QueryResult(query.name, sql, parse_header(sql), result.limit(config.report_max_table_rows).toPandas(),
                       spark_result=result, total_rows=result.count())


def save_csv(result: QueryResult, folder: Path) -> QueryResult:
    """One CSV file with a header per query, replaced atomically (staged next to it, then renamed)."""
    path = folder / f"{result.name}.csv"
    if result.spark_result is None:
        with local_output(path) as tmp:
            result.frame.to_csv(tmp, index=False)
    else:
        _spark_csv(result.spark_result, path)
    return replace(result, path=path)


def remove_csv(name: str, folder: Path) -> None:
    """A skipped query's CSV of an earlier run is removed: no stale answer next to the fresh ones."""
    (folder / f"{name}.csv").unlink(missing_ok=True)


def release(results: list[QueryResult]) -> None:
    """Free the cached per-customer results once the suite (and every query reading their views) is done."""
    for result in results:
        if result.spark_result is not None:
            result.spark_result.unpersist()


def _spark_csv(df: DataFrame, path: Path) -> None:
    """Spark writes the CSV: one partition, so one file in the result's order (coalesce keeps the sort)."""
    parts = path.with_name(f".{path.name}.parts")
    shutil.rmtree(parts, ignore_errors=True)
    df.coalesce(1).write.option("header", True).csv(str(parts))
    (part,) = parts.glob("part-*")
    part.replace(path)
    shutil.rmtree(parts)
