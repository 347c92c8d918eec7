"""The three models on planted-signal data vs on label-independent data, their cards and saved files."""
from __future__ import annotations

import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F

from shopsense.io import current_location, read_processed
from shopsense.ml.model_card import PIPELINE_DIR, read_card

pytestmark = pytest.mark.slow


def metrics(trained, name):
    return trained[1][name].card.metrics


# --- planted signal: each model beats its baseline ------------------------------------------------------
def test_promo_beats_the_majority_baseline(trained):
    m = metrics(trained, "promo")
    assert m["baseline_majority_class"]["auc_roc"] == pytest.approx(0.5)
    assert m["model"]["auc_roc"] > 0.70  # planted logistic signal; a constant scores 0.5
    assert m["model"]["pr_auc"] > m["baseline_majority_class"]["pr_auc"] + 0.15
    assert m["model"]["accuracy"] > m["baseline_majority_class"]["accuracy"]


def test_season_beats_overall_and_seasonal_popularity(trained):
    m = metrics(trained, "season")
    assert m["model"]["top3_hit_rate"] > m["baseline_overall_top3"]["top3_hit_rate"] + 0.08
    # The planted demographic -> style -> item signal (tests/test_generate.py) is what beats the season's list.
    assert m["model"]["top3_hit_rate"] > m["baseline_season_top3"]["top3_hit_rate"] + 0.03


def test_recommender_beats_popularity(trained):
    m = metrics(trained, "recommender")
    assert m["model"]["ndcg_at_k"] > m["baseline_popularity"]["ndcg_at_k"] + 0.02
    assert m["model"]["precision_at_k"] > m["baseline_popularity"]["precision_at_k"]
    assert m["variant_explicit"]["rmse"] > 0 and m["baseline_global_mean"]["rmse"] > 0


def test_planted_signals_are_served_with_an_interval_above_zero(trained):
    for name, result in trained[1].items():
        decision = result.card.serving
        assert decision.serving == "model" and not decision.forced, (name, decision)
        assert 0 < decision.lift_low <= decision.model_value - decision.baseline_value <= decision.lift_high
        assert decision.resamples >= 200 and decision.customers > 50


# --- labels independent of the features: no lift ------------------------------------------------------
def test_no_lift_when_labels_are_independent(trained_on_noise):
    promo = metrics(trained_on_noise, "promo")["model"]
    assert abs(promo["auc_roc"] - 0.5) < 0.07
    season = metrics(trained_on_noise, "season")
    assert season["model"]["top3_hit_rate"] < season["baseline_overall_top3"]["top3_hit_rate"] + 0.04
    rec = metrics(trained_on_noise, "recommender")
    assert rec["model"]["ndcg_at_k"] < rec["baseline_popularity"]["ndcg_at_k"] + 0.02


def test_permuted_labels_serve_every_baseline(trained_on_noise):
    for name, result in trained_on_noise[1].items():
        decision = result.card.serving
        assert decision.serving == "baseline" and decision.lift_low <= 0, (name, decision)
        assert "did not beat" in decision.reason


# --- model cards and saved models ---------------------------------------------------------------------
def test_model_cards_describe_the_training(trained, spark):
    config, models = trained
    rows = read_processed(spark, config).count()
    for name in ("promo", "season", "recommender"):
        card = read_card(spark, config.model_dir(name))
        assert card == models[name].card
        assert card.seed == config.ml.seed and card.spark_version and card.training_seconds > 0
        assert card.data_fingerprint["rows"] == rows and card.data_fingerprint["hash"]
        assert card.features and card.mlflow["version"] and card.mlflow["champion"]
    promo = read_card(spark, config.model_dir("promo"))
    assert promo.split["train_rows"] + promo.split["test_rows"] == rows
    assert promo.excluded_features == {}  # nothing in the generated data copies the label
    assert {"numTrees", "maxDepth", "search", "threshold", "threshold_objective"} <= set(promo.params)
    assert read_card(spark, config.model_dir("recommender")).params["variant"] in ("explicit", "implicit")


def test_promo_card_has_propensity_norms(trained):
    config, models = trained
    calibration = models["promo"].card.details["calibration"]
    assert 0 < calibration["brier"] < calibration["brier_base_rate"]  # better than the constant base rate
    assert sum(r["rows"] for r in calibration["reliability"]) == models["promo"].card.metrics["model"]["rows"]
    deciles = calibration["deciles"]
    assert len(deciles) == 10 and deciles[0]["lift"] > 1.3 and deciles[-1]["cumulative_gain"] == pytest.approx(1.0)
    assert (config.reports_dir / "ml" / "promo_reliability.png").stat().st_size > 1000


@pytest.mark.parametrize("name", ["promo", "season", "recommender"])
def test_saved_model_and_champion_reload_with_identical_predictions(trained, spark, name):
    """The model folder (pipeline/) and the registry's champion (`models:/<name>@champion`: what the app and
    `shopsense recommend` load; the app tests load them in a process of their own and give the in-process
    answers) predict exactly what the trained model did."""
    from shopsense.ml import tracking
    from shopsense.ml.registry import MODELS

    config, models = trained
    df = read_processed(spark, config).limit(200)
    saved = PipelineModel.load(f"{config.model_dir(name)}/{PIPELINE_DIR}")
    champion = tracking.load_champion(config, MODELS[name].registered_name)
    output = F.col("prediction") if name == "recommender" else vector_to_array("probability")

    def predictions(model):
        return [tuple(r) for r in model.transform(df).select("customer_id", "item_purchased", output.alias("p"))
                .orderBy("customer_id", "item_purchased", "p").collect()]

    expected = predictions(models[name].model)
    assert len(expected) == 200
    assert predictions(saved) == expected
    assert predictions(champion) == expected


def test_no_recommendation_is_an_already_bought_item_over_all_users(trained, spark, predictor):
    config, _ = trained
    history = read_processed(spark, config).select("customer_id", F.col("item_purchased").alias("item")).distinct()
    recs = spark.read.parquet(current_location(spark, f"{config.model_dir('recommender')}/recommendations"))
    flat = recs.select("customer_id", F.explode("items").alias("r")).select("customer_id", "r.item")
    assert flat.join(history, ["customer_id", "item"]).count() == 0
    customers = [r.customer_id for r in history.select("customer_id").distinct().collect()]
    assert recs.count() == len(customers)
    for customer in customers:
        answer = predictor.recommend(customer, k=5)
        names = [x["item"] for x in answer["items"]]
        assert not answer["fallback"] and len(names) == len(set(names)) == min(5, 25 - len(answer["already_bought"]))
        assert not set(names) & set(answer["already_bought"])
