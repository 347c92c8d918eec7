"""Saved models in a fresh SparkSession, the leakage guard seen in a real model card, RMSE baselines."""
from __future__ import annotations

import json
import math
import os
import re
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from shopsense.config import MLSettings, load_config
from shopsense.io import read_processed
from shopsense.ml.model_card import CARD_FILE, read_card

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[2] / "src"
NAMES = ("promo", "season", "recommender")

# Run twice: in a NEW Python process (new JVM, new SparkSession) on the models loaded from disk, and in the
# test process on the in-memory models returned by training. The same code computes both answers.
RELOAD_SCRIPT = textwrap.dedent('''
    import json
    import sys

    from pyspark.ml.functions import vector_to_array

    from shopsense.ml.season import item_names


    def predictions(models, rows):
        """JSON-native answers of the three PipelineModels for the rows (keyed by row_id / customer_id)."""
        promo = {r.row_id: list(r.p) for r in models["promo"].transform(rows)
                 .select("row_id", vector_to_array("probability").alias("p")).collect()}
        names = item_names(models["season"])  # the saved item indexer's labels
        season = {}
        for r in models["season"].transform(rows).select("row_id", vector_to_array("probability").alias("p")).collect():
            ranked = sorted(zip(names, r.p[: len(names)]), key=lambda pair: (-pair[1], pair[0]))
            season[r.row_id] = [list(pair) for pair in ranked[:3]]
        recommender = models["recommender"]
        labels = list(recommender.stages[0].labels)  # item index -> item name, as saved
        users = rows.select("customer_id").distinct()
        recommended = {}
        for r in recommender.stages[-1].recommendForUserSubset(users, len(labels)).collect():
            ranked = sorted(((labels[x.item_index], float(x.rating)) for x in r.recommendations),
                            key=lambda pair: (-pair[1], pair[0]))
            recommended[r.customer_id] = [list(pair) for pair in ranked]
        # The whole pipeline on (customer, item NAME) rows: the indexer maps names in, ALS scores the pair.
        pairs = {r.row_id: [r.item_purchased, labels[int(r.item_index)], float(r.prediction)]
                 for r in recommender.transform(rows.select("row_id", "customer_id", "item_purchased")).collect()}
        return json.loads(json.dumps({"promo": promo, "season": season, "recommended": recommended,
                                      "pairs": pairs}))


    if __name__ == "__main__":
        from shopsense.config import SparkSettings
        from shopsense.spark import get_spark

        import mlflow.spark

        model_uris, rows_path, out_path = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
        spark = get_spark(SparkSettings(master="local[1]", app_name="shopsense-reload", shuffle_partitions=1,
                                        driver_memory="1g"))
        # The champions of the MLflow registry (MLFLOW_TRACKING_URI), as the app and `recommend` load them.
        loaded = {name: mlflow.spark.load_model(uri) for name, uri in model_uris.items()}
        answers = predictions(loaded, spark.read.parquet(rows_path))
        answers["spark_app_id"] = spark.sparkContext.applicationId
        with open(out_path, "w") as out:
            json.dump(answers, out)
        spark.stop()
''')


def test_champions_give_the_same_predictions_in_a_fresh_process(trained, spark, tmp_path):
    config, models = trained
    rows_path = str(tmp_path / "rows")
    (read_processed(spark, config).orderBy(F.xxhash64("customer_id", "item_purchased", "previous_purchases"))
     .limit(24).withColumn("row_id", F.monotonically_increasing_id()).coalesce(1).write.parquet(rows_path))
    script = tmp_path / "reload.py"
    script.write_text(RELOAD_SCRIPT)
    from shopsense.ml import tracking

    for name in NAMES:  # every model won on this data: each is its registry's champion
        assert tracking.champion_version(config, f"shopsense_{name}") == models[name].card.mlflow["version"]
    model_uris = {name: f"models:/shopsense_{name}@champion" for name in NAMES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_GATEWAY")}
    env |= {"MLFLOW_TRACKING_URI": config.tracking_uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, str(script), json.dumps(model_uris), rows_path, str(tmp_path / "out.json")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    fresh = json.loads((tmp_path / "out.json").read_text())
    assert fresh.pop("spark_app_id") != spark.sparkContext.applicationId  # really another session

    here = runpy.run_path(str(script), run_name="in_process")["predictions"](
        {name: models[name].model for name in NAMES}, spark.read.parquet(rows_path))

    assert len(here["promo"]) == len(here["season"]) == len(here["pairs"]) == 24 and here["recommended"]
    assert fresh.keys() == here.keys()
    for section in ("promo", "season", "recommended", "pairs"):
        assert fresh[section].keys() == here[section].keys(), section
    for key, p in here["promo"].items():
        assert fresh["promo"][key] == pytest.approx(p, rel=1e-9, abs=0)
        assert 0.0 <= p[1] <= 1.0
    for key, top in here["season"].items():
        assert [name for name, _ in fresh["season"][key]] == [name for name, _ in top]  # names exact
        assert [p for _, p in fresh["season"][key]] == pytest.approx([p for _, p in top], rel=1e-9, abs=0)
    item_names = set(models["recommender"].model.stages[0].labels)
    for customer, ranked in here["recommended"].items():
        assert {name for name, _ in ranked} == item_names  # every item scored, mapped back to its name
        assert [name for name, _ in fresh["recommended"][customer]] == [name for name, _ in ranked]
        assert [s for _, s in fresh["recommended"][customer]] == pytest.approx([s for _, s in ranked], rel=1e-9, abs=0)
    for key, (item, indexed_name, score) in here["pairs"].items():
        assert indexed_name == item  # name -> index -> name round trip through the saved indexer
        assert fresh["pairs"][key][:2] == [item, indexed_name]
        assert fresh["pairs"][key][2] == pytest.approx(score, rel=1e-9, abs=0)


def test_leakage_guard_excludes_a_label_copy_and_says_so_in_the_card(spark, processed_frame, tmp_path):
    """As in the public file (discount_applied == promo_code_used on every row), on a small generated log.

    tests/fixtures/shopping_sample.csv cannot be used: its 100 rows all have promo_code_used = Yes."""
    from shopsense.ml.registry import MODELS
    from shopsense.ml.training import train_one
    from shopsense.schema import PROCESSED_SCHEMA

    frame = processed_frame(600, seed=21)
    frame["discount_applied"] = frame["promo_code_used"]
    assert frame["promo_code_used"].nunique() == 2
    config = load_config(home=tmp_path).with_overrides(ml=MLSettings(promo_num_trees=(3,), promo_max_depth=(2,)))
    df = spark.createDataFrame(frame, schema=PROCESSED_SCHEMA)
    trained = train_one(MODELS["promo"], df, config)
    model, card = trained.model, trained.card

    assert read_card(spark, config.model_dir("promo")) == card
    assert set(card.excluded_features) == {"discount_applied"}
    assert card.excluded_features["discount_applied"]["single_feature_auc"] == pytest.approx(1.0)
    assert card.details["single_feature_auc"]["discount_applied"] == pytest.approx(1.0)
    candidates = card.details["candidate_features"]
    assert "discount_applied" in candidates and "discount_applied" not in card.features
    assert card.features == [f for f in candidates if f != "discount_applied"]
    # The fitted pipeline never reads the column: its stages' inputs and the assembled features lack it,
    # and it transforms rows that do not have the column at all.
    inputs = set()
    for stage in model.stages[:-1]:
        for param in ("inputCol", "inputCols"):
            if stage.hasParam(param) and stage.isDefined(param):
                value = stage.getOrDefault(param)
                inputs |= {value} if isinstance(value, str) else set(value)
    assert "discount_applied" not in inputs
    assert {c.split("__")[0] for c in inputs} == set(card.features)  # x, x__idx, x__vec -> x
    assert model.transform(df.drop("discount_applied").limit(3)).select("probability").count() == 3


def test_recommender_card_rmse_baselines_are_present_and_sane(trained):
    card = trained[1]["recommender"].card
    m = card.metrics
    explicit, global_mean, bias = (m["variant_explicit"]["rmse"], m["baseline_global_mean"]["rmse"],
                                   m["baseline_user_item_bias"]["rmse"])
    for value in (explicit, global_mean, bias):
        assert math.isfinite(value) and 0 < value < 4.0  # ratings lie in [1, 5]
    # The card counts the explicit variant's scored test pairs; both baselines are computed on those same
    # rows (one DataFrame in recommender.evaluate_split) but have no count of their own in the card.
    assert 0 < m["variant_explicit"]["rmse_rows"] <= card.split["test_pairs"]
    # Fitted on the same training pairs, the damped user+item biases do not predict worse than their own
    # global-mean term (beyond a small tolerance for the small test split).
    assert bias <= global_mean + 0.01


def test_a_constant_promo_label_is_not_trained_and_says_why(spark, processed_frame, tmp_path):
    """Real data can hold one answer only (the public file's first 100 rows all used a promo code). Then
    `train promo` says so in one line (Spark failed deep inside before, or reported AUC 1.000 vs 1.000), and
    `train all` trains the others and replaces the promo model of earlier data by the reason. One purchase
    per customer, as in the public file: the recommender is not trained either (and the test stays quick)."""
    from typer.testing import CliRunner

    from shopsense.cli import app
    from shopsense.errors import NotLearnable
    from shopsense.ml.inference import Predictor
    from shopsense.schema import PROCESSED_SCHEMA

    (tmp_path / "shopsense.toml").write_text("[ml]\npromo_num_trees = [3]\npromo_max_depth = [2]\n"
                                             "season_num_trees = 3\nseason_max_depth = 2\nals_max_iter = 2\n")
    config = load_config(home=tmp_path)
    frame = processed_frame(600, seed=21, customers=600)
    runner = CliRunner()
    for answer in (True, False):
        frame["promo_code_used"] = answer
        spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.mode("overwrite").parquet(
            str(config.processed_dir))
        out = runner.invoke(app, ["--home", str(tmp_path), "train", "promo"])
        assert isinstance(out.exception, NotLearnable), out.output
        message = (r"model 'promo' cannot be trained: `promo_code_used` in the training split is "
                   rf"{str(answer).lower()} in all ([\d,]+) rows: a classifier needs both answers")
        assert 0 < int(re.fullmatch(message, str(out.exception)).group(1)) < 600

    stale = Path(config.model_dir("promo"), "pipeline")
    stale.mkdir(parents=True)
    out = runner.invoke(app, ["--home", str(tmp_path), "train", "all"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("promo: not trained: `promo_code_used` in the training split is false in all")
    assert lines[1].startswith("season: serving ")
    assert lines[2].startswith("recommender: not trained: no customer bought 2 or more different items")
    assert not Path(config.model_dir("promo"), "pipeline").exists()
    reason = read_card(spark, config.model_dir("promo")).not_trained
    assert lines[0] == f"promo: not trained: {reason}"
    assert read_card(spark, config.model_dir("season")).model == "season"
    rec_reason = read_card(spark, config.model_dir("recommender")).not_trained
    assert lines[2] == f"recommender: not trained: {rec_reason}"
    # What the app shows on the tabs: the reason, not "run `shopsense train promo`".
    status = Predictor(config, spark=spark).status()
    assert status == {"promo": f"model 'promo' was not trained on this data: {reason}", "season": None,
                      "recommender": f"model 'recommender' was not trained on this data: {rec_reason}; "
                                     "recommendations are the most popular items instead"}


@pytest.mark.parametrize("rows_per_customer, split, needed", [(1, "test", 2), (2, "validation", 3)])
def test_a_recommender_without_repeat_customers_is_not_trained_and_says_why(
        spark, processed_frame, tmp_path, rows_per_customer, split, needed):
    """The public file has one purchase per customer: nothing can be held out to evaluate ALS, which learns
    from customers who bought several items. Training says so in one line (Spark's evaluator failed before
    with "Nothing has been added to this summarizer", which stopped `shopsense run` on that file)."""
    from shopsense.errors import NotLearnable
    from shopsense.ml.training import train_models
    from shopsense.schema import PROCESSED_SCHEMA

    config = load_config(home=tmp_path)
    frame = processed_frame(600, seed=5)
    frame["customer_id"] = [i // rows_per_customer + 1 for i in range(len(frame))]
    spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.parquet(str(config.processed_dir))
    customers, pairs = frame["customer_id"].nunique(), frame.groupby(["customer_id", "item_purchased"]).ngroups
    with pytest.raises(NotLearnable) as error:
        train_models(config, ("recommender",), spark=spark)
    assert str(error.value) == (
        f"model 'recommender' cannot be trained: no customer bought {needed} or more different items "
        f"({customers:,} customers, {pairs:,} customer-item pairs): no purchase can be held out for the {split} "
        f"split, and collaborative filtering learns from customers who bought several")


def test_without_a_trained_recommender_the_most_popular_items_are_served(spark, processed_frame, tmp_path):
    """Data of the public file's shape (one purchase per customer) cannot train ALS. The app's tab and
    `shopsense recommend` then still answer, with the most popular items of the processed data, never one
    the customer bought, and say why (before: the reason only, and no items)."""
    from typer.testing import CliRunner

    from shopsense.app.handlers import AppContext, recommendations
    from shopsense.cli import app
    from shopsense.ml.inference import Predictor
    from shopsense.ml.training import record_not_trained
    from shopsense.schema import PROCESSED_SCHEMA

    config = load_config(home=tmp_path)
    frame = processed_frame(600, seed=5)
    frame["customer_id"] = range(1, len(frame) + 1)
    spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.parquet(str(config.processed_dir))
    record_not_trained(spark, config, "recommender", "no customer bought 2 or more different items")
    buyers = frame.groupby("item_purchased")["customer_id"].nunique()
    ranked = [item for item, _ in sorted(buyers.items(), key=lambda pair: (-pair[1], pair[0]))]
    customer = int(frame.customer_id[frame.item_purchased == ranked[0]].iloc[0])  # bought the top item

    predictor = Predictor(config, spark=spark)
    result = predictor.recommend(customer, k=3)
    # what `shopsense recommend` builds: the scores still count every customer of the processed data
    assert Predictor(config, spark=spark, customers=(customer,)).recommend(customer, k=3) == result
    assert [x["item"] for x in result["items"]] == ranked[1:4]
    assert [x["score"] for x in result["items"]] == [buyers[item] / len(frame) for item in ranked[1:4]]
    assert result["already_bought"] == [ranked[0]] and result["fallback"]
    assert result["label"] == "popularity fallback: the recommender was not trained on this data"
    unknown = predictor.recommend(10**6, k=2)
    assert [x["item"] for x in unknown["items"]] == ranked[:2]
    assert unknown["label"].endswith("not trained on this data, unknown customer")
    assert predictor.status()["recommender"] == (
        "model 'recommender' was not trained on this data: no customer bought 2 or more different items; "
        "recommendations are the most popular items instead")

    message, recs, bought = recommendations(AppContext(config=config, predictor=predictor), customer, 3)
    assert message.startswith(f"**Popularity** for customer {customer}: ")
    assert "Score = share of customers who bought the item" in message
    assert list(recs["item"]) == ranked[1:4] and list(bought["item"]) == [ranked[0]]
    out = CliRunner().invoke(app, ["--home", str(tmp_path), "recommend", "--customer", str(customer), "-k", "3"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[1] == "score = share of customers who bought the item"
    assert out.output.splitlines()[2].startswith(f"  1. {ranked[1]} (score ")

    Path(config.model_dir("recommender"), CARD_FILE).unlink()  # no card, no reason: train it, as before
    assert not Predictor(config, spark=spark).serves("recommender")
