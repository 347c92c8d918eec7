"""Seasonal item predictor: a Random Forest over 25 items from the season and a customer profile;
its answer is the top 3 items with their probabilities."""
from __future__ import annotations

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import RandomForestClassifier
from pyspark.ml.feature import StringIndexer
from pyspark.sql import DataFrame

from shopsense.config import MLSettings
from shopsense.ml.evaluation import popularity_top_k_rates, top_k_indices, top_k_rates
from shopsense.ml.features import customer_split, feature_stages
from shopsense.ml.model_card import Stopwatch, build_card, split_section

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


def train_season(df: DataFrame, settings: MLSettings) -> tuple[PipelineModel, dict]:
    watch = Stopwatch()
    train, test = customer_split(df, settings.test_fraction, settings.seed)
    train, test = train.cache(), test.cache()
    model = season_pipeline(settings).fit(train)
    predicted = top_k_indices(model.transform(test), TOP_K)
    forest = model.stages[-1]
    card = build_card(
        NAME, spark=df.sparkSession, data=df, settings=settings, seconds=watch.seconds(),
        task=f"multi-class classification of `{TARGET}` ({len(item_names(model))} items), top-{TOP_K} answer",
        split=split_section(train, test, settings),
        features=list(FEATURES),
        excluded_features={},
        params={"numTrees": forest.getNumTrees, "maxDepth": forest.getOrDefault("maxDepth"),
                "featureSubsetStrategy": "all", "top_k": TOP_K},
        metrics={
            "model": top_k_rates(predicted),
            "baseline_season_top3": popularity_top_k_rates(train, test, TARGET, TOP_K, by=["season"]),
            "baseline_overall_top3": popularity_top_k_rates(train, test, TARGET, TOP_K),
        },
    )
    train.unpersist()
    test.unpersist()
    return model, card
