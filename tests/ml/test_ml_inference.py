"""The inference API used by the app: answers, validation errors, missing models, the CLI commands."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shopsense import schema
from shopsense.errors import InvalidInput, ModelUnavailable, ShopSenseError
from shopsense.ml.inference import PROMO_INPUTS, SEASON_INPUTS, Predictor

pytestmark = pytest.mark.slow

PROFILE = {"age": 24, "gender": "Female", "subscription_status": True, "frequency_of_purchases": "Weekly",
           "previous_purchases": 40, "payment_method": "PayPal", "discount_applied": False,
           "purchase_amount_usd": 55.0, "category": "Clothing", "season": "Winter", "shipping_type": "Express",
           "size": "M"}


def test_inputs_are_processed_columns():
    assert set(PROMO_INPUTS) | set(SEASON_INPUTS) <= set(schema.PROCESSED_COLUMNS)
    assert "season" not in SEASON_INPUTS and set(PROMO_INPUTS) <= set(PROFILE) and set(SEASON_INPUTS) <= set(PROFILE)


def test_answers_have_the_documented_shape(predictor):
    assert predictor.status() == {"promo": None, "season": None, "recommender": None}
    answer = predictor.promo_probability(PROFILE)
    assert 0.0 <= answer["probability"] <= 1.0 and answer["decision"] == (answer["probability"] >= answer["threshold"])
    likely = predictor.promo_probability(PROFILE)["probability"]
    unlikely = predictor.promo_probability(PROFILE | {
        "subscription_status": False, "frequency_of_purchases": "Annually", "previous_purchases": 1,
        "payment_method": "Cash", "age": 60})
    assert likely > unlikely["probability"]  # the planted propensity direction
    answer = predictor.top_items(PROFILE, "Summer", k=3)
    items = answer["items"]
    assert answer["served"] == "model" and "probability" in answer["score_meaning"]
    assert len(items) == 3 and all(i["item"] in schema.ITEMS for i in items)
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    summer = {i["item"]: i["score"] for i in predictor.top_items(PROFILE, "Summer", k=25)["items"]}
    winter = {i["item"]: i["score"] for i in predictor.top_items(PROFILE, "Winter", k=25)["items"]}
    assert summer["Sandals"] > winter["Sandals"] and winter["Coat"] > summer["Coat"]  # planted seasonal items


def test_single_requests_equal_the_models_batch_predictions(predictor, trained):
    """A request (one row sent to Spark through Arrow) gets exactly what the model gives the same rows in bulk."""
    from pyspark.ml.functions import vector_to_array

    from shopsense.io import read_processed
    from shopsense.ml.season import item_names

    config, _ = trained
    rows = read_processed(predictor.spark, config).orderBy("customer_id", "item_purchased").limit(12)
    batch = predictor.models["promo"].transform(rows).select(
        *PROMO_INPUTS, vector_to_array("probability")[1].alias("p")).collect()
    for row in batch:
        single = predictor.promo_probability({c: row[c] for c in PROMO_INPUTS})["probability"]
        assert single == pytest.approx(row.p, abs=1e-12)
    season_rows = predictor.models["season"].transform(rows).select(
        *SEASON_INPUTS, "season", vector_to_array("probability").alias("p")).collect()
    labels = len(item_names(predictor.models["season"]))  # the probability vector also has an "unseen" class
    for row in season_rows:
        top = predictor.top_items({c: row[c] for c in SEASON_INPUTS}, row.season, k=3)["items"]
        assert [t["score"] for t in top] == pytest.approx(sorted(row.p[:labels], reverse=True)[:3], abs=1e-12)


def test_customer_profile_and_unknown_customer(predictor, trained):
    profile = predictor.customer_profile(1)
    assert profile is not None and set(PROMO_INPUTS) | set(SEASON_INPUTS) <= set(profile)
    predictor.promo_probability(profile)  # a stored profile is a valid input
    assert predictor.customer_profile(10**9) is None
    answer = predictor.recommend(10**9, k=4)
    assert answer["fallback"] and answer["label"] == "popularity fallback: unknown customer"
    assert len(answer["items"]) == 4 and answer["already_bought"] == []
    personal = predictor.recommend(1, k=5)
    assert not personal["fallback"] and personal["label"].startswith("personalised (ALS ")
    assert all(x["score"] > 0.01 for x in personal["items"])  # readable scores, never a column of zeros


def test_a_predictor_of_the_recommender_alone_gives_the_same_answers(predictor, trained, spark):
    alone = Predictor(trained[0], spark=spark, models=("recommender",))
    assert set(alone.models) == {"recommender"} and set(predictor.models) == {"promo", "season", "recommender"}
    assert alone.status() == {"promo": "model 'promo' is not loaded by this command",
                              "season": "model 'season' is not loaded by this command", "recommender": None}
    with pytest.raises(ModelUnavailable, match="not loaded"):
        alone.promo_probability(PROFILE)
    for customer in (1, 2, 3, 10**9):
        assert alone.recommend(customer, k=5) == predictor.recommend(customer, k=5)


def test_a_predictor_of_one_customer_loads_only_its_rows_and_gives_the_same_answers(predictor, trained, spark):
    """What `shopsense recommend` builds: one customer's profile, history and recommendations, not every one."""
    for customer in (1, 10**9):
        one = Predictor(trained[0], spark=spark, models=("recommender",), customers=(customer,))
        assert one.recommend(customer, k=5) == predictor.recommend(customer, k=5)
        assert one.customer_profile(customer) == predictor.customer_profile(customer)
        known = predictor.customer_profile(customer) is not None
        assert len(one.customers) == len(one.recommendations) == int(known)  # not the other customers' rows
        assert one.popularity_customers == predictor.popularity_customers == len(predictor.recommendations)
        with pytest.raises(ValueError, match="was not loaded"):
            one.recommend(customer + 1)


@pytest.mark.parametrize("change, message", [
    ({"gender": "Robot"}, "unknown gender"),
    ({"age": 250}, "age must be between"),
    ({"age": "old"}, "age must be a number"),
    ({"payment_method": None}, "missing: payment_method"),
    ({"subscription_status": "maybe"}, "subscription_status must be yes/no"),
])
def test_invalid_profiles_are_clear_errors(predictor, change, message):
    with pytest.raises(InvalidInput, match=message):
        predictor.promo_probability(PROFILE | change)


def test_invalid_season_k_and_customer(predictor):
    with pytest.raises(InvalidInput, match="unknown season"):
        predictor.top_items(PROFILE, "Monsoon")
    with pytest.raises(InvalidInput, match="k must be"):
        predictor.top_items(PROFILE, "Winter", k=0)
    with pytest.raises(InvalidInput, match="customer id"):
        predictor.recommend("abc")
    assert issubclass(InvalidInput, ShopSenseError) and issubclass(ModelUnavailable, ShopSenseError)


def test_missing_models_are_reported_with_the_command(config, spark):
    empty = Predictor(config, spark=spark)
    assert empty.status()["season"] == "model 'season' not found: run `shopsense train season`"
    with pytest.raises(ModelUnavailable, match="shopsense train promo"):
        empty.promo_probability(PROFILE)
    with pytest.raises(ModelUnavailable, match="shopsense train recommender"):
        empty.recommend(1)


def test_cli_recommend_and_train_errors(trained, spark, tmp_path):
    from shopsense.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["--home", str(trained[0].home), "recommend", "--customer", "1", "-k", "3"])
    assert out.exit_code == 0, out.output
    assert "personalised (ALS" in out.output and "already bought:" in out.output
    bad = runner.invoke(app, ["--home", str(tmp_path), "train", "everything"])
    assert isinstance(bad.exception, ShopSenseError)
    assert "choose one of promo, season, recommender" in str(bad.exception)
