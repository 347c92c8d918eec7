"""Exploratory profile and headline KPIs of the purchase log.

All distributions come from ONE Spark query: every row is unpivoted into (dimension, value) pairs and
grouped, giving purchases (rows), customers (distinct customer ids, never rows) and revenue per value of
every dimension. The result is tiny (a few hundred rows) and goes to pandas for plots and KPIs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from shopsense import schema

# Profiled dimensions: name in the output -> SQL expression (cast to string so one column holds all).
DIMENSIONS: dict[str, str] = {
    "age": "CAST(age AS STRING)",
    "age_group": schema.age_group_sql("age"),
    "gender": "gender",
    "category": "category",
    "item_purchased": "item_purchased",
    "season": "season",
    "location": "location",
    "payment_method": "payment_method",
    "shipping_type": "shipping_type",
    "size": "size",
    "color": "color",
    "review_rating": "CAST(ROUND(review_rating, 1) AS STRING)",
    "subscription_status": "CAST(subscription_status AS STRING)",
    "discount_applied": "CAST(discount_applied AS STRING)",
    "promo_code_used": "CAST(promo_code_used AS STRING)",
    "frequency_of_purchases": "frequency_of_purchases",
}
PROFILE_COLUMNS = ["dimension", "value", "purchases", "customers", "revenue"]


def profile_sql(view: str) -> str:
    """Two levels: (dimension, value, customer) first, then (dimension, value). Counting customers as the
    rows of the first level is COUNT(DISTINCT customer_id) without Spark's distinct expansion, and on a log
    partitioned by customer (analyze's cache) the first level runs without any shuffle (5.8x faster at 5M
    rows, docs/benchmarks.md). The first level keys a dimension by its number, not its name: a smaller key in
    hash tables with one entry per (dimension, value, customer); the names come back on the few output rows."""
    structs = ", ".join(f"named_struct('dimension_number', {number}, 'value', {expr})"
                        for number, expr in enumerate(DIMENSIONS.values()))
    names = " ".join(f"WHEN {number} THEN '{name}'" for number, name in enumerate(DIMENSIONS))
    return f"""
        WITH per_customer AS (
            SELECT d.dimension_number, d.value, customer_id,
                   COUNT(*) AS purchases, SUM(purchase_amount_usd) AS revenue
            FROM {view} LATERAL VIEW inline(array({structs})) d AS dimension_number, value
            GROUP BY d.dimension_number, d.value, customer_id
        )
        SELECT CASE dimension_number {names} END AS dimension, value,
               SUM(purchases) AS purchases,
               COUNT(*) AS customers,
               ROUND(SUM(revenue), 2) AS revenue
        FROM per_customer
        GROUP BY dimension_number, value
        ORDER BY dimension, value
    """


def profile(spark, view: str) -> pd.DataFrame:
    """purchases, distinct customers and revenue per value of every dimension in DIMENSIONS."""
    return spark.sql(profile_sql(view)).toPandas()[PROFILE_COLUMNS]


def totals_sql(view: str) -> str:
    """Whole-log numbers in one aggregation (portable SQL: the benchmark runs it on DuckDB too)."""
    return f"""
        SELECT COUNT(*) AS rows,
               COUNT(DISTINCT customer_id) AS customers,
               ROUND(SUM(purchase_amount_usd), 2) AS revenue,
               AVG(purchase_amount_usd) AS avg_amount,
               AVG(review_rating) AS avg_rating,
               COUNT_IF(promo_code_used) AS promo_purchases,
               COUNT_IF(discount_applied) AS discount_purchases
        FROM {view}
    """


def totals(spark, view: str) -> dict:
    """Whole-log numbers in one aggregation."""
    return spark.sql(totals_sql(view)).first().asDict()


def _top(frame: pd.DataFrame, dimension: str, by: str) -> str:
    """The value with the highest `by`; ties go to the alphabetically first value."""
    rows = frame[frame["dimension"] == dimension].sort_values([by, "value"], ascending=[False, True])
    return str(rows.iloc[0]["value"])


@dataclass(frozen=True)
class GenderShare:
    customers: int
    share: float  # of distinct customers, 0-1


@dataclass(frozen=True)
class Kpis:
    """Headline KPIs; reports/kpis.json is `as_json()`. Customer counts and shares are of distinct customers."""
    rows: int
    distinct_customers: int
    total_revenue_usd: float
    avg_transaction_value_usd: float
    avg_purchases_per_customer: float
    avg_review_rating: float
    top_category_by_count: str
    top_category_by_revenue: str
    gender_split: dict[str, GenderShare]
    subscriber_share: float
    promo_code_rate: float  # of purchases
    discount_rate: float  # of purchases

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Kpis":
        """The KPIs of a kpis.json; TypeError when the file has another layout."""
        if not isinstance(data, dict) or not isinstance(data.get("gender_split"), dict):
            raise TypeError("not a kpis.json layout")
        return cls(**{**data, "gender_split": {g: GenderShare(**v) for g, v in data["gender_split"].items()}})

    def labelled(self, include_rows: bool = True) -> list[tuple[str, str]]:
        """(label, value) in reading order: the CLI's lines, the report's cards, the run summary (which has
        the rows in a column of its own)."""
        genders = ", ".join(f"{g} {v.share:.1%} ({v.customers:,})" for g, v in self.gender_split.items())
        pairs = [
            ("rows", f"{self.rows:,}"),
            ("distinct customers", f"{self.distinct_customers:,}"),
            ("total revenue", f"${self.total_revenue_usd:,.2f}"),
            ("average transaction value", f"${self.avg_transaction_value_usd:,.2f}"),
            ("top category by count", self.top_category_by_count),
            ("top category by revenue", self.top_category_by_revenue),
            ("gender split (distinct customers)", genders),
            ("subscribers", f"{self.subscriber_share:.1%} of customers"),
            ("promo code / discount rate", f"{self.promo_code_rate:.1%} / {self.discount_rate:.1%} of purchases"),
        ]
        return pairs if include_rows else pairs[1:]

    def lines(self, include_rows: bool = True) -> list[str]:
        return [f"{label}: {value}" for label, value in self.labelled(include_rows)]


def kpis(totals_row: dict, profile_frame: pd.DataFrame) -> Kpis:
    """Headline KPIs from `totals` and `profile`."""
    customers = int(totals_row["customers"])
    genders = profile_frame[profile_frame["dimension"] == "gender"].sort_values("value")
    subscribers = profile_frame[(profile_frame["dimension"] == "subscription_status")
                                & (profile_frame["value"] == "true")]["customers"].sum()
    return Kpis(
        rows=int(totals_row["rows"]),
        distinct_customers=customers,
        total_revenue_usd=float(totals_row["revenue"]),
        avg_transaction_value_usd=round(float(totals_row["avg_amount"]), 2),
        avg_purchases_per_customer=round(int(totals_row["rows"]) / customers, 2),
        avg_review_rating=round(float(totals_row["avg_rating"]), 2),
        top_category_by_count=_top(profile_frame, "category", "purchases"),
        top_category_by_revenue=_top(profile_frame, "category", "revenue"),
        gender_split={
            str(g["value"]): GenderShare(int(g["customers"]), round(g["customers"] / customers, 4))
            for _, g in genders.iterrows()
        },
        subscriber_share=round(int(subscribers) / customers, 4),
        # Rates from exact counts: an engine's own decimal AVG rounds once more before ours (double rounding).
        promo_code_rate=round(int(totals_row["promo_purchases"]) / int(totals_row["rows"]), 4),
        discount_rate=round(int(totals_row["discount_purchases"]) / int(totals_row["rows"]), 4),
    )


def format_kpis(k: dict) -> list[str]:
    """Human-readable KPI lines of a kpis.json (the app reads the file); TypeError for another layout."""
    return Kpis.from_json(k).lines()
