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
from shopsense.analytics.absent import absent_columns, no_column, presence_sql

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
    """Whole-log numbers in one aggregation (portable SQL: the benchmark runs it on DuckDB too), with each
    optional column's count of values (absent.absent_columns)."""
    return f"""
        SELECT COUNT(*) AS rows,
               COUNT(DISTINCT customer_id) AS customers,
               ROUND(SUM(purchase_amount_usd), 2) AS revenue,
               AVG(purchase_amount_usd) AS avg_amount,
               AVG(review_rating) AS avg_rating,
               COUNT_IF(promo_code_used) AS promo_purchases,
               COUNT_IF(discount_applied) AS discount_purchases,
               {presence_sql()}
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


# The KPIs read from an optional column: None (null in kpis.json) when the input had no such column.
KPI_COLUMNS: dict[str, str] = {
    "avg_review_rating": "review_rating",
    "gender_split": "gender",
    "subscriber_share": "subscription_status",
    "promo_code_rate": "promo_code_used",
    "discount_rate": "discount_applied",
}


@dataclass(frozen=True)
class Kpis:
    """Headline KPIs; reports/kpis.json is `as_json()`. Customer counts and shares are of distinct customers."""
    rows: int
    distinct_customers: int
    total_revenue_usd: float
    avg_transaction_value_usd: float
    avg_purchases_per_customer: float
    avg_review_rating: float | None
    top_category_by_count: str
    top_category_by_revenue: str
    gender_split: dict[str, GenderShare] | None
    subscriber_share: float | None  # of customers
    promo_code_rate: float | None  # of purchases
    discount_rate: float | None  # of purchases

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Kpis":
        """The KPIs of a kpis.json; TypeError when the file has another layout."""
        if not isinstance(data, dict) or not isinstance(data.get("gender_split", ()), (dict, type(None))):
            raise TypeError("not a kpis.json layout")
        split = data["gender_split"]
        return cls(**{**data, "gender_split": None if split is None else
                      {g: GenderShare(**v) for g, v in split.items()}})

    def labelled(self, include_rows: bool = True) -> list[tuple[str, str]]:
        """(label, value) in reading order: the CLI's lines, the report's cards, the run summary (which has
        the rows in a column of its own)."""
        def shown(field: str, text) -> str:
            """The KPI as text, or why there is none."""
            value = getattr(self, field)
            return no_column(KPI_COLUMNS[field]) if value is None else text(value)

        genders = shown("gender_split", lambda split: ", ".join(
            f"{g} {v.share:.1%} ({v.customers:,})" for g, v in split.items()))
        if self.promo_code_rate is None or self.discount_rate is None:
            rates = [(f"{what} rate", shown(field, lambda rate: f"{rate:.1%} of purchases"))
                     for what, field in (("promo code", "promo_code_rate"), ("discount", "discount_rate"))]
        else:
            rates = [("promo code / discount rate",
                      f"{self.promo_code_rate:.1%} / {self.discount_rate:.1%} of purchases")]
        pairs = [
            ("rows", f"{self.rows:,}"),
            ("distinct customers", f"{self.distinct_customers:,}"),
            ("total revenue", f"${self.total_revenue_usd:,.2f}"),
            ("average transaction value", f"${self.avg_transaction_value_usd:,.2f}"),
            ("top category by count", self.top_category_by_count),
            ("top category by revenue", self.top_category_by_revenue),
            ("gender split (distinct customers)", genders),
            ("subscribers", shown("subscriber_share", lambda share: f"{share:.1%} of customers")),
            *rates,
        ]
        return pairs if include_rows else pairs[1:]

    def lines(self, include_rows: bool = True) -> list[str]:
        return [f"{label}: {value}" for label, value in self.labelled(include_rows)]


def kpis(totals_row: dict, profile_frame: pd.DataFrame) -> Kpis:
    """Headline KPIs from `totals` and `profile`; a KPI of an optional column the input lacked is None."""
    customers = int(totals_row["customers"])
    rows = int(totals_row["rows"])
    genders = profile_frame[profile_frame["dimension"] == "gender"].sort_values("value")
    subscribers = profile_frame[(profile_frame["dimension"] == "subscription_status")
                                & (profile_frame["value"] == "true")]["customers"].sum()
    figures = dict(
        avg_review_rating=lambda: round(float(totals_row["avg_rating"]), 2),
        gender_split=lambda: {
            str(g["value"]): GenderShare(int(g["customers"]), round(g["customers"] / customers, 4))
            for _, g in genders.iterrows()
        },
        subscriber_share=lambda: round(int(subscribers) / customers, 4),
        # Rates from exact counts: an engine's own decimal AVG rounds once more before ours (double rounding).
        promo_code_rate=lambda: round(int(totals_row["promo_purchases"]) / rows, 4),
        discount_rate=lambda: round(int(totals_row["discount_purchases"]) / rows, 4),
    )
    absent = absent_columns(totals_row)
    return Kpis(
        rows=rows,
        distinct_customers=customers,
        total_revenue_usd=float(totals_row["revenue"]),
        avg_transaction_value_usd=round(float(totals_row["avg_amount"]), 2),
        avg_purchases_per_customer=round(rows / customers, 2),
        top_category_by_count=_top(profile_frame, "category", "purchases"),
        top_category_by_revenue=_top(profile_frame, "category", "revenue"),
        **{name: None if KPI_COLUMNS[name] in absent else figure() for name, figure in figures.items()},
    )


def format_kpis(k: dict) -> list[str]:
    """Human-readable KPI lines of a kpis.json (the app reads the file); TypeError for another layout."""
    return Kpis.from_json(k).lines()
