"""Optional columns the input lacked (null in every processed row): the KPIs, queries and plots that need one
are skipped with the reason, and leave no stale output of an earlier run; the rest is as with every column."""
from __future__ import annotations

import re

import pytest

from shopsense import io
from shopsense.analytics import absent, eda
from shopsense.analytics.plots import write_plots
from shopsense.analytics.queries import QUERIES, VIEW, needs, parse_header, render_sql
from shopsense.analytics.report import render_report
from shopsense.analytics.stage import run_suite
from shopsense.schema import PROCESSED_SCHEMA

BY_NAME = {q.name: q for q in QUERIES}
# promotion_effectiveness needs promo_code_used; the lifetime-value chain needs previous_purchases (its summary
# reads the per-customer result); top categories needs only age.
SUITE = (BY_NAME["promotion_effectiveness"], BY_NAME["customer_lifetime_value"], BY_NAME["clv_segment_summary"],
         BY_NAME["top_categories_by_age_group"])
NO_PROMO = "the input has no Promo Code Used column"


def _without(frame, *columns):
    frame = frame.copy()
    for column in columns:
        frame[column] = None
    return frame


def test_a_query_needs_exactly_the_optional_columns_it_reads(config):
    for query in QUERIES:
        sql = render_sql(query, config)
        body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
        read = {c for c in absent.OPTIONAL_COLUMNS if re.search(rf"\b{c}\b", body)}
        assert set(needs(parse_header(sql))) == read, query.name


def test_kpis_and_plots_of_an_absent_column_are_skipped_and_say_why(spark, processed_frame, tmp_path):
    frame = processed_frame(200, seed=3)
    spark.createDataFrame(_without(frame, "promo_code_used", "gender"), schema=PROCESSED_SCHEMA
                          ).createOrReplaceTempView(VIEW)
    totals = eda.totals(spark, VIEW)
    assert absent.absent_columns(totals) == {"promo_code_used", "gender"}
    profile = eda.profile(spark, VIEW)
    kpis = eda.kpis(totals, profile)
    assert kpis.promo_code_rate is None and kpis.gender_split is None
    assert kpis.discount_rate == pytest.approx(frame["discount_applied"].mean(), abs=1e-4)  # the rest as always
    assert kpis.avg_review_rating == pytest.approx(frame["review_rating"].mean(), abs=0.01)
    lines = kpis.lines()
    assert "promo code rate: no Promo Code Used column in the input" in lines
    assert f"discount rate: {kpis.discount_rate:.1%} of purchases" in lines
    assert "gender split (distinct customers): no Gender column in the input" in lines
    assert eda.Kpis.from_json(kpis.as_json()) == kpis  # kpis.json (nulls) reads back, as the app reads it
    assert eda.format_kpis(kpis.as_json()) == lines  # the app's lines
    assert kpis.as_json()["promo_code_rate"] is None

    (tmp_path / "gender.png").write_bytes(b"an earlier run's plot")
    plots, skipped = write_plots(profile, kpis, tmp_path, absent.absent_columns(totals))
    assert skipped == [absent.Skipped("plot", "gender", "the input has no Gender column")]
    assert not (tmp_path / "gender.png").exists()
    names = [p.name for p in plots]
    assert "gender" not in names and "rates" in names and "season" in names
    rates = next(p for p in plots if p.name == "rates")
    assert rates.caption.endswith("Not drawn: no Promo Code Used column in the input.")


def test_every_column_present_keeps_the_combined_rate_line(spark, processed_frame):
    spark.createDataFrame(processed_frame(200, seed=3), schema=PROCESSED_SCHEMA).createOrReplaceTempView(VIEW)
    totals = eda.totals(spark, VIEW)
    assert absent.absent_columns(totals) == frozenset()
    kpis = eda.kpis(totals, eda.profile(spark, VIEW))
    assert [label for label, _ in kpis.labelled()][-1] == "promo code / discount rate"


@pytest.mark.slow  # two queries and four snapshot writes: 21 s on a loaded machine
def test_queries_needing_an_absent_column_leave_no_csv_and_no_table(spark, config, processed_frame, as_purchases):
    frame = processed_frame(300, seed=5, customers=60)
    for query in SUITE:  # an earlier run's outputs, to be replaced or removed
        (config.queries_dir / f"{query.name}.csv").parent.mkdir(parents=True, exist_ok=True)
        (config.queries_dir / f"{query.name}.csv").write_text("stale\n")
        io.write_parquet(spark.range(1), config.analytics_table_dir(query.name))
    lacking = as_purchases(spark.createDataFrame(_without(frame, "promo_code_used", "previous_purchases"),
                                                 schema=PROCESSED_SCHEMA))
    results, baskets = run_suite(spark, lacking, config, queries=SUITE,
                                 absent=frozenset({"promo_code_used", "previous_purchases"}))
    why = {r.name: r.skipped for r in results}
    assert why == {"promotion_effectiveness": "the input has no Promo Code Used and Previous Purchases columns",
                   "customer_lifetime_value": "the input has no Previous Purchases column",
                   "clv_segment_summary": "the input has no Previous Purchases column",  # reads the skipped one
                   "top_categories_by_age_group": None}
    for name, reason in why.items():
        csv = config.queries_dir / f"{name}.csv"
        table = io.current_location(spark, config.analytics_table_dir(name))
        if reason:
            assert not csv.exists() and table is None, name
        else:
            assert csv.read_text() != "stale\n" and spark.read.parquet(table).count() == len(results[-1].frame) > 0

    page = render_report(eda.kpis(eda.totals(spark, VIEW), eda.profile(spark, VIEW)), [], results, baskets,
                         config.processed_dir, 20)
    section = re.search(r'<section class="query" id="promotion_effectiveness">(.*?)</section>', page, re.S).group(1)
    assert f"skipped: {why['promotion_effectiveness']}" in section and "<table" not in section and "CSV:" not in section
    answered = re.search(r'<section class="query" id="top_categories_by_age_group">(.*?)</section>', page,
                         re.S).group(1)
    assert "<table" in answered and "skipped" not in answered


def test_the_skipped_parts_are_summed_up_by_reason():
    skipped = [absent.Skipped("query", "promotion_effectiveness", NO_PROMO), absent.Skipped("plot", "rates", NO_PROMO),
               absent.Skipped("plot", "gender", absent.reason(["gender"]))]
    assert absent.skipped_lines(skipped) == [
        f"skipped ({NO_PROMO}): query promotion_effectiveness, plot rates",
        "skipped (the input has no Gender column): plot gender"]
    assert absent.reason(["age", "gender", "season"]) == "the input has no Age, Gender and Season columns"
