"""Handlers and forms without a browser or Spark: inputs reach the predictor, outputs and errors are shown."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopsense import schema
from shopsense.app import handlers as h
from shopsense.app import overview
from shopsense.app.profile import FormError, field_for, profile_fields, to_profile

from fake_predictor import KNOWN_CUSTOMER, PROMO_INPUTS, SEASON_INPUTS


def default_values(fields):
    return [f.default for f in fields]


def test_every_vocabulary_value_is_offered():
    for column, vocabulary in schema.VOCABULARIES.items():
        assert field_for(column).choices == vocabulary
    assert field_for("color").choices == schema.COLORS
    assert field_for("subscription_status").kind == "flag"
    assert (field_for("age").low, field_for("age").high) == schema.NUMERIC_RANGES["age"]


def test_profile_from_form_values_has_the_right_types():
    fields = profile_fields(PROMO_INPUTS)
    profile = to_profile(fields, [40.0, "Female", "Texas", 1, 12.0, "Venmo", "Weekly"])
    assert profile == {"age": 40, "gender": "Female", "location": "Texas", "subscription_status": True,
                       "previous_purchases": 12, "payment_method": "Venmo", "frequency_of_purchases": "Weekly"}
    assert isinstance(profile["age"], int)


@pytest.mark.parametrize("position, value, message", [
    (0, None, "Age is empty"),
    (0, "abc", "Age must be a number"),
    (0, 30.5, "Age must be a whole number"),
    (0, float("nan"), "Age must be a finite number"),
    (1, "  ", "Gender is empty"),
])
def test_bad_form_values_are_named(position, value, message):
    fields = profile_fields(PROMO_INPUTS)
    values = default_values(fields)
    values[position] = value
    with pytest.raises(FormError, match=message):
        to_profile(fields, values)


def test_seasonal_items_by_profile_and_by_customer(fake_ctx):
    ctx = fake_ctx()
    values = default_values(ctx.season_fields)
    message, table = h.seasonal_items(ctx, "Summer", h.BY_PROFILE, None, *values)
    assert "Summer" in message and "⚠️" not in message
    assert list(table.columns) == ["rank", "item", "score"] and len(table) == 3
    assert table["rank"].tolist() == [1, 2, 3] and "Score = model score" in message
    kind, profile, season, k = ctx.predictor.calls[-1]
    assert (kind, season, k) == ("season", "Summer", 3)
    assert set(profile) == set(SEASON_INPUTS) - {"season"}

    message, table = h.seasonal_items(ctx, "Fall", h.BY_CUSTOMER, KNOWN_CUSTOMER, *values)
    assert f"customer {KNOWN_CUSTOMER}" in message
    assert ctx.predictor.calls[-1][1] == ctx.predictor.customer_profile(KNOWN_CUSTOMER)
    assert table["score"].tolist() == sorted(table["score"], reverse=True)


@pytest.mark.parametrize("season, source, customer, expected", [
    ("Monsoon", h.BY_CUSTOMER, KNOWN_CUSTOMER, "Season must be one of"),
    ("Winter", h.BY_CUSTOMER, None, "Customer ID is empty"),
    ("Winter", h.BY_CUSTOMER, -3, "Customer ID must be between"),
    ("Winter", h.BY_CUSTOMER, 123456, "customer 123456 is unknown"),
    ("Winter", "Horoscope", None, "choose"),
])
def test_seasonal_items_invalid_input_gives_a_message(fake_ctx, season, source, customer, expected):
    ctx = fake_ctx()
    message, table = h.seasonal_items(ctx, season, source, customer, *default_values(ctx.season_fields))
    assert message.startswith("⚠️") and expected in message
    assert table.empty


def test_recommendations_show_items_bought_and_fallback(fake_ctx):
    ctx = fake_ctx()
    message, recs, bought = h.recommendations(ctx, KNOWN_CUSTOMER, 4)
    assert "Personalised" in message and len(recs) == 4
    assert set(bought["item"]) and not set(recs["item"]) & set(bought["item"])

    message, recs, bought = h.recommendations(ctx, 99999, 2.0)
    assert "Popularity" in message and len(recs) == 2 and bought.empty
    assert recs["rank"].tolist() == [1, 2] and "Score = fake score" in message


@pytest.mark.parametrize("customer, k, expected", [
    (None, 5, "Customer ID is empty"),
    ("x", 5, "Customer ID must be a number"),
    (1, 0, "between 1 and"),
    (1, h.MAX_K + 1, "between 1 and"),
    (1, "", "Number of recommendations is empty"),
])
def test_recommendations_invalid_input_gives_a_message(fake_ctx, customer, k, expected):
    message, recs, bought = h.recommendations(fake_ctx(), customer, k)
    assert message.startswith("⚠️") and expected in message
    assert recs.empty and bought.empty


def test_promo_probability_and_decision(fake_ctx):
    ctx = fake_ctx()
    values = default_values(ctx.promo_fields)
    values[0] = 80
    message, probability, decision = h.promo_propensity(ctx, *values)
    assert probability == pytest.approx(0.8) and decision == "likely to use a promo code"
    assert "80.0%" in message and "threshold 50.0%, chosen for best F1" in message


def test_every_tab_labels_the_served_baseline(fake_ctx):
    ctx = fake_ctx(baseline=("promo", "season", "recommender"))
    for model in ("promo", "season", "recommender"):
        assert h.model_banner(ctx, model) == h.warning(f"**Serving the baseline:** baseline of {model} — evidence")
    message, probability, decision = h.promo_propensity(ctx, *default_values(ctx.promo_fields))
    assert probability == 0.4 and decision.startswith("no decision") and "baseline" in message
    message, table = h.seasonal_items(ctx, "Summer", h.BY_PROFILE, None, *default_values(ctx.season_fields))
    assert "(baseline: the season's most bought items)" in message and "Score = baseline score" in message
    assert "baseline of promo — evidence" in h.overview_page(ctx)[0]
    assert h.model_banner(fake_ctx(), "promo") == "**Serving:** model of promo — evidence"


def test_predictor_errors_become_messages(fake_ctx):
    ctx = fake_ctx()
    values = default_values(ctx.promo_fields)
    values[0] = 250  # the (fake) inference module refuses it, as the real one does
    message, probability, decision = h.promo_propensity(ctx, *values)
    assert message == "⚠️ age must be between 15 and 100, got 250"
    assert probability is None and decision == ""


def test_unexpected_errors_are_logged_not_shown(fake_ctx, caplog):
    ctx = fake_ctx()
    ctx.predictor.recommend = lambda *a, **k: 1 / 0
    message, recs, bought = h.recommendations(ctx, 1, 5)
    assert message == h.warning(h.INTERNAL_ERROR)
    assert "ZeroDivisionError" in caplog.text


def test_missing_model_names_the_command(fake_ctx):
    ctx = fake_ctx({"recommender": "no recommender: run `shopsense train recommender`"})
    assert "shopsense train recommender" in h.model_banner(ctx, "recommender")
    assert h.model_banner(ctx, "promo") == "**Serving:** model of promo — evidence"
    message, recs, _ = h.recommendations(ctx, KNOWN_CUSTOMER, 3)
    assert "shopsense train recommender" in message and recs.empty


def test_no_predictor_at_all_is_reported_on_every_tab(config):
    ctx = h.AppContext(config=config, load_error="Java was not found")
    for model in overview.MODEL_NAMES:
        assert "Java was not found" in h.model_banner(ctx, model)
    assert "Java was not found" in h.promo_propensity(ctx)[0]


def test_overview_without_reports_says_what_to_run(fake_ctx):
    message, kpis, plots, metrics, serving, propensity = h.overview_page(fake_ctx())
    assert "shopsense analyze" in message and kpis == "" and plots == []
    assert metrics["metric"].str.contains("shopsense train").sum() == len(overview.MODEL_NAMES)


def test_overview_shows_kpis_plots_and_metrics_next_to_baseline(fake_ctx):
    ctx = fake_ctx()
    reports = ctx.config.reports_dir
    (reports / "plots").mkdir(parents=True)
    (reports / "plots" / "age.png").write_bytes(b"\x89PNG")
    (reports / "kpis.json").write_text(json.dumps({"rows": 1234, "total_revenue": 5.5, "gender_split": {"Male": 2}}))
    card = Path(ctx.config.model_dir("promo")) / "metrics.json"
    card.parent.mkdir(parents=True)
    card.write_text(json.dumps({"metrics": {"model": {"auc": 0.81234567, "accuracy": 0.7, "k": 5},
                                            "baseline_majority": {"auc": 0.5, "accuracy": 0.6},
                                            "variant_x": {"auc": 0.9}}}))
    message, kpis, plots, metrics, serving, propensity = h.overview_page(ctx)
    assert "| rows | 1,234 |" in kpis and "| gender split | Male: 2 |" in kpis
    assert plots == [str(reports / "plots" / "age.png")]
    promo = metrics[metrics["model"] == "promo"].set_index("metric")
    assert promo.loc["auc", "test"] == 0.8123 and promo.loc["auc", "baseline"] == 0.5
    assert promo.loc["accuracy", "baseline name"] == "majority"
    assert len(promo) == 2 and (metrics["baseline name"] != "x").all()  # k is no metric, variants no baselines
    assert "shopsense analyze" not in message


def test_overview_says_why_a_model_was_not_trained(fake_ctx):
    ctx = fake_ctx()
    card = Path(ctx.config.model_dir("recommender")) / "metrics.json"
    card.parent.mkdir(parents=True)
    card.write_text(json.dumps({"model": "recommender", "not_trained": "no customer bought 2 or more items"}))
    metrics = h.overview_page(ctx)[3]
    row = metrics[metrics["model"] == "recommender"]
    assert row["metric"].tolist() == ["not trained on this data: no customer bought 2 or more items"]


def test_kpis_of_shopsense_analyze_are_worded_as_the_cli_prints_them():
    kpis = {"rows": 2000, "distinct_customers": 500, "total_revenue_usd": 12345.5, "avg_transaction_value_usd": 61.73,
            "avg_purchases_per_customer": 4.0, "avg_review_rating": 3.8, "top_category_by_count": "Clothing",
            "top_category_by_revenue": "Footwear", "subscriber_share": 0.27, "promo_code_rate": 0.3,
            "discount_rate": 0.35, "gender_split": {"Female": {"customers": 240, "share": 0.48},
                                                    "Male": {"customers": 260, "share": 0.52}}}
    table = overview.kpi_markdown(kpis)
    assert "| total revenue | $12,345.50 |" in table
    assert "| gender split (distinct customers) | Female 48.0% (240), Male 52.0% (260) |" in table
