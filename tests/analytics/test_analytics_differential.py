"""Differential tests: every query of the SQL suite, re-implemented independently in DuckDB or pandas over
the same generated input, gives the same numbers. Counts and cent-rounded sums must match exactly; values
the suite rounds (averages to cents, shares to 4 decimals) match within one unit of that last place."""
from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from shopsense import schema

CENT, SHARE = 0.01 + 1e-9, 1e-4 + 1e-9
FREQUENT = ("Weekly", "Bi-Weekly", "Fortnightly")


@pytest.fixture(scope="module")
def frame(analysis_frame) -> pd.DataFrame:
    """The input with an age_group column computed in pandas from the AGE_GROUPS bounds."""
    out = analysis_frame.copy()
    labels = [label for label, _, _ in schema.AGE_GROUPS]
    edges = [schema.AGE_GROUPS[0][1] - 1] + [high for _, _, high in schema.AGE_GROUPS]
    out["age_group"] = pd.cut(out["age"], bins=edges, labels=labels).astype(str)
    return out


@pytest.fixture(scope="module")
def duck(frame):
    con = duckdb.connect()
    con.register("p", frame)
    yield con
    con.close()


def saved(analysis, name: str) -> pd.DataFrame:
    config, _ = analysis
    return pd.read_csv(config.queries_dir / f"{name}.csv")


def assert_matches(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str], exact: list[str],
                   approx: dict[str, float]) -> None:
    a = actual.sort_values(keys).reset_index(drop=True)
    e = expected.sort_values(keys).reset_index(drop=True)
    assert len(a) == len(e), f"{len(a)} rows, expected {len(e)}"
    for col in keys + exact:
        assert a[col].astype(str).tolist() == e[col].astype(str).tolist(), col
    for col, tol in approx.items():
        assert np.allclose(a[col].astype(float), e[col].astype(float), atol=tol, rtol=0, equal_nan=True), col


def test_top_categories_by_age_group(analysis, duck):
    expected = duck.sql("""
        SELECT age_group, category, count(*) AS purchases, round(sum(purchase_amount_usd), 2) AS revenue,
               sum(purchase_amount_usd) / sum(sum(purchase_amount_usd)) OVER (PARTITION BY age_group)
                   AS revenue_share,
               row_number() OVER (PARTITION BY age_group
                                  ORDER BY sum(purchase_amount_usd) DESC, count(*) DESC, category) AS category_rank
        FROM p GROUP BY age_group, category
        QUALIFY category_rank <= 3
    """).df()
    actual = saved(analysis, "top_categories_by_age_group")
    assert_matches(actual, expected, ["age_group", "category_rank"], ["category", "purchases", "revenue"],
                   {"revenue_share": SHARE})
    # Rows come in the natural age-group order, best category first.
    order = [label for label, _, _ in schema.AGE_GROUPS]
    assert actual["age_group"].map(order.index).is_monotonic_increasing


def test_subscription_impact(analysis, frame):
    g = frame.groupby("subscription_status")
    expected = pd.DataFrame({
        "customers": g["customer_id"].nunique(),
        "purchases": g.size(),
        "revenue": g["purchase_amount_usd"].sum().round(2),
        "avg_purchase_amount": g["purchase_amount_usd"].mean(),
        "avg_review_rating": g["review_rating"].mean(),
        "avg_previous_purchases": g["previous_purchases"].mean(),
        "frequent_buyer_share": g["frequency_of_purchases"].agg(lambda s: s.isin(FREQUENT).mean()),
    }).reset_index()
    expected["purchases_per_customer"] = expected["purchases"] / expected["customers"]
    expected["spend_per_customer"] = expected["revenue"] / expected["customers"]
    expected["revenue_share"] = expected["revenue"] / expected["revenue"].sum()
    assert_matches(saved(analysis, "subscription_impact"), expected, ["subscription_status"],
                   ["customers", "purchases", "revenue"],
                   {"avg_purchase_amount": CENT, "avg_review_rating": CENT, "avg_previous_purchases": CENT,
                    "purchases_per_customer": CENT, "spend_per_customer": CENT, "revenue_share": SHARE,
                    "frequent_buyer_share": SHARE})


def test_promotion_effectiveness(analysis, duck):
    expected = duck.sql("""
        WITH counts AS (SELECT customer_id, count(*) AS n FROM p GROUP BY customer_id),
        combos AS (
            SELECT discount_applied, promo_code_used, count(*) AS purchases,
                   count(DISTINCT customer_id) AS customers, round(sum(purchase_amount_usd), 2) AS revenue,
                   avg(purchase_amount_usd) AS avg_purchase_amount, avg(review_rating) AS avg_review_rating,
                   avg(previous_purchases) AS avg_previous_purchases,
                   count(DISTINCT customer_id) FILTER (WHERE n > 1) / count(DISTINCT customer_id)
                       AS repeat_customer_share
            FROM p JOIN counts USING (customer_id)
            GROUP BY discount_applied, promo_code_used),
        base AS (SELECT * FROM combos WHERE NOT discount_applied AND NOT promo_code_used)
        SELECT c.*, c.purchases / sum(c.purchases) OVER () AS purchase_share,
               c.avg_purchase_amount - base.avg_purchase_amount AS spend_vs_baseline,
               c.avg_review_rating - base.avg_review_rating AS rating_vs_baseline,
               c.repeat_customer_share - base.repeat_customer_share AS repeat_share_vs_baseline
        FROM combos c CROSS JOIN base
    """).df()
    actual = saved(analysis, "promotion_effectiveness")
    assert 0 < actual["repeat_customer_share"].min() < 1  # the one-time buyers make it informative
    assert_matches(actual, expected, ["discount_applied", "promo_code_used"], ["purchases", "customers", "revenue"],
                   {"purchase_share": SHARE, "avg_purchase_amount": CENT, "avg_review_rating": CENT,
                    "avg_previous_purchases": CENT, "repeat_customer_share": SHARE,
                    "spend_vs_baseline": 2 * CENT, "rating_vs_baseline": 2 * CENT,
                    "repeat_share_vs_baseline": 2 * SHARE})


def test_payment_shipping_preferences(analysis, frame):
    parts = []
    for column in ("payment_method", "shipping_type"):
        g = frame.groupby(column)
        part = pd.DataFrame({
            "purchases": g.size(),
            "customers": g["customer_id"].nunique(),
            "revenue": g["purchase_amount_usd"].sum().round(2),
            "median_amount": g["purchase_amount_usd"].median(),
            "avg_amount": g["purchase_amount_usd"].mean(),
        }).reset_index().rename(columns={column: "choice"})
        part = part.sort_values(["purchases", "revenue", "choice"], ascending=[False, False, True])
        part["preference_rank"] = range(1, len(part) + 1)
        part["purchase_share"] = part["purchases"] / len(frame)
        part["preference"] = column
        parts.append(part)
    assert_matches(saved(analysis, "payment_shipping_preferences"), pd.concat(parts),
                   ["preference", "preference_rank"], ["choice", "purchases", "customers", "revenue"],
                   {"median_amount": CENT, "avg_amount": CENT, "purchase_share": SHARE})


def test_seasonal_trends(analysis, duck):
    expected = duck.sql("""
        WITH s AS (
            SELECT season, category, count(*) AS purchases, round(sum(purchase_amount_usd), 2) AS revenue,
                   avg(purchase_amount_usd) AS avg_amount
            FROM p GROUP BY season, category)
        SELECT *, sum(revenue) OVER (PARTITION BY season) AS season_revenue,
               revenue / sum(revenue) OVER (PARTITION BY season) AS season_share,
               row_number() OVER (PARTITION BY season ORDER BY revenue DESC, purchases DESC, category) AS season_rank
        FROM s
    """).df()
    totals = expected.groupby("season")["season_revenue"].first().reset_index()
    totals = totals.sort_values(["season_revenue", "season"], ascending=[False, True])
    expected = expected.merge(totals.assign(season_revenue_rank=range(1, len(totals) + 1))
                              [["season", "season_revenue_rank"]], on="season")
    assert_matches(saved(analysis, "seasonal_trends"), expected, ["season", "season_rank"],
                   ["category", "purchases", "revenue", "season_revenue", "season_revenue_rank"],
                   {"season_share": SHARE, "avg_amount": CENT})


def clv_segments(tiles: pd.DataFrame) -> pd.Series:
    """The documented segment rules, re-implemented."""
    s, f, l = tiles["spend_quartile"], tiles["frequency_quartile"], tiles["loyalty_quartile"]
    return pd.Series(np.select(
        [(s >= 3) & (f >= 3) & (l >= 3), (f >= 3) & (l >= 3), s >= 3, (s <= 2) & (f <= 2) & (l <= 2)],
        ["Champions", "Loyal", "Big Spenders", "At Risk"], "Regular"), index=tiles.index)


@pytest.fixture(scope="module")
def expected_clv(duck) -> pd.DataFrame:
    clv = duck.sql("""
        WITH c AS (
            SELECT customer_id, count(*) AS purchases, round(sum(purchase_amount_usd), 2) AS total_spend,
                   max(previous_purchases) AS loyalty
            FROM p GROUP BY customer_id)
        SELECT *, total_spend / purchases AS avg_basket,
               ntile(4) OVER (ORDER BY total_spend, customer_id) AS spend_quartile,
               ntile(4) OVER (ORDER BY purchases, customer_id) AS frequency_quartile,
               ntile(4) OVER (ORDER BY loyalty, customer_id) AS loyalty_quartile
        FROM c
    """).df()
    clv["segment"] = clv_segments(clv)
    return clv


def test_customer_lifetime_value(analysis, expected_clv, frame):
    actual = saved(analysis, "customer_lifetime_value")
    assert actual["customer_id"].is_unique and len(actual) == frame["customer_id"].nunique()
    # Spark writes this CSV itself (one row per customer): it keeps the query's ORDER BY.
    ordered = actual.sort_values(["segment_rank", "total_spend", "customer_id"], ascending=[False, False, True])
    assert actual["customer_id"].tolist() == ordered["customer_id"].tolist()
    assert_matches(actual, expected_clv, ["customer_id"],
                   ["purchases", "total_spend", "loyalty", "spend_quartile", "frequency_quartile",
                    "loyalty_quartile", "segment"], {"avg_basket": CENT})
    # NTILE(4): quartiles differ in size by at most one customer.
    sizes = actual["spend_quartile"].value_counts()
    assert sorted(sizes.index) == [1, 2, 3, 4] and sizes.max() - sizes.min() <= 1


def test_clv_segments_are_monotone(analysis):
    """Raising any quartile never gives a lower segment: check every dominated pair of observed tiles."""
    actual = saved(analysis, "customer_lifetime_value")
    tiles = actual.groupby(["spend_quartile", "frequency_quartile", "loyalty_quartile"])["segment_rank"].agg(set)
    assert all(len(ranks) == 1 for ranks in tiles), "one segment per quartile combination"
    rank = {key: next(iter(ranks)) for key, ranks in tiles.items()}
    assert len(rank) >= 32, "the test data covers most quartile combinations"
    for low, low_rank in rank.items():
        for high, high_rank in rank.items():
            if all(h >= lo for h, lo in zip(high, low)):
                assert high_rank >= low_rank, (low, high)
    assert set(actual["segment"]) == {"Champions", "Loyal", "Big Spenders", "Regular", "At Risk"}
    # Rank order: better segments hold higher average spend per customer on this data.
    summary = saved(analysis, "clv_segment_summary")
    assert summary.set_index("segment").loc["Champions", "avg_total_spend"] == summary["avg_total_spend"].max()


def test_clv_segment_summary(analysis, expected_clv):
    g = expected_clv.groupby("segment")
    expected = pd.DataFrame({"customers": g.size(), "revenue": g["total_spend"].sum().round(2),
                             "avg_total_spend": g["total_spend"].mean(),
                             "avg_purchases": g["purchases"].mean()}).reset_index()
    expected["customer_share"] = expected["customers"] / len(expected_clv)
    expected["revenue_share"] = expected["revenue"] / expected_clv["total_spend"].sum()
    actual = saved(analysis, "clv_segment_summary")
    assert actual["segment_rank"].is_monotonic_decreasing
    assert_matches(actual, expected, ["segment"], ["customers", "revenue"],
                   {"customer_share": SHARE, "revenue_share": SHARE, "avg_total_spend": CENT,
                    "avg_purchases": CENT})


def test_geographic_patterns(analysis, frame):
    g = frame.groupby("location")
    states = pd.DataFrame({"purchases": g.size(), "customers": g["customer_id"].nunique(),
                           "revenue": g["purchase_amount_usd"].sum().round(2)}).reset_index()
    states = states.rename(columns={"location": "state"})
    states = states.sort_values(["revenue", "purchases", "state"], ascending=[False, False, True])
    states["revenue_rank"] = range(1, len(states) + 1)
    states["revenue_share"] = states["revenue"] / states["revenue"].sum()
    cats = frame.groupby(["location", "category"]).agg(
        top_category_revenue=("purchase_amount_usd", "sum"), n=("customer_id", "size")).reset_index()
    cats = cats.sort_values(["location", "top_category_revenue", "n", "category"],
                            ascending=[True, False, False, True]).groupby("location").head(1)
    cats = cats.rename(columns={"location": "state", "category": "top_category"})
    expected = states.merge(cats, on="state")
    expected["top_category_share"] = expected["top_category_revenue"] / expected["revenue"]
    assert_matches(saved(analysis, "geographic_patterns"), expected, ["revenue_rank"],
                   ["state", "purchases", "customers", "revenue", "top_category", "top_category_revenue"],
                   {"revenue_share": SHARE, "top_category_share": SHARE})


def pandas_pair_rules(frame: pd.DataFrame, column: str, min_support: float) -> pd.DataFrame:
    """Market-basket pairs by a pandas merge (independent of the SQL self-join)."""
    baskets = frame[["customer_id", column]].drop_duplicates()
    n = baskets["customer_id"].nunique()
    counts = baskets[column].value_counts()
    pairs = baskets.merge(baskets, on="customer_id")
    pairs = pairs[pairs[f"{column}_x"] < pairs[f"{column}_y"]]
    pairs = pairs.groupby([f"{column}_x", f"{column}_y"]).size().rename("pair_baskets").reset_index()
    pairs.columns = ["item_a", "item_b", "pair_baskets"]
    pairs = pairs[pairs["pair_baskets"] >= math.ceil(min_support * n)]
    a, b = counts[pairs["item_a"]].to_numpy(), counts[pairs["item_b"]].to_numpy()
    return pairs.assign(support=pairs["pair_baskets"] / n, confidence_a_to_b=pairs["pair_baskets"] / a,
                        confidence_b_to_a=pairs["pair_baskets"] / b, lift=pairs["pair_baskets"] * n / (a * b),
                        baskets=n)


@pytest.mark.parametrize("name,column", [("market_basket_items", "item_purchased"),
                                         ("market_basket_categories", "category")])
def test_market_basket(analysis, frame, name, column):
    config, _ = analysis
    expected = pandas_pair_rules(frame, column, config.basket_min_support)
    actual = saved(analysis, name)
    assert len(actual) > 0
    assert_matches(actual, expected, ["item_a", "item_b"], ["pair_baskets", "baskets"],
                   {"support": 1e-12, "confidence_a_to_b": 1e-12, "confidence_b_to_a": 1e-12, "lift": 1e-9})
    assert actual["lift"].is_monotonic_decreasing  # strongest first


def test_demographic_segments(analysis, duck):
    expected = duck.sql("""
        SELECT age_group, gender, subscription_status, count(DISTINCT customer_id) AS customers,
               count(*) AS purchases, round(sum(purchase_amount_usd), 2) AS revenue,
               sum(purchase_amount_usd) / sum(sum(purchase_amount_usd)) OVER () AS revenue_share,
               sum(purchase_amount_usd) / count(DISTINCT customer_id) AS spend_per_customer
        FROM p GROUP BY age_group, gender, subscription_status
    """).df()
    order = {label: i for i, (label, _, _) in enumerate(schema.AGE_GROUPS)}
    expected = expected.assign(_age=expected["age_group"].map(order)).sort_values(
        ["revenue", "customers", "_age", "gender", "subscription_status"],
        ascending=[False, False, True, True, True])
    expected["revenue_rank"] = range(1, len(expected) + 1)
    actual = saved(analysis, "demographic_segments")
    assert_matches(actual, expected, ["age_group", "gender", "subscription_status"],
                   ["customers", "purchases", "revenue", "revenue_rank"],
                   {"revenue_share": SHARE, "spend_per_customer": CENT})
    assert actual["revenue"].sum() == pytest.approx(expected["revenue"].sum(), abs=0.005)
