"""Seasonal item predictor: a Random Forest over 25 items from the season and a customer profile;
its answer is the top 3 items with their probabilities."""
from __future__ import annotations

import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import RandomForestClassifier
from pyspark.ml.feature import StringIndexer
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from shopsense.config import MLSettings
from shopsense.ml.evaluation import popularity_top_k, popularity_top_k_rates, top_k_indices, top_k_rates
from shopsense.ml.features import customer_split, feature_stages
from shopsense.ml.model_card import Stopwatch, TrainedModel, build_card, split_section
from shopsense.ml.serving import decide, ratio_lift_interval

NAME = "season"
TARGET = "item_purchased"
LABEL_INDEXER = 0  # position of the item StringIndexer in the pipeline: its labels are the item names
TOP_K = 3
FEATURES: tuple[str, ...] = (
    "season", "age", "gender", "size", "subscription_status", "frequency_of_purchases",
)


def season_pipeline(settings: MLSettings) -> Pipeline:
    # The label indexer is skipped at inference (no `item_purchased` column in a profile); "keep" maps an
    # item never bought in training to an extra class that is never predicted: a miss, not a dropped row.
    label = StringIndexer(inputCol=TARGET, outputCol="label", handleInvalid="keep", stringOrderType="alphabetAsc")
    # featureSubsetStrategy="all": with six inputs, the default sqrt-subsets hide the season (the strongest
    # signal) from most splits and the forest ends up below the plain seasonal popularity list.
    forest = RandomForestClassifier(labelCol="label", featuresCol="features", seed=settings.seed,
                                    numTrees=settings.season_num_trees, maxDepth=settings.season_max_depth,
                                    featureSubsetStrategy="all")
    return Pipeline(stages=[label, *feature_stages(FEATURES), forest])


def item_names(model: PipelineModel) -> list[str]:
    return list(model.stages[LABEL_INDEXER].labels)


def season_lists(train: DataFrame) -> dict[str, list[dict]]:
    """The baseline's answer: per season, the items most bought in it (training rows), with their share of the
    season's purchases."""
    counts = train.groupBy("season", TARGET).agg(F.count(F.lit(1)).alias("n"))
    share = F.col("n") / F.sum("n").over(Window.partitionBy("season"))
    rank = F.row_number().over(Window.partitionBy("season").orderBy(F.desc("n"), TARGET))
    lists: dict[str, list[dict]] = {}
    for r in counts.select("season", TARGET, share.alias("share"), rank.alias("rank")).orderBy("season", "rank").collect():
        lists.setdefault(r.season, []).append({"item": r[TARGET], "share": round(r.share, 4)})
    return lists


def per_customer_hits(predicted: DataFrame, train: DataFrame) -> pd.DataFrame:
    """Per test customer: rows, top-3 hits of the model (`top_k`), and of the season's top-3 list of train."""
    tops = popularity_top_k(train, TARGET, TOP_K, by=["season"]).withColumnRenamed("top_k", "season_top")
    hits = predicted.join(tops, "season", "left").select(
        "customer_id", F.array_contains("top_k", F.col("label")).cast("double").alias("model"),
        F.coalesce(F.array_contains("season_top", F.col(TARGET)), F.lit(False)).cast("double").alias("baseline"))
    return hits.groupBy("customer_id").agg(F.count(F.lit(1)).cast("double").alias("rows"),
                                           F.sum("model").alias("model"), F.sum("baseline").alias("baseline")).toPandas()


def train_season(df: DataFrame, settings: MLSettings) -> TrainedModel:
    watch = Stopwatch()
    train, test = customer_split(df, settings.test_fraction, settings.seed)
    train, test = train.cache(), test.cache()
    model = season_pipeline(settings).fit(train)
    predicted = top_k_indices(model.transform(test), TOP_K).cache()
    forest = model.stages[-1]
    model_rates = top_k_rates(predicted)
    season_rates = popularity_top_k_rates(train, test, TARGET, TOP_K, by=["season"])
    hits = per_customer_hits(predicted, train)
    interval = ratio_lift_interval(hits["model"].to_numpy(), hits["baseline"].to_numpy(), hits["rows"].to_numpy(),
                                   settings.bootstrap_resamples, settings.seed)
    serving = decide("season model", "test top-3 hit rate", model_rates["top3_hit_rate"], "the season's top-3 list",
                     season_rates["top3_hit_rate"], interval, len(hits), settings)
    card = build_card(
        NAME, spark=df.sparkSession, data=df, settings=settings, seconds=watch.seconds(),
        task=f"multi-class classification of `{TARGET}` ({len(item_names(model))} items), top-{TOP_K} answer",
        split=split_section(train, test, settings),
        features=list(FEATURES),
        excluded_features={},
        params={"numTrees": forest.getNumTrees, "maxDepth": forest.getOrDefault("maxDepth"),
                "featureSubsetStrategy": "all", "top_k": TOP_K},
        metrics={
            "model": model_rates,
            "baseline_season_top3": season_rates,
            "baseline_overall_top3": popularity_top_k_rates(train, test, TARGET, TOP_K),
        },
        serving=serving,
        baseline_answer={"season_top": season_lists(train),
                         "meaning": "the share of the season's training purchases that were this item"},
    )
    for cached in (train, test, predicted):
        cached.unpersist()
    return TrainedModel(model, card)
