"""The analytics layer's entry point (`shopsense analyze`): read the processed data once (cached), then KPIs,
plots, the SQL suite and the report."""
from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from shopsense import schema
from shopsense.analytics import eda
from shopsense.analytics.absent import Skipped, absent_columns
from shopsense.analytics.basket import BasketStats, basket_stats
from shopsense.analytics.plots import Plot, write_plots
from shopsense.analytics.queries import (QUERIES, VIEW, Query, QueryResult, release, remove_csv, run_query, save_csv,
                                         skipped_query)
from shopsense.analytics.report import models_section, render_report, write_report
from shopsense.config import Config
from shopsense.errors import ShopSenseError
from shopsense.io import POINTER, delete, local_output, read_processed, write_json, write_parquet


KPIS_TABLE = "kpis"
KPIS_SCHEMA = (
    "rows BIGINT, distinct_customers BIGINT, total_revenue_usd DOUBLE, avg_transaction_value_usd DOUBLE, "
    "avg_purchases_per_customer DOUBLE, avg_review_rating DOUBLE, top_category_by_count STRING, "
    "top_category_by_revenue STRING, gender_split MAP<STRING, STRUCT<customers: BIGINT, share: DOUBLE>>, "
    "subscriber_share DOUBLE, promo_code_rate DOUBLE, discount_rate DOUBLE")


@dataclass(frozen=True)
class Analysis:
    kpis: eda.Kpis
    plots: list[Plot]
    results: list[QueryResult]
    baskets: dict[str, BasketStats]  # market-basket query name -> basket statistics
    report: Path
    skipped: list[Skipped]  # queries and plots not made: the input lacked a column they need

    @property
    def answered(self) -> list[QueryResult]:
        """The query results that ran (each has its CSV and table)."""
        return [r for r in self.results if r.skipped is None]


def load_purchases(spark, config: Config):
    """The processed log, checked against the contract, partitioned by customer, cached and registered as
    the `purchases` view."""
    purchases = read_processed(spark, config)
    missing = [c for c in schema.PROCESSED_COLUMNS if c not in purchases.columns]
    if missing:
        raise ShopSenseError(f"processed data in {config.processed_dir} lacks columns {missing}: "
                             "run `shopsense ingest` again")
    # Partitioned by customer: the profile, CLV, baskets and distinct-customer counts group or join on it,
    # so they reuse this one shuffle instead of each shuffling the log again (docs/benchmarks.md).
    partitions = max(config.spark.shuffle_partitions,
                     math.ceil(purchases.count() / config.analyze_rows_per_partition))  # reads no column: 0.2 s at 5M
    purchases = purchases.select(*schema.PROCESSED_COLUMNS).repartition(partitions, "customer_id").cache()
    purchases.createOrReplaceTempView(VIEW)
    return purchases


def run_suite(spark, purchases, config: Config, queries: tuple[Query, ...] = QUERIES,
              absent: frozenset[str] = frozenset()) -> tuple[list[QueryResult], dict[str, BasketStats]]:
    """The queries (default: the whole suite), saved as CSV; market-basket rules withheld when degenerate; a
    query that needs a column in `absent` is skipped (queries.skipped_query).

    `config.analyze_concurrent_queries` chains of queries run at once (a query runs after the queries it
    reads, in their chain); chains holding a per-customer query start first, as they have the longest
    single-core stages. Results come back in suite order.
    """
    columns = {q.name: q.params["basket_column"] for q in queries if "basket_column" in q.params}
    chains = sorted(query_chains(queries), key=lambda chain: not any(q.per_customer for q in chain))
    pool = ThreadPoolExecutor(max(1, config.analyze_concurrent_queries), thread_name_prefix="shopsense-query")
    try:
        # Submitted first, so running or done before any chain waits for them (no deadlock).
        stats = {name: pool.submit(basket_stats, purchases, column, config) for name, column in columns.items()}
        chain_runs = [pool.submit(_run_chain, spark, chain, stats, config, absent) for chain in chains]
        saved = {result.name: result for run in chain_runs for result in run.result()}
        baskets = {name: future.result() for name, future in stats.items()}
    finally:
        pool.shutdown(cancel_futures=True)
    results = [saved[q.name] for q in queries]
    release(results)
    write_json({name: stats.as_dict() for name, stats in baskets.items()}, config.basket_summary_json)
    return results, baskets


def query_chains(queries: tuple[Query, ...]) -> list[list[Query]]:
    """The queries grouped into chains, in suite order: a query joins the chain of the first query it reads."""
    chains: list[list[Query]] = []
    chain_of: dict[str, list[Query]] = {}
    for query in queries:
        chain = next((chain_of[name] for name in query.reads if name in chain_of), None)
        if chain is None:
            chain = []
            chains.append(chain)
        chain.append(query)
        chain_of[query.name] = chain
    return chains


def _run_chain(spark, chain: list[Query], stats: dict[str, Future], config: Config,
               absent: frozenset[str]) -> list[QueryResult]:
    results = []
    skipped: dict[str, str] = {}  # the chain's skipped queries -> why
    for query in chain:
        result = skipped_query(query, config, absent, skipped)
        if result is not None:
            skipped[query.name] = result.skipped
            remove_csv(query.name, config.queries_dir)
            # Without its pointer the output has no current data: the catalog drops its table (readers of
            # the previous snapshot finish; the next commit deletes it).
            delete(spark, f"{config.analytics_table_dir(query.name)}/{POINTER}")
            results.append(result)
            continue
        result = run_query(spark, query, config)
        if query.name in stats and stats[query.name].result().degenerate:
            result = replace(result, frame=result.frame.head(0))  # header only: no meaningless lifts
        results.append(save_csv(result, config.queries_dir))
        write_parquet(result_table(spark, result), config.analytics_table_dir(query.name))
    return results


def result_table(spark, result: QueryResult):
    """A query result as a Spark DataFrame to save as its table: the cached per-customer result, or the
    collected rows (already on the driver) with the query's own column types, as one file in the CSV's order."""
    if result.spark_result is not None:
        return result.spark_result
    return spark.createDataFrame(result.frame, schema=spark.table(result.name).schema).coalesce(1)


def kpis_table(spark, kpis: dict):
    """The KPIs as one row (kpis.json's keys as columns; the gender split as a map)."""
    return spark.createDataFrame([kpis], schema=KPIS_SCHEMA)


def analyze(spark, config: Config) -> Analysis:
    purchases = load_purchases(spark, config)
    try:
        totals = eda.totals(spark, VIEW)  # first action: fills the cache
        if totals["rows"] == 0:
            raise ShopSenseError(f"processed data in {config.processed_dir} is empty: nothing to analyze")
        absent = absent_columns(totals)
        profile = eda.profile(spark, VIEW)
        kpis = eda.kpis(totals, profile)
        write_json(kpis.as_json(), config.kpis_json)
        write_parquet(kpis_table(spark, kpis.as_json()), config.analytics_table_dir(KPIS_TABLE))
        with local_output(config.distributions_csv) as tmp:
            profile.to_csv(tmp, index=False)
        plots, skipped_plots = write_plots(profile, kpis, config.plots_dir, absent)
        results, baskets = run_suite(spark, purchases, config, absent=absent)
        page = render_report(kpis, plots, results, baskets, config.processed_dir, config.report_max_table_rows,
                             skipped_plots, models=models_section(spark, config))
        report = write_report(page, config.report_html)
    finally:
        purchases.unpersist()
    skipped = [Skipped("query", r.name, r.skipped) for r in results if r.skipped is not None] + skipped_plots
    return Analysis(kpis, plots, results, baskets, report, skipped)
