"""The five queries of the real-time layer as pure DataFrame -> DataFrame functions.

They work on streaming DataFrames (inside `shopsense stream run`) and on static ones alike: the tests use
the static form as the batch oracle. Window columns come out flat as `window_start` / `window_end`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shopsense import schema
from shopsense.streaming.intervals import interval_seconds
from shopsense.streaming.source import EVENT_ID, EVENT_TIME, FILE_TIME, RULES, STREAM_COLUMNS

AMOUNT = "purchase_amount_usd"
# 0.6745 = the 75th percentile of the standard normal: it makes the MAD comparable to a standard deviation,
# so a robust z-score reads like an ordinary one (Iglewicz & Hoaglin's "modified z-score").
MAD_TO_Z = 0.6745
# A MAD of zero (all reference amounts equal) would make every other amount infinitely far; floor it at
# this fraction of the median, and at one dollar.
MAD_FLOOR_FRACTION = 0.05
MAD_FLOOR_USD = 1.0


def _windowed(df: DataFrame, window: str, *keys: Column | str):
    return df.groupBy(F.window(EVENT_TIME, window).alias("window"), *keys)


def _flat_window(df: DataFrame) -> DataFrame:
    return df.select(
        F.col("window.start").alias("window_start"),
        F.col("window.end").alias("window_end"),
        *[c for c in df.columns if c != "window"],
    )


def _avg(column: str, digits: int = 2) -> Column:
    return F.round(F.avg(F.col(column).cast("double")), digits)


# --- the window aggregates ------------------------------------------------------------------------------
# Every aggregate a window query reports, by output column name; a name means the same thing in every query.
AGGREGATES: dict[str, Callable[[], Column]] = {
    "orders": lambda: F.count(F.lit(1)),
    "revenue": lambda: F.round(F.sum(AMOUNT), 2),
    "avg_order_value": lambda: F.round(F.sum(AMOUNT) / F.count(F.lit(1)), 2),
    # HyperLogLog++ (~5 % relative standard error): exact distinct counts are not supported in streaming
    # aggregations.
    "distinct_customers_approx": lambda: F.approx_count_distinct("customer_id"),
    "avg_amount": lambda: _avg(AMOUNT),
    "avg_rating": lambda: _avg("review_rating"),
    "promo_rate": lambda: _avg("promo_code_used", 3),
    "discount_rate": lambda: _avg("discount_applied", 3),
    "subscriber_share": lambda: _avg("subscription_status", 3),
    "avg_previous_purchases": lambda: _avg("previous_purchases", 1),
    # The outlier purchases of the window (collect_list skips the nulls of normal purchases).
    "outliers": lambda: F.collect_list(F.when(F.col("is_outlier"), F.struct(*OUTLIER_FIELDS))),
}


@dataclass(frozen=True)
class WindowQuery:
    """A window query: its grouping keys besides the window, and its aggregates (names of AGGREGATES)."""
    keys: tuple[str, ...]
    aggregates: tuple[str, ...]


AGE_GROUP = "age_group"
WINDOW_QUERIES: dict[str, WindowQuery] = {
    "sales_kpis": WindowQuery((), ("orders", "revenue", "avg_order_value", "distinct_customers_approx")),
    "category_performance": WindowQuery(("category",), (
        "orders", "revenue", "avg_amount", "avg_rating", "promo_rate", "discount_rate")),
    "customer_behaviour": WindowQuery((AGE_GROUP, "gender"), (
        "orders", "revenue", "avg_amount", "distinct_customers_approx", "subscriber_share",
        "avg_previous_purchases")),
    # The input of the anomaly query (its sink turns a window's outliers and revenue into alerts).
    "anomalies": WindowQuery((), ("orders", "revenue", "outliers")),
}


def _with_age_group(events: DataFrame) -> DataFrame:
    return events.withColumn(AGE_GROUP, schema.age_group_column())


def window_query(events: DataFrame, window: str, name: str) -> DataFrame:
    """One window query on its own (the batch oracle of the combined aggregation): per window and keys."""
    query = WINDOW_QUERIES[name]
    agg = _windowed(_with_age_group(events), window, *query.keys).agg(
        *[AGGREGATES[a]().alias(a) for a in query.aggregates])
    return _flat_window(agg)


def sales_kpis(events: DataFrame, window: str) -> DataFrame:
    """Per window: orders, revenue, average order value and distinct customers (approximate)."""
    return window_query(events, window, "sales_kpis")


def category_performance(events: DataFrame, window: str) -> DataFrame:
    return window_query(events, window, "category_performance")


def customer_behaviour(events: DataFrame, window: str) -> DataFrame:
    return window_query(events, window, "customer_behaviour")


# The grouping keys of the combined aggregation: one grain per distinct key set of WINDOW_QUERIES.
GRAIN = "grain"
GRAIN_KEYS: dict[str, tuple[str, ...]] = {"window": (), "category": ("category",), "customer": (AGE_GROUP, "gender")}
GRAIN_OF: dict[str, str] = {name: next(g for g, keys in GRAIN_KEYS.items() if keys == q.keys)
                            for name, q in WINDOW_QUERIES.items()}
_ALL_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for keys in GRAIN_KEYS.values() for k in keys))


def window_aggregates(scored: DataFrame, window: str) -> DataFrame:
    """The four window queries as ONE aggregation (one stateful operator, so one streaming query): every
    row is counted once per grain (its keys kept, the other grains' keys null), each group computes every
    aggregate of WINDOW_QUERIES, and `window_results` picks one query's rows and columns. The outlier list
    is only kept in the anomaly query's grain (elsewhere it would be state that nothing reads).

    One streaming query instead of four: a streaming query pays a fixed cost per micro-batch (planning,
    offset and commit logs, state store commit, scheduling) that outweighs the rows' cost on a small
    machine (docs/streaming.md, Decisions)."""
    grains = F.explode(F.array(*[
        F.struct(F.lit(grain).alias(GRAIN), *[(F.col(k) if k in keys else F.lit(None)).cast("string").alias(_key(k))
                                              for k in _ALL_KEYS])
        for grain, keys in GRAIN_KEYS.items()]))
    rows = (_with_age_group(scored).select("*", grains.alias("_g")).select("*", "_g.*").drop("_g")
            .withColumn("is_outlier", F.col("is_outlier") & (F.col(GRAIN) == GRAIN_OF["anomalies"])))
    names = dict.fromkeys(a for q in WINDOW_QUERIES.values() for a in q.aggregates)
    keys = [_key(k) for k in _ALL_KEYS]
    return _flat_window(_windowed(rows, window, GRAIN, *keys).agg(*[AGGREGATES[n]().alias(n) for n in names]))


def _key(column: str) -> str:
    """The combined aggregation's grouping column for a query key (null in the grains without it)."""
    return f"{GRAIN}_{column}"


def window_results(aggregates: DataFrame, name: str) -> DataFrame:
    """The rows of window query `name` in the combined aggregation's result, in its own layout."""
    query = WINDOW_QUERIES[name]
    return aggregates.filter(F.col(GRAIN) == GRAIN_OF[name]).select(
        "window_start", "window_end", *[F.col(_key(k)).alias(k) for k in query.keys], *query.aggregates)


# --- 4. anomalies ----------------------------------------------------------------------------------------
def _median(column: str) -> Column:
    return F.percentile(F.col(column), F.lit(0.5))


def reference_stats(purchases: DataFrame) -> DataFrame:
    """Per item: median and MAD (median absolute deviation) of the purchase amount in `purchases`.

    Items absent from `purchases` fall back to their category's statistics, then to all purchases, so
    every item of the contract has a row.
    """
    def stats(df: DataFrame, *keys: str) -> DataFrame:
        medians = df.groupBy(*keys).agg(_median(AMOUNT).alias("ref_median"))
        deviations = df.join(medians, list(keys)) if keys else df.crossJoin(medians)
        return deviations.groupBy(*keys).agg(
            F.first("ref_median").alias("ref_median"),
            F.percentile(F.abs(F.col(AMOUNT) - F.col("ref_median")), F.lit(0.5)).alias("ref_mad"),
        )

    spark = purchases.sparkSession
    items = spark.createDataFrame(list(schema.CATEGORY_OF_ITEM.items()), "item_purchased string, category string")
    per_item = stats(purchases, "item_purchased").withColumnsRenamed(
        {"ref_median": "item_median", "ref_mad": "item_mad"})
    per_category = stats(purchases, "category").withColumnsRenamed(
        {"ref_median": "category_median", "ref_mad": "category_mad"})
    overall = stats(purchases)
    joined = items.join(per_item, "item_purchased", "left").join(per_category, "category", "left").crossJoin(overall)
    median = F.coalesce("item_median", "category_median", "ref_median")
    mad = F.when(F.col("item_median").isNotNull(), F.col("item_mad")).otherwise(
        F.coalesce("category_mad", "ref_mad"))
    floor = F.greatest(median * MAD_FLOOR_FRACTION, F.lit(MAD_FLOOR_USD))
    return joined.select(
        "item_purchased",
        median.alias("ref_median"),
        F.greatest(mad, floor).alias("ref_mad"),
    )


def score_purchases(events: DataFrame, reference: DataFrame, z_threshold: float) -> DataFrame:
    """Adds `ref_median`, the robust z-score `amount_z` and `is_outlier` (|z| > z_threshold) per purchase."""
    z = F.lit(MAD_TO_Z) * (F.col(AMOUNT) - F.col("ref_median")) / F.col("ref_mad")
    scored = events.join(F.broadcast(reference), "item_purchased", "left")
    return scored.withColumn("amount_z", F.round(z, 3)).withColumn(
        "is_outlier", F.coalesce(F.abs(F.col("amount_z")) > z_threshold, F.lit(False)))


OUTLIER_FIELDS: tuple[str, ...] = (EVENT_ID, EVENT_TIME, "customer_id", "item_purchased", "category", AMOUNT,
                                   "ref_median", "amount_z")


ALERT_COLUMNS: tuple[str, ...] = ("kind", "window_start", "window_end", EVENT_ID, EVENT_TIME, "customer_id",
                                  "item_purchased", "category", "value", "expected", "score")


def purchase_alerts(windows: DataFrame) -> DataFrame:
    """One alert row per outlier purchase of the given windows."""
    exploded = windows.select("window_start", "window_end", F.explode("outliers").alias("o"))
    return exploded.select(
        F.lit("purchase_amount").alias("kind"),
        "window_start",
        "window_end",
        *[F.col(f"o.{name}").alias(name) for name in (EVENT_ID, EVENT_TIME, "customer_id", "item_purchased",
                                                         "category")],
        F.col(f"o.{AMOUNT}").cast("double").alias("value"),
        F.col("o.ref_median").cast("double").alias("expected"),
        F.col("o.amount_z").cast("double").alias("score"),
    )


def _array_median(values: Column) -> Column:
    ordered = F.array_sort(values)
    n = F.size(ordered)
    low = F.try_element_at(ordered, F.floor((n + 1) / 2).cast("int"))
    high = F.try_element_at(ordered, F.ceil((n + 1) / 2).cast("int"))
    return F.when(n > 0, (low + high) / 2)


def revenue_alerts(windows: DataFrame, history: int, min_history: int, z_threshold: float,
                   min_change: float) -> DataFrame:
    """Windows (with `is_new`) whose revenue deviates sharply from the recent level.

    The recent level is the median revenue of up to `history` preceding windows (by window start); the
    spread is their MAD (floored like the purchase rule). A new window is flagged when it has at least
    `min_history` predecessors, its robust z-score exceeds `z_threshold` AND it differs from the level by at
    least `min_change` x the level. Both conditions: the z-score alone fires on a too-quiet history, the
    relative change alone ignores how noisy the history is.
    """
    previous = F.collect_list("revenue").over(Window.orderBy("window_start").rowsBetween(-history, -1))
    level = _array_median(F.col("previous"))
    spread = _array_median(F.transform("previous", lambda x: F.abs(x - F.col("level"))))
    floor = F.greatest(F.col("level") * MAD_FLOOR_FRACTION, F.lit(MAD_FLOOR_USD))
    scored = (
        windows.withColumn("previous", previous)
        .withColumn("level", level)
        .withColumn("spread", F.greatest(spread, floor))
        .withColumn("score", F.round(F.lit(MAD_TO_Z) * (F.col("revenue") - F.col("level")) / F.col("spread"), 3))
    )
    flagged = scored.filter(
        F.col("is_new")
        & (F.size("previous") >= min_history)
        & (F.abs("score") > z_threshold)
        & (F.abs(F.col("revenue") - F.col("level")) >= min_change * F.col("level"))
    )
    return flagged.select(
        F.lit("window_revenue").alias("kind"),
        "window_start",
        "window_end",
        *[F.lit(None).cast(t).alias(c) for c, t in ((EVENT_ID, "string"), (EVENT_TIME, "timestamp"),
                                                    ("customer_id", "bigint"), ("item_purchased", "string"),
                                                    ("category", "string"))],
        F.col("revenue").cast("double").alias("value"),
        F.round("level", 2).cast("double").alias("expected"),
        F.col("score").cast("double"),
    )


# --- 5. data quality -------------------------------------------------------------------------------------
def data_quality(parsed: DataFrame, window: str, watermark_ms: int | None, processed_at_ms: int) -> DataFrame:
    """Data quality of ONE micro-batch of parsed rows (a static DataFrame), per event-time window.

    Rows are grouped by the window of their event time (rows whose event time cannot be read form the
    group with a null window). Counts are additive: a window's totals are the sums over micro-batches.
    A row is *late* when it is valid and its window had already closed, i.e. window end <= the watermark
    in force for this micro-batch (`watermark_ms`, epoch ms; None = no watermark yet, output as null): exactly
    the rows the windowed aggregations drop. Ingestion lag = processing time (`processed_at_ms`) - event time.

    The batch's watermark and time are data (a one-row table joined to the aggregates), not literals: Spark
    writes a literal into the code it generates, so every micro-batch would compile its own copy of the
    aggregation's code (Janino, then the JIT).
    """
    # window() drops rows whose event time is null; compute the same epoch-aligned tumbling window by hand
    # so that rows with an unreadable event time are still counted (in the null-window group).
    width_ms = int(interval_seconds(window) * 1000)
    start = F.timestamp_millis(F.floor(F.unix_millis(EVENT_TIME) / width_ms) * width_ms)
    win = F.struct(start.alias("start"), (start + F.expr(f"INTERVAL {width_ms} MILLISECONDS")).alias("end"))
    null_columns = [f"null_{schema.RAW_TO_PROCESSED.get(c, c)}" for c in STREAM_COLUMNS]
    agg = parsed.withColumn("window", win).groupBy("window").agg(
        F.count(F.lit(1)).alias("rows_seen"),
        F.count_if("valid").alias("rows_valid"),
        F.count_if(~F.col("valid")).alias("rows_invalid"),
        *[F.count_if(f"fail_{rule}").alias(f"fail_{rule}") for rule in RULES],
        *[F.count_if(c).alias(c) for c in null_columns],
        F.avg(F.unix_millis(EVENT_TIME)).alias("_mean_event_ms"),
        F.min(F.unix_millis(EVENT_TIME)).alias("_first_event_ms"),
        F.min(F.unix_millis(FILE_TIME)).alias("_first_file_ms"),
        F.max(F.when(F.col("valid"), F.col(EVENT_TIME))).alias("max_valid_event_time"),
    )
    batch = parsed.sparkSession.createDataFrame([(watermark_ms, processed_at_ms)],
                                                "_watermark_ms long, _processed_at_ms long")
    watermark = F.timestamp_millis("_watermark_ms")
    # No watermark yet: the comparison is null, so no row is late.
    late = F.when(F.col("window.end") <= watermark, F.col("rows_valid")).otherwise(F.lit(0).cast("bigint"))

    def seconds_before_processing(ms: str) -> Column:
        return F.round((F.col("_processed_at_ms") - F.col(ms)) / 1000.0, 3)

    return _flat_window(agg.crossJoin(F.broadcast(batch)).select(
        "window", "rows_seen", "rows_valid", "rows_invalid",
        late.alias("rows_late"),
        *[f"fail_{rule}" for rule in RULES], *null_columns,
        seconds_before_processing("_mean_event_ms").alias("avg_ingestion_lag_s"),
        seconds_before_processing("_first_event_ms").alias("max_ingestion_lag_s"),
        seconds_before_processing("_first_file_ms").alias("max_file_to_processing_s"),
        "max_valid_event_time",
        F.timestamp_millis("_processed_at_ms").alias("processed_at"),
        watermark.alias("watermark"),
    ))
