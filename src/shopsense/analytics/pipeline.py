"""`shopsense analyze`: read the processed data once (cached), then KPIs, plots, the SQL suite and the report."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from shopsense import schema
from shopsense.analytics import eda
from shopsense.analytics.basket import BasketStats, basket_stats
from shopsense.analytics.plots import Plot, write_plots
from shopsense.analytics.queries import QUERIES, VIEW, Query, QueryResult, release, run_query, save_csv
from shopsense.analytics.report import render_report, write_report
from shopsense.config import Config
from shopsense.errors import ShopSenseError
from shopsense.io import read_processed, write_json


@dataclass(frozen=True)
class Analysis:
    kpis: dict
    plots: list[Plot]
    results: list[QueryResult]
    baskets: dict[str, BasketStats]  # market-basket query name -> basket statistics
    report: Path


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


def run_suite(spark, purchases, config: Config,
              queries: tuple[Query, ...] = QUERIES) -> tuple[list[QueryResult], dict[str, BasketStats]]:
    """The queries (default: the whole suite), saved as CSV; market-basket rules withheld when degenerate."""
    baskets = {q.name: basket_stats(purchases, q.params["basket_column"], config)
               for q in queries if "basket_column" in q.params}
    results = []
    for query in queries:
        result = run_query(spark, query, config)
        if query.name in baskets and baskets[query.name].degenerate:
            result = replace(result, frame=result.frame.head(0))  # header only: no meaningless lifts
        results.append(save_csv(result, config.queries_dir))
    release(results)
    write_json({name: stats.as_dict() for name, stats in baskets.items()}, config.basket_summary_json)
    return results, baskets


def analyze(spark, config: Config) -> Analysis:
    purchases = load_purchases(spark, config)
    try:
        totals = eda.totals(spark, VIEW)  # first action: fills the cache
        if totals["rows"] == 0:
            raise ShopSenseError(f"processed data in {config.processed_dir} is empty: nothing to analyze")
        profile = eda.profile(spark, VIEW)
        kpis = eda.kpis(totals, profile)
        write_json(kpis, config.kpis_json)
        config.distributions_csv.parent.mkdir(parents=True, exist_ok=True)
        profile.to_csv(config.distributions_csv, index=False)
        plots = write_plots(profile, kpis, config.plots_dir)
        results, baskets = run_suite(spark, purchases, config)
        page = render_report(kpis, plots, results, baskets, config.processed_dir, config.report_max_table_rows)
        report = write_report(page, config.report_html)
    finally:
        purchases.unpersist()
    return Analysis(kpis, plots, results, baskets, report)
