"""The leakage guard seen in a real model card, RMSE baselines, data no model can learn from."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from shopsense.config import MLSettings, load_config
from shopsense.ml.model_card import CARD_FILE, read_card

pytestmark = pytest.mark.slow


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
