"""API level: the real app in a subprocess with small trained models, called through gradio_client.

Every tab's endpoint must give the inference module's own answer (called directly on the same models),
and bad input must come back as a message in the page, never as an error.
"""
from __future__ import annotations

import pytest

from shopsense.app import handlers as h
from shopsense.app.profile import profile_fields

pytestmark = pytest.mark.slow

UNKNOWN_CUSTOMER = 987_654_321


@pytest.fixture(scope="module")
def season_fields():
    from shopsense.ml.inference import SEASON_INPUTS

    return profile_fields(SEASON_INPUTS, exclude=("season",))


@pytest.fixture(scope="module")
def promo_fields():
    from shopsense.ml.inference import PROMO_INPUTS

    return profile_fields(PROMO_INPUTS)


def form(fields, **overrides) -> tuple[list, dict]:
    """(widget values in form order, the profile dict they stand for)."""
    values = [overrides.get(f.column, f.default) for f in fields]
    return values, dict(zip((f.column for f in fields), values))


def table_rows(table: dict) -> list[list]:
    return table["data"]


def assert_same_items(table: dict, expected: list[dict]) -> None:
    assert [r[0] for r in table_rows(table)] == list(range(1, len(expected) + 1))  # the rank
    assert [r[1] for r in table_rows(table)] == [e["item"] for e in expected]
    assert [r[2] for r in table_rows(table)] == pytest.approx([e["score"] for e in expected], abs=1e-4)


def test_all_models_loaded_on_loopback_without_share_link(running_app, predictor):
    assert all(problem is None for problem in predictor.status().values())
    log = running_app.output()
    assert log.count("— it beat") == 3, log  # each model served, with its evidence
    assert "gradio.live" not in log and running_app.url.startswith("http://127.0.0.1:")


def test_seasonal_items_by_profile_match_the_inference_module(client, predictor, season_fields):
    values, profile = form(season_fields, age=23)
    message, table = client.predict("Summer", h.BY_PROFILE, None, *values, api_name="/seasonal_items")
    expected = predictor.top_items(profile, "Summer", k=3)
    assert "Summer" in message and "⚠️" not in message and expected["score_meaning"] in message
    assert len(expected["items"]) == 3
    assert_same_items(table, expected["items"])


def test_seasonal_items_by_customer_match_the_inference_module(client, predictor, season_fields):
    profile = predictor.customer_profile(5)
    assert profile is not None
    values, _ = form(season_fields)  # ignored: the customer's own profile is used
    message, table = client.predict("Winter", h.BY_CUSTOMER, 5, *values, api_name="/seasonal_items")
    assert "customer 5" in message
    assert_same_items(table, predictor.top_items(profile, "Winter", k=3)["items"])


def test_recommendations_match_and_exclude_items_already_bought(client, predictor):
    for customer in (1, 17, 250):
        message, recs, bought = client.predict(customer, 4, api_name="/recommend")
        expected = predictor.recommend(customer, k=4)
        assert not expected["fallback"] and "Personalised" in message
        assert_same_items(recs, expected["items"])
        assert [r[0] for r in table_rows(bought)] == expected["already_bought"]
        assert not {r[0] for r in table_rows(recs)} & set(expected["already_bought"])


def test_unknown_customer_gets_the_labelled_popularity_fallback(client, predictor):
    message, recs, bought = client.predict(UNKNOWN_CUSTOMER, 3, api_name="/recommend")
    expected = predictor.recommend(UNKNOWN_CUSTOMER, k=3)
    assert expected["fallback"] and "**Popularity**" in message and expected["label"] in message
    assert_same_items(recs, expected["items"])
    assert table_rows(bought) == []


def test_promo_matches_the_inference_module(client, predictor, promo_fields):
    for overrides in ({}, {"age": 22, "subscription_status": True}):
        values, profile = form(promo_fields, **overrides)
        message, probability, decision = client.predict(*values, api_name="/promo")
        expected = predictor.promo_probability(profile)
        assert probability == pytest.approx(expected["probability"], abs=1e-4)
        assert decision == ("likely to use a promo code" if expected["decision"] else "unlikely to use a promo code")
        assert f"{expected['probability']:.1%}" in message


def test_overview_shows_kpis_plots_and_metrics_next_to_baselines(client, trained_config):
    status, kpis, plots, metrics, serving, propensity = client.predict(api_name="/overview")
    assert "| rows | 1,500 |" in kpis and len(plots) == 2  # the analysis plot and the promo reliability plot
    assert [row[1] for row in table_rows(serving)] == ["model"] * 3 and all(row[6] > 0 for row in table_rows(serving))
    assert "Brier score" in propensity and "| 1 |" in propensity
    models = {row[0] for row in table_rows(metrics)}
    assert models == {"promo", "season", "recommender"}
    assert all(row[2] is not None and row[3] is not None for row in table_rows(metrics))
    assert "shopsense" not in status  # nothing missing, so no command to run


@pytest.mark.parametrize("endpoint, args, expected", [
    ("/recommend", (None, 5), "Customer ID is empty"),
    ("/recommend", (12, 0), "between 1 and"),
    ("/recommend", (-4, 5), "Customer ID must be between"),
    ("/seasonal_items", ("Winter", h.BY_CUSTOMER, UNKNOWN_CUSTOMER), f"customer {UNKNOWN_CUSTOMER} is unknown"),
])
def test_invalid_input_comes_back_as_a_message(client, season_fields, endpoint, args, expected):
    if endpoint == "/seasonal_items":
        args = (*args, *form(season_fields)[0])
    answer = client.predict(*args, api_name=endpoint)
    assert answer[0].startswith("⚠️") and expected in answer[0]


@pytest.mark.parametrize("column, value", [("age", 250), ("age", None), ("previous_purchases", -1)])
def test_invalid_profile_comes_back_as_a_message(client, promo_fields, column, value):
    values, _ = form(promo_fields, **{column: value})
    message, probability, decision = client.predict(*values, api_name="/promo")
    assert message.startswith("⚠️") and probability is None and decision == ""
    assert "Something went wrong" not in message  # a user mistake, named as such


def test_values_outside_a_dropdown_are_refused_by_gradio_with_a_clear_error(client, promo_fields):
    from gradio_client.exceptions import AppError

    values, _ = form(promo_fields, gender="Robot")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(*values, api_name="/promo")


def test_app_starts_without_models_and_says_what_to_run(empty_app, connect, season_fields, promo_fields):
    client = connect(empty_app)
    answers = {
        "season": client.predict("Winter", h.BY_PROFILE, None, *form(season_fields)[0],
                                 api_name="/seasonal_items")[0],
        "recommender": client.predict(1, 5, api_name="/recommend")[0],
        "promo": client.predict(*form(promo_fields)[0], api_name="/promo")[0],
    }
    status, kpis, plots, metrics, serving, propensity = client.predict(api_name="/overview")
    for model, message in answers.items():
        assert message.startswith("⚠️") and "shopsense train" in message, (model, message)
    assert "shopsense analyze" in status and "shopsense train" in status and plots == []
