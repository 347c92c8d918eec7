"""Parsing/validation against the contract and the five queries as pure functions on small static data."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from shopsense.generate import generate_frame, to_processed_frame
from shopsense.schema import PROCESSED_SCHEMA
from shopsense.streaming import queries, source

from stream_helpers import write_stream_file

VALID = ("1001,30,Female,Blouse,Clothing,50,Texas,M,Red,Winter,4.0,Yes,Express,No,Yes,12,PayPal,Weekly,"
         "e1,2025-01-01 10:00:05.000")


def _with(field: str, value: str) -> str:
    fields = VALID.split(",")
    fields[source.STREAM_COLUMNS.index(field)] = value
    return ",".join(fields)


BROKEN = {  # line -> the one rule it breaks
    _with("Purchase Amount (USD)", "forty"): "not_a_number",
    _with("Gender", ""): "missing_value",
    _with("Category", "Electronics"): "unknown_value",
    _with("Category", "Footwear"): "item_category_mismatch",
    _with("Age", "250"): "out_of_range",
    _with("Subscription Status", "maybe"): "bad_boolean",
    _with("event_time", "yesterday"): "bad_event_time",
    _with("event_id", ""): "missing_event_id",
    VALID + ",extra": "malformed_row",
}


@pytest.fixture()
def parsed(spark, config):
    write_stream_file(config, "rules.csv", [VALID, " " + VALID.replace(",", " , ")] + list(BROKEN))
    return source.parse_events(source.read_batch(spark, str(config.stream_input_dir)))


def test_every_rule_is_caught_and_valid_rows_are_typed(parsed):
    rows = parsed.collect()
    assert len(rows) == 2 + len(BROKEN)  # the header line is dropped, nothing else
    valid = [r for r in rows if r["valid"]]
    assert len(valid) == 2  # the second one only has blanks around its values
    first = valid[0]
    assert (first.customer_id, first.age, first.purchase_amount_usd, first.subscription_status,
            first.event_time) == (1001, 30, 50.0, True, datetime(2025, 1, 1, 10, 0, 5))
    for row in rows:
        failed = [rule for rule in source.RULES if row[f"fail_{rule}"]]
        assert row["valid"] == (not failed)  # `valid` is written apart from the flags (source._valid)
        assert len(failed) <= 1
    assert sorted(r for r in source.RULES if any(row[f"fail_{r}"] for row in rows)) == sorted(BROKEN.values())
    assert sum(r["null_gender"] for r in rows) == 1


@pytest.mark.slow  # > 10 s
def test_stream_and_batch_ingest_agree_on_every_row(spark, config, tmp_path):
    """One rule set: a line is valid in the stream exactly when `shopsense ingest` keeps it, with the same
    typed values (e.g. vocabulary matched case-insensitively and spelled canonically, "42.0" is an age)."""
    from shopsense.ingest.stage import ingest
    from shopsense.io import read_processed

    lenient = [_with("Gender", "male"), _with("Age", "42.0"), _with("Season", " winter ")]
    lines = [VALID, *lenient, *(line for line in BROKEN if "event" not in BROKEN[line])]
    lines = [line.replace("e1,", f"e{i},") for i, line in enumerate(lines)]
    write_stream_file(config, "agree.csv", lines)
    stream = source.parse_events(source.read_batch(spark, str(config.stream_input_dir)))
    header = ",".join(source.STREAM_COLUMNS)
    csv = tmp_path / "batch.csv"
    csv.write_text("\n".join([header, *lines]) + "\n")
    summary = ingest(spark, config.with_overrides(max_quarantine_share=1.0), csv)  # mostly bad rows, on purpose
    assert summary.rows_clean == 1 + len(lenient) == stream.filter("valid").count()
    assertDataFrameEqual(read_processed(spark, config),
                         stream.filter("valid").select(*PROCESSED_SCHEMA.fieldNames()))


def test_rule_names_match_their_expressions():
    assert tuple(source._rule_flags()) == source.RULES
    # `valid` counts any contract reason as a failure: every contract rule must belong to a flag's group
    grouped = {kind for kinds in source.CONTRACT_RULE_KINDS.values() for kind in kinds}
    assert {rule.kind for rule in source.CONTRACT_RULES} <= grouped


def _events(spark, rows):
    """rows: (event_id, 'HH:MM:SS', customer_id, age, gender, item, category, amount)."""
    data = [(e, datetime.fromisoformat(f"2025-01-01T{t}"), c, a, g, i, cat, float(amt), 4.0, True, False, 10)
            for e, t, c, a, g, i, cat, amt in rows]
    return spark.createDataFrame(data, "event_id string, event_time timestamp, customer_id bigint, age int, "
                                       "gender string, item_purchased string, category string, "
                                       "purchase_amount_usd double, review_rating double, promo_code_used boolean, "
                                       "discount_applied boolean, previous_purchases int")


def test_window_aggregations_by_hand(spark):
    events = _events(spark, [
        ("a", "10:00:01", 1, 22, "Male", "Hat", "Accessories", 30),
        ("b", "10:00:59", 1, 22, "Male", "Coat", "Outerwear", 90),
        ("c", "10:01:00", 2, 40, "Female", "Dress", "Clothing", 60),
    ]).withColumn("subscription_status", F.lit(True))
    ts = lambda t: datetime.fromisoformat(f"2025-01-01T{t}")  # noqa: E731
    assertDataFrameEqual(queries.sales_kpis(events, "1 minute"), spark.createDataFrame(
        [(ts("10:00:00"), ts("10:01:00"), 2, 120.0, 60.0, 1), (ts("10:01:00"), ts("10:02:00"), 1, 60.0, 60.0, 1)],
        "window_start timestamp, window_end timestamp, orders bigint, revenue double, avg_order_value double, "
        "distinct_customers_approx bigint"))
    groups = queries.customer_behaviour(events, "1 minute").select("window_start", "age_group", "gender", "orders")
    assert sorted(map(tuple, groups.collect())) == [(ts("10:00:00"), "<25", "Male", 2),
                                                     (ts("10:01:00"), "35-44", "Female", 1)]
    categories = queries.category_performance(events, "1 minute").select("category", "orders", "revenue")
    assert sorted(map(tuple, categories.collect())) == [("Accessories", 1, 30.0), ("Clothing", 1, 60.0),
                                                        ("Outerwear", 1, 90.0)]


def test_the_combined_aggregation_holds_each_window_query(spark):
    """The stream computes the four window queries as one aggregation over grains; each query's rows and
    columns picked from it equal the query computed on its own."""
    events = _events(spark, [
        ("a", "10:00:01", 1, 22, "Male", "Hat", "Accessories", 30),
        ("b", "10:00:59", 2, 22, "Male", "Coat", "Outerwear", 90),
        ("c", "10:00:30", 3, 40, "Female", "Hat", "Accessories", 900),
        ("d", "10:01:00", 2, 40, "Female", "Dress", "Clothing", 6000),
    ]).withColumn("subscription_status", F.col("customer_id") == 2)
    reference = queries.reference_stats(events.filter("event_id IN ('a', 'b')"))
    scored = queries.score_purchases(events, reference, 3.5)
    assert scored.filter("is_outlier").count() == 2  # c, and d (no Clothing in the reference)
    combined = queries.window_aggregates(scored, "1 minute")
    for name in queries.WINDOW_QUERIES:
        alone = queries.window_query(scored, "1 minute", name)
        assertDataFrameEqual(queries.window_results(combined, name), alone)
    assert {len(r["outliers"]) for r in queries.window_results(combined, "anomalies").collect()} == {1}
    assert combined.filter("grain != 'window'").filter(F.size("outliers") > 0).isEmpty()


def test_reference_stats_median_mad_and_fallback(spark):
    purchases = _events(spark, [(str(i), "10:00:00", i, 30, "Male", "Hat", "Accessories", amount)
                                for i, amount in enumerate([10, 20, 30, 40, 100])])
    stats = {r["item_purchased"]: r for r in queries.reference_stats(purchases).collect()}
    assert len(stats) == 25
    assert (stats["Hat"]["ref_median"], stats["Hat"]["ref_mad"]) == (30.0, 10.0)  # |x-30| = 20,10,0,10,70
    assert stats["Belt"]["ref_median"] == 30.0  # no Belt: its category's (Accessories) statistics
    assert stats["Coat"]["ref_median"] == 30.0  # no Outerwear at all: all purchases


@pytest.mark.slow  # > 10 s
def test_amount_rule_flags_few_normal_purchases_and_catches_injected_ones(spark):
    reference = queries.reference_stats(
        spark.createDataFrame(to_processed_frame(generate_frame(4000, seed=1)), PROCESSED_SCHEMA))
    normal = spark.createDataFrame(to_processed_frame(generate_frame(3000, seed=2)), PROCESSED_SCHEMA)
    injected = normal.limit(50).withColumn("purchase_amount_usd", F.col("purchase_amount_usd") * 6)
    flagged_normal = queries.score_purchases(normal, reference, 3.5).filter("is_outlier").count()
    assert flagged_normal < 0.02 * 3000
    assert queries.score_purchases(injected, reference, 3.5).filter("is_outlier").count() == 50


def _series(spark, revenues, new_from):
    rows = [(datetime(2025, 1, 1, 10, i), datetime(2025, 1, 1, 10, i + 1), float(r), i >= new_from)
            for i, r in enumerate(revenues)]
    return spark.createDataFrame(rows, "window_start timestamp, window_end timestamp, revenue double, is_new boolean")


def test_revenue_alerts_flag_sharp_changes_only(spark):
    steady = [1000, 1040, 980, 1010, 990, 1030, 1005]
    alerts = queries.revenue_alerts(_series(spark, steady + [3000, 1000, 200], new_from=7), 10, 5, 3.5, 0.5)
    assert [(r["value"], r["expected"]) for r in alerts.collect()] == [(3000.0, 1005.0), (200.0, 1005.0)]
    assert queries.revenue_alerts(_series(spark, steady + [1060], 7), 10, 5, 3.5, 0.5).count() == 0
    assert queries.revenue_alerts(_series(spark, [1000, 1000, 5000], 2), 10, 5, 3.5, 0.5).count() == 0  # history


def test_data_quality_counts_late_invalid_and_unreadable_times(spark, config):
    write_stream_file(config, "dq.csv", [
        VALID,  # window 10:00-10:01
        _with("event_time", "2025-01-01 10:03:00.000"),
        _with("Age", "250"),
        _with("event_time", "garbage"),
    ])
    parsed = source.parse_events(source.read_batch(spark, str(config.stream_input_dir)))
    ms = lambda t: int(datetime.fromisoformat(f"2025-01-01T{t}+00:00").timestamp() * 1000)  # noqa: E731
    rows = {r["window_start"]: r for r in queries.data_quality(parsed, "1 minute", ms("10:01:00"), ms("10:05:00")).collect()}
    early, later, unknown = rows[datetime(2025, 1, 1, 10, 0)], rows[datetime(2025, 1, 1, 10, 3)], rows[None]
    assert (early["rows_seen"], early["rows_valid"], early["rows_late"], early["fail_out_of_range"]) == (2, 1, 1, 1)
    assert (later["rows_seen"], later["rows_late"], later["max_ingestion_lag_s"]) == (1, 0, 120.0)
    assert (early["avg_ingestion_lag_s"], early["max_ingestion_lag_s"]) == (295.0, 295.0)  # both 10:00:05
    assert later["processed_at"] == datetime(2025, 1, 1, 10, 5)
    assert (unknown["rows_seen"], unknown["fail_bad_event_time"]) == (1, 1)
    no_watermark = queries.data_quality(parsed, "1 minute", None, ms("10:05:00")).agg(F.sum("rows_late")).first()[0]
    assert no_watermark == 0


def test_data_quality_of_every_batch_runs_the_same_generated_code(spark, config):
    """The batch's watermark and time are data, not literals in the code Spark generates: a stream compiles
    the data-quality classes once, not once per micro-batch."""
    write_stream_file(config, "dq.csv", [VALID, _with("Age", "250")])
    parsed = source.parse_events(source.read_batch(spark, str(config.stream_input_dir)))
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # the whole plan before it runs (the fixture restores it)

    def generated_code(watermark_ms, processed_at_ms) -> str:
        batch = queries.data_quality(parsed, "1 minute", watermark_ms, processed_at_ms)
        code = spark._jvm.PythonSQLUtils.explainString(batch._jdf.queryExecution(), "codegen")
        return re.sub(r"(#|_common_expr_|plan_id=)\d+", r"\1", code)  # ids of two plans' expressions differ

    first = generated_code(1735725600000, 1735725700000)
    assert "GeneratedIteratorForCodegenStage" in first
    assert generated_code(1735725720000, 1735725830000) == first
    assert "1735725720000" not in generated_code(1735725720000, 1735725830000)
