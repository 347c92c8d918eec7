"""The serving decision (customer bootstrap of the lift), the MLflow runs/registry/champion alias, and what
the CLI and the app serve when a model does not beat its baseline."""
from __future__ import annotations

import os

import numpy as np
import pytest
from pyspark.ml.evaluation import RankingEvaluator
from typer.testing import CliRunner

from shopsense.config import MLSettings, load_config
from shopsense.ml.evaluation import auc_from_counts, per_user_ranking, ranking_metrics
from shopsense.ml.serving import auc_lift_interval, decide, label, ratio_lift_interval, weighted_auc
from tests.conftest import SHUFFLED_ROWS, TINY_ML


# --- units: the bootstrap and the metrics it resamples ---------------------------------------------------
def test_weighted_auc_equals_the_exact_auc_and_counts_weights_as_repeated_rows():
    rng = np.random.default_rng(3)
    scores, labels = rng.integers(0, 5, 300) / 4, rng.integers(0, 2, 300).astype(float)
    groups = [(s, int(((scores == s) & (labels == 1)).sum()), int(((scores == s) & (labels == 0)).sum()))
              for s in np.unique(scores)]
    assert weighted_auc(scores, labels, np.ones(300)) == pytest.approx(auc_from_counts(groups))
    weights = rng.integers(0, 3, 300).astype(float)
    repeated = np.repeat(np.arange(300), weights.astype(int))
    assert weighted_auc(scores, labels, weights) == pytest.approx(
        weighted_auc(scores[repeated], labels[repeated], np.ones(len(repeated))))


def test_lift_intervals_are_seeded_and_separate_a_real_lift_from_none():
    rng = np.random.default_rng(0)
    n = 400
    rows = rng.integers(1, 5, n).astype(float)
    same = rng.binomial(rows.astype(int), 0.3).astype(float)
    better = np.minimum(rows, same + rng.binomial(rows.astype(int), 0.3))
    low, high = ratio_lift_interval(better, same, rows, 200, seed=1)
    assert 0 < low < high
    assert ratio_lift_interval(better, same, rows, 200, seed=1) == (low, high)  # seeded: reproducible
    low, high = ratio_lift_interval(rng.permutation(same), same, rows, 200, seed=1)
    assert low < 0 < high  # no lift: the interval straddles 0
    customer = np.repeat(np.arange(100), 3)
    labels = rng.integers(0, 2, 300).astype(float)
    low, high = auc_lift_interval(customer, labels * 0.5 + rng.random(300) * 0.6, labels, 0.5, 200, seed=2)
    assert 0 < low < high
    low, high = auc_lift_interval(customer, rng.random(300), labels, 0.5, 200, seed=2)
    assert low < 0 < high


def test_decision_serves_the_model_only_above_min_lift_and_labels_an_override():
    settings = MLSettings()
    won = decide("recommender", "NDCG@5", 0.2, "popularity", 0.1, (0.05, 0.15), 300, settings)
    assert won.serving == "model" and label(won).startswith("recommender — it beat popularity")
    lost = decide("recommender", "NDCG@5", 0.151, "popularity", 0.159, (-0.02, 0.01), 300, settings)
    assert lost.serving == "baseline"
    assert label(lost) == ("popularity — the recommender did not beat it on test data: "
                           "NDCG@5 0.151 vs 0.159, lift CI [-0.020, +0.010]")
    strict = decide("recommender", "NDCG@5", 0.2, "popularity", 0.1, (0.05, 0.15), 300, MLSettings(min_lift=0.06))
    assert strict.serving == "baseline"
    forced = decide("recommender", "NDCG@5", 0.151, "popularity", 0.159, (-0.02, 0.01), 300,
                    MLSettings(serve_model_anyway=True))
    assert forced.serving == "model" and forced.forced and "operator override" in label(forced)
    with pytest.raises(Exception, match="bootstrap_resamples"):
        MLSettings(bootstrap_resamples=50)


def test_per_user_ndcg_and_precision_average_to_sparks_ranking_evaluator(spark):
    rows = [([1, 2, 3], [3]), ([4, 5, 6], [7]), ([1], [1, 2]), ([2, 9, 1, 4, 8, 7], [7, 8]), ([], [5]),
            ([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6])]
    df = spark.createDataFrame(rows, "recommended array<int>, relevant array<int>")
    per_user = df.select(*per_user_ranking(5)).toPandas()
    data = df.selectExpr("cast(recommended as array<double>) p", "cast(relevant as array<double>) l")
    metrics = ranking_metrics(per_user, k=5)
    for name, spark_name in (("ndcg_at_k", "ndcgAtK"), ("precision_at_k", "precisionAtK")):
        spark_value = RankingEvaluator(predictionCol="p", labelCol="l", metricName=spark_name, k=5).evaluate(data)
        assert metrics[name] == pytest.approx(spark_value, rel=1e-12), name
    assert per_user["ndcg"][0] == pytest.approx(0.5) and per_user["ndcg"][1] == 0.0
    assert per_user["precision"].tolist() == [0.2, 0.0, 0.2, 0.2, 0.0, 1.0]  # over k, also for short lists


# --- MLflow: runs, registered versions, the champion alias --------------------------------------------------
@pytest.mark.slow
def test_each_training_logs_a_run_and_a_registered_champion(trained):
    from shopsense.ml import tracking

    config, models = trained
    client = tracking.client(config)
    experiment = client.get_experiment_by_name("shopsense")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["model"] for r in runs) == ["promo", "recommender", "season"]
    for name, result in models.items():
        run = client.get_run(result.card.mlflow["run_id"])
        assert run.data.tags["data_fingerprint.hash"] == result.card.data_fingerprint["hash"]
        assert run.data.metrics["lift_ci_low"] == result.card.serving.lift_low > 0
        assert client.download_artifacts(run.info.run_id, "card.json")
        champion = client.get_model_version_by_alias(f"shopsense_{name}", "champion")
        assert str(champion.version) == result.card.mlflow["version"] and champion.run_id == run.info.run_id
    assert config.tracking_uri == f"sqlite:///{config.home / 'mlflow.db'}" and (config.home / "mlruns").is_dir()
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: it must not leak into later configs of this process.
    assert "MLFLOW_TRACKING_URI" not in os.environ


@pytest.mark.slow
def test_permuted_labels_serve_the_baselines_in_the_cli_and_the_app(trained_on_noise, spark):
    from shopsense.app import handlers as h
    from shopsense.app.server import load_context
    from shopsense.cli import app
    from shopsense.ml import tracking

    config, models = trained_on_noise
    for name in models:
        assert tracking.champion_version(config, f"shopsense_{name}") is None  # no alias: baseline served
    out = CliRunner().invoke(app, ["--home", str(config.home), "recommend", "--customer", "1", "-k", "3"])
    assert out.exit_code == 0, out.output
    assert "popularity — the recommender did not beat it on test data: NDCG@" in out.output
    assert "score = share of customers who bought the item" in out.output
    ctx = load_context(config, spark)
    for name in models:
        assert not ctx.predictor.serves_model(name)
        assert h.model_banner(ctx, name).startswith(h.warning("**Serving the baseline:**"))
    promo_fields = [f.default for f in ctx.promo_fields]
    message, probability, decision = h.promo_propensity(ctx, *promo_fields)
    assert decision.startswith("no decision") and probability == models["promo"].card.baseline_answer["probability"]
    status = h.overview_page(ctx)[0]
    assert "the promo model did not beat it on test data" in status


@pytest.mark.slow
def test_a_later_losing_training_removes_the_champion(spark, processed_frame, tmp_path, capfd):
    """Never a model without evidence on the current data: the alias follows the latest decision, and so does
    the models section of an existing report.html. MLflow's own console lines (registration, new versions,
    store creation) stay off the console."""
    from shopsense.analytics.report import MODELS_END, MODELS_START, render_models
    from shopsense.ml import tracking
    from shopsense.ml.inference import Predictor
    from shopsense.ml.training import train_models
    from shopsense.schema import PROCESSED_SCHEMA

    config = load_config(home=tmp_path).with_overrides(ml=TINY_ML)
    frame = processed_frame(SHUFFLED_ROWS, seed=11)
    spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.parquet(str(config.processed_dir))
    config.report_html.parent.mkdir(parents=True)
    config.report_html.write_text(f"<main>{render_models({}, {})}</main>")  # as `analyze` left it: no model yet

    def report_models() -> str:
        return config.report_html.read_text().split(MODELS_START, 1)[1].split(MODELS_END, 1)[0]

    first = train_models(config, ("promo",), spark=spark)["promo"].card
    assert first.serving.serving == "model"
    assert "Serving the model:" in report_models() and "Brier score" in report_models()
    assert "Not trained yet: run <code>shopsense train season</code>" in report_models()
    assert tracking.champion_version(config, "shopsense_promo") == first.mlflow["version"] == "1"

    frame["promo_code_used"] = np.random.default_rng(0).permutation(frame["promo_code_used"].to_numpy())
    spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.mode("overwrite").parquet(str(config.processed_dir))
    second = train_models(config, ("promo",), spark=spark)["promo"].card
    assert second.serving.serving == "baseline" and second.mlflow["version"] == "2"
    assert "Serving the baseline:" in report_models() and "Serving the model:" not in report_models()
    assert tracking.champion_version(config, "shopsense_promo") is None
    console = "".join(capfd.readouterr())
    assert "shopsense_promo" not in console and "Created version" not in console
    predictor = Predictor(config, spark=spark, models=("promo",))
    assert predictor.promo_probability(predictor.customer_profile(1))["served"] == "baseline"
