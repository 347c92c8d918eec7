"""Market-basket helpers: are the baskets worth mining at all, and the Spark ML FPGrowth cross-check.

The rules themselves come from `sql/market_basket.sql` (pair counting by self-join). A basket is one
customer's set of distinct items (or categories). When almost every customer bought a single thing (the
public 3,900-row file has one row per customer id) there are no pairs to learn from: the result is then
flagged as degenerate and its (meaningless) rules are withheld, with a plain message instead.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shopsense.config import Config


@dataclass(frozen=True)
class BasketStats:
    column: str
    baskets: int  # customers
    multi_item_baskets: int  # customers with 2+ distinct values of the column
    avg_basket_size: float  # distinct values per customer
    degenerate: bool
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def baskets(purchases: DataFrame, column: str) -> DataFrame:
    """One row per customer: `items`, the customer's set of distinct values of `column`."""
    return purchases.groupBy("customer_id").agg(F.array_sort(F.collect_set(column)).alias("items"))


def basket_stats(purchases: DataFrame, column: str, config: Config) -> BasketStats:
    """Basket counts in one small aggregation, and whether pair statistics can mean anything."""
    sizes = purchases.groupBy("customer_id").agg(F.countDistinct(column).alias("size"))
    row = sizes.agg(
        F.count("*").alias("baskets"),
        F.coalesce(F.sum((F.col("size") >= 2).cast("long")), F.lit(0)).alias("multi"),
        F.coalesce(F.avg("size"), F.lit(0.0)).alias("avg_size"),
    ).first()
    return basket_verdict(column, int(row["baskets"]), int(row["multi"]), float(row["avg_size"]), config)


def basket_verdict(column: str, total: int, multi: int, avg_size: float, config: Config) -> BasketStats:
    """The statistics and the degenerate verdict from the three counts (any engine can compute them)."""
    share = multi / total if total else 0.0
    degenerate = share < config.basket_min_multi_item_share
    if degenerate:
        message = (
            f"Market basket by {column} is not meaningful here: only {multi:,} of {total:,} customers "
            f"({share:.1%}) bought two or more different {column} values, so there are (almost) no pairs "
            "to count and lift/confidence would be meaningless. This happens when every customer id "
            "appears once, as in the public 3,900-row file. Rules are withheld."
        )
    else:
        message = (
            f"{total:,} baskets (customers), {multi:,} ({share:.1%}) with 2+ different {column} values, "
            f"{avg_size:.2f} on average."
        )
    return BasketStats(column, total, multi, round(avg_size, 4), degenerate, message)


def fpgrowth_pair_rules(purchases: DataFrame, column: str, min_support: float) -> DataFrame:
    """Spark ML FPGrowth association rules between single values (A -> B) on the same baskets.

    Columns: antecedent, consequent (strings), support, confidence, lift. Used to cross-check the SQL.
    """
    from pyspark.ml.fpm import FPGrowth

    model = FPGrowth(itemsCol="items", minSupport=min_support, minConfidence=0.0).fit(baskets(purchases, column))
    rules = model.associationRules
    return rules.where((F.size("antecedent") == 1) & (F.size("consequent") == 1)).select(
        F.col("antecedent")[0].alias("antecedent"),
        F.col("consequent")[0].alias("consequent"),
        "support",
        "confidence",
        "lift",
    )
