"""Market basket: planted pairs win, independent purchases give lift ~1, FPGrowth agrees with the SQL,
and degenerate baskets are called out instead of producing meaningless lifts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopsense.analytics import eda
from shopsense.analytics.basket import basket_stats, fpgrowth_pair_rules
from shopsense.analytics.stage import run_suite
from shopsense.analytics.queries import BASKET_CATEGORIES, BASKET_ITEMS, VIEW, run_query
from shopsense.analytics.report import render_report
from shopsense.generate import STYLE_ITEMS, to_processed_frame
from shopsense.io import read_processed
from shopsense.schema import PROCESSED_SCHEMA

SAMPLE_CSV = Path(__file__).parents[1] / "fixtures" / "shopping_sample.csv"  # 100 real rows, one per customer

PLANTED = {frozenset((a, b)) for items in STYLE_ITEMS.values() for a in items for b in items if a < b}


def test_planted_pairs_come_out_on_top(analysis):
    config, _ = analysis
    rules = pd.read_csv(config.queries_dir / "market_basket_items.csv")
    top = rules.head(10)
    assert all(frozenset((a, b)) in PLANTED for a, b in zip(top["item_a"], top["item_b"])), top
    assert (top["lift"] > 1.5).all(), top
    # Planted pairs as a whole are clearly above chance, the others are not.
    planted = rules[[frozenset(p) in PLANTED for p in zip(rules["item_a"], rules["item_b"])]]
    others = rules.drop(planted.index)
    assert planted["lift"].median() > 1.4 > 1.1 > others["lift"].median()


def independent_baskets(spark, customers=2000, items=10, p=0.5, seed=5):
    """Each customer buys each item independently with probability p: no association at all."""
    rng = np.random.default_rng(seed)
    chosen = rng.random((customers, items)) < p
    cust, item = np.nonzero(chosen)
    names = np.array([f"item_{i:02d}" for i in range(items)])
    frame = pd.DataFrame({"customer_id": cust.astype("int64") + 1, "item_purchased": names[item],
                          "category": np.where(item % 2 == 0, "even", "odd")})
    return spark.createDataFrame(frame)


def test_independent_purchases_give_lift_near_one(spark, config, as_purchases):
    purchases = as_purchases(independent_baskets(spark))
    assert not basket_stats(purchases, "item_purchased", config).degenerate
    rules = run_query(spark, BASKET_ITEMS, config).frame
    assert len(rules) == 45  # every pair of the 10 items is frequent at p = 0.5
    assert rules["lift"].between(0.85, 1.15).all(), rules[["item_a", "item_b", "lift"]]
    assert rules["lift"].median() == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("query,min_support", [(BASKET_ITEMS, 0.1), (BASKET_CATEGORIES, 0.3)])
def test_sql_rules_equal_fpgrowth(spark, analysis, as_purchases, query, min_support):
    config, _ = analysis
    config = config.with_overrides(basket_min_support=min_support)
    purchases = as_purchases(read_processed(spark, config))
    sql = run_query(spark, query, config).frame
    assert len(sql) > 0
    # The SQL has one row per pair with both directions; FPGrowth has one rule per direction.
    forward = sql.rename(columns={"item_a": "antecedent", "item_b": "consequent", "confidence_a_to_b": "confidence"})
    backward = sql.rename(columns={"item_b": "antecedent", "item_a": "consequent", "confidence_b_to_a": "confidence"})
    cols = ["antecedent", "consequent", "support", "confidence", "lift"]
    ours = pd.concat([forward[cols], backward[cols]]).sort_values(cols[:2]).reset_index(drop=True)
    column = query.params["basket_column"]
    theirs = fpgrowth_pair_rules(purchases, column, min_support).toPandas()
    theirs = theirs.sort_values(cols[:2]).reset_index(drop=True)
    assert ours[cols[:2]].equals(theirs[cols[:2]]), "same rules"
    for col in cols[2:]:
        assert np.allclose(ours[col], theirs[col], rtol=1e-12, atol=1e-12), col


def test_one_purchase_per_customer_is_degenerate(processed_df, config):
    purchases = processed_df(200, seed=3, customers=200)  # every customer id appears once
    stats = basket_stats(purchases, "item_purchased", config)
    assert stats.degenerate and stats.multi_item_baskets == 0 and stats.baskets == 200
    assert "not meaningful" in stats.message and "Rules are withheld" in stats.message


@pytest.mark.parametrize("multi,degenerate", [(3, True), (10, False)])
def test_degenerate_threshold(spark, config, multi, degenerate):
    """100 customers, `multi` of them with two items: below 5% multi-item baskets is degenerate."""
    rows = [(c, "Hat") for c in range(100)] + [(c, "Scarf") for c in range(multi)]
    purchases = spark.createDataFrame(rows, "customer_id long, item_purchased string")
    stats = basket_stats(purchases, "item_purchased", config)
    assert (stats.degenerate, stats.multi_item_baskets) == (degenerate, multi)


def test_degenerate_rules_are_withheld_with_a_plain_message(spark, config, as_purchases):
    """The public file has one row per customer id: no lifts, a plain message in the CSV, JSON and report."""
    frame = to_processed_frame(pd.read_csv(SAMPLE_CSV))
    purchases = as_purchases(spark.createDataFrame(frame, schema=PROCESSED_SCHEMA))
    results, baskets = run_suite(spark, purchases, config, queries=(BASKET_ITEMS, BASKET_CATEGORIES))
    assert [b.degenerate for b in baskets.values()] == [True, True]
    for result in results:
        lines = result.path.read_text().splitlines()
        assert len(lines) == 1  # header only: no meaningless lifts
        assert lines[0].startswith("item_a,item_b,pair_baskets,support,confidence_a_to_b,confidence_b_to_a,lift")
    summary = json.loads(config.basket_summary_json.read_text())
    assert summary["market_basket_items"]["degenerate"] and summary["market_basket_items"]["multi_item_baskets"] == 0
    kpis = eda.kpis(eda.totals(spark, VIEW), eda.profile(spark, VIEW))
    page = render_report(kpis, [], results, baskets, config.processed_dir, config.report_max_table_rows)
    assert page.count("is not meaningful here") == 2 and "<table>" not in page
