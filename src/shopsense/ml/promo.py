"""Promo-code propensity: a Random Forest predicting `promo_code_used` from customer and basket features."""
from __future__ import annotations

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import RandomForestClassifier
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shopsense.config import MLSettings
from shopsense.errors import NotLearnable, ShopSenseError
from shopsense.ml.calibration import THRESHOLD_OBJECTIVE, best_f1_threshold, norms
from shopsense.ml.evaluation import (
    binary_metrics, leakage_guard, majority_baseline, positive_score, require_both_classes,
)
from shopsense.ml.features import customer_folds, customer_split, feature_stages, with_binary_label
from shopsense.ml.model_card import Stopwatch, TrainedModel, build_card, split_section
from shopsense.ml.serving import auc_lift_interval, decide

NAME = "promo"
TARGET = "promo_code_used"
# Candidate features (also the inputs of a promo profile). `discount_applied` is a candidate on purpose:
# the leakage guard decides (it copies the label in the public file, it does not in the generated data).
CANDIDATES: tuple[str, ...] = (
    "age", "gender", "subscription_status", "frequency_of_purchases", "previous_purchases", "payment_method",
    "discount_applied", "purchase_amount_usd", "category", "season", "shipping_type",
)
CHANCE_AUC = 0.5  # the baseline: no model, the training base rate for everyone, ranks no one above anyone


def train_promo(df: DataFrame, settings: MLSettings, candidates: tuple[str, ...] = CANDIDATES) -> TrainedModel:
    """Fit on the training customers, tune with customer-grouped CV, evaluate on the test customers."""
    if df.where(df[TARGET].isNotNull()).isEmpty():  # the input had no promo column (docs/ingest.md)
        raise NotLearnable(f"the input has no promo column (`{TARGET}` is null in every row)")
    watch = Stopwatch()
    train, test = customer_split(with_binary_label(df, TARGET), settings.test_fraction, settings.seed)
    for split, frame in (("training", train), ("test", test)):
        require_both_classes(frame, f"`{TARGET}` in the {split} split")
    train, test = train.cache(), test.cache()
    kept, excluded, single_aucs = leakage_guard(train, candidates, settings.leakage_auc_threshold)
    if not kept:
        raise ShopSenseError(f"every promo feature predicts the label alone (AUC > "
                             f"{settings.leakage_auc_threshold}): {excluded}; nothing honest is left to learn from")

    forest = RandomForestClassifier(labelCol="label", featuresCol="features", seed=settings.seed)
    grid = (ParamGridBuilder().addGrid(forest.numTrees, list(settings.promo_num_trees))
            .addGrid(forest.maxDepth, list(settings.promo_max_depth)).build())
    search = CrossValidator(estimator=Pipeline(stages=[*feature_stages(kept), forest]), estimatorParamMaps=grid,
                            evaluator=BinaryClassificationEvaluator(metricName="areaUnderROC"),
                            numFolds=settings.cv_folds, foldCol="fold", seed=settings.seed)
    fitted = search.fit(customer_folds(train, settings.cv_folds, settings.seed))
    model: PipelineModel = fitted.bestModel  # refitted on the whole training split
    best_forest = model.stages[-1]

    # The decision threshold is chosen on training rows, so the test metrics at it stay held out.
    threshold = best_f1_threshold(positive_score(model.transform(train)))
    scored = positive_score(model.transform(test)).cache()
    metrics = binary_metrics(scored, threshold=threshold)
    baseline = majority_baseline(train, test)
    base_rate = float(train.agg(F.avg("label")).first()[0])
    rows = scored.select("customer_id", "score", "label").toPandas()
    customer = rows["customer_id"].factorize()[0]
    scores, labels = rows["score"].to_numpy(), rows["label"].to_numpy()
    serving = decide("promo model", "test AUC", metrics["auc_roc"], "the base rate", CHANCE_AUC,
                     auc_lift_interval(customer, scores, labels, CHANCE_AUC, settings.bootstrap_resamples,
                                       settings.seed),
                     int(customer.max()) + 1, settings)
    card = build_card(
        NAME, spark=df.sparkSession, data=df, settings=settings, seconds=watch.seconds(),
        task=f"binary classification of `{TARGET}` (RandomForestClassifier)",
        split=split_section(train, test, settings),
        features=kept,
        excluded_features={f: {"single_feature_auc": auc, "reason": "alone predicts the label (leakage guard)"}
                           for f, auc in excluded.items()},
        details={"candidate_features": list(candidates), "single_feature_auc": single_aucs,
                 "calibration": norms(scores, labels)},
        serving=serving,
        baseline_answer={"probability": round(base_rate, 4),
                         "meaning": "the share of training purchases that used a promo code, for everyone"},
        params={
            "numTrees": best_forest.getNumTrees, "maxDepth": best_forest.getOrDefault("maxDepth"),
            "threshold": threshold, "threshold_objective": THRESHOLD_OBJECTIVE,
            "search": {"method": f"CrossValidator, {settings.cv_folds} folds grouped by customer, AUC-ROC",
                       "grid": [{p.name: v for p, v in params.items()} | {"cv_auc": round(m, 4)}
                                for params, m in zip(grid, fitted.avgMetrics)]},
        },
        metrics={"model": metrics, "baseline_majority_class": baseline},
    )
    scored.unpersist()
    train.unpersist()
    test.unpersist()
    return TrainedModel(model, card)

