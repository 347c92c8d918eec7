"""The SQL suite's runner: queries run two at a time give exactly the results of one at a time, a query runs
after the results it reads, and a failing query stops the suite with its own error."""
from __future__ import annotations

import pytest

from shopsense.analytics import stage
from shopsense.analytics.stage import query_chains, run_suite
from shopsense.analytics.queries import BASKET_ITEMS, QUERIES
from shopsense.schema import PROCESSED_SCHEMA

BY_NAME = {q.name: q for q in QUERIES}
# The per-customer query with its reader, an aggregate and a market basket: every kind of query, few jobs.
SUBSET = (BY_NAME["top_categories_by_age_group"], BY_NAME["customer_lifetime_value"],
          BY_NAME["clv_segment_summary"], BASKET_ITEMS)


def test_a_query_runs_in_the_chain_of_the_result_it_reads():
    chains = query_chains(QUERIES)
    names = [[q.name for q in chain] for chain in chains]
    assert ["customer_lifetime_value", "clv_segment_summary"] in names
    assert sorted(q.name for chain in chains for q in chain) == sorted(BY_NAME)  # each query once
    assert all(len(chain) == 1 for chain in names if "customer_lifetime_value" not in chain)


def test_concurrent_queries_give_the_results_of_sequential_ones(spark, config, analysis_frame, as_purchases):
    purchases = as_purchases(spark.createDataFrame(analysis_frame, schema=PROCESSED_SCHEMA)).cache()
    try:
        runs = {}
        for concurrent in (1, 2):
            run_config = config.with_overrides(home=config.home / f"concurrent-{concurrent}",
                                               analyze_concurrent_queries=concurrent)
            results, baskets = run_suite(spark, purchases, run_config, queries=SUBSET)
            runs[concurrent] = ([r.name for r in results], [r.path.read_text() for r in results], baskets)
    finally:
        purchases.unpersist()
    assert runs[1][0] == runs[2][0] == [q.name for q in SUBSET]  # suite order
    assert runs[1][1] == runs[2][1]  # every CSV byte for byte
    assert runs[1][2] == runs[2][2]
    assert all(text.count("\n") > 1 for text in runs[2][1])  # none of them empty


def test_a_failing_query_stops_the_suite_with_its_error(spark, config, analysis_frame, as_purchases, monkeypatch):
    as_purchases(spark.createDataFrame(analysis_frame, schema=PROCESSED_SCHEMA))
    real_run_query = stage.run_query

    def run_query(spark, query, config):
        if query.name == "clv_segment_summary":
            raise RuntimeError("boom")
        return real_run_query(spark, query, config)

    monkeypatch.setattr(stage, "run_query", run_query)
    with pytest.raises(RuntimeError, match="boom"):
        run_suite(spark, spark.table("purchases"), config, queries=SUBSET)
