"""Single-row scoring (ml/scoring.py) gives exactly what the fitted PipelineModel's `transform` gives."""
from __future__ import annotations

import random

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.classification import RandomForestClassifier
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from shopsense import schema
from shopsense.config import MLSettings
from shopsense.ml import season
from shopsense.ml.features import feature_stages, with_binary_label
from shopsense.ml.inference import PROMO_INPUTS, SEASON_INPUTS
from shopsense.ml.scoring import RowScorer
from shopsense.schema import PROCESSED_SCHEMA


def profiles(spark, columns: tuple[str, ...], rows: int, seed: int):
    """`rows` random valid profiles that hold every vocabulary value of every categorical column."""
    rng = random.Random(seed)
    fields = [f for f in PROCESSED_SCHEMA.fields if f.name in columns]

    def value(field, i):
        if field.name in schema.VOCABULARIES:
            vocabulary = schema.VOCABULARIES[field.name]
            return vocabulary[i] if i < len(vocabulary) else rng.choice(vocabulary)
        if field.name in schema.BOOLEAN_COLUMNS:
            return rng.random() < 0.5
        low, high = schema.NUMERIC_RANGES[field.name]
        if field.dataType.typeName() in ("integer", "long"):
            return rng.randint(int(low), int(min(high, 100)))
        return round(rng.uniform(low, min(high, 500.0)), 2)

    data = [tuple(value(f, i) for f in fields) for i in range(rows)]
    return spark.createDataFrame(data, StructType(fields))


def assert_scores_equal_transform(spark, model, frame, columns) -> None:
    expected = model.transform(frame).select(*columns, vector_to_array("probability").alias("p")).collect()
    scorer = RowScorer(spark, model)
    mismatches = [r for r in expected if scorer.probabilities(r.asDict()) != list(r.p)]
    assert not mismatches, f"{len(mismatches)} of {len(expected)} rows differ, e.g. {mismatches[0]}"


def test_single_rows_equal_transform_also_for_values_unseen_in_training(spark, processed_df):
    # Trained without PayPal and Winter: those rows take the indexer's "keep" path (an all-zero segment).
    train = processed_df(400, seed=5).where((F.col("payment_method") != "PayPal") & (F.col("season") != "Winter"))
    forest = RandomForestClassifier(numTrees=6, maxDepth=5, seed=3)
    model = Pipeline(stages=[*feature_stages(PROMO_INPUTS), forest]).fit(with_binary_label(train, "promo_code_used"))
    assert_scores_equal_transform(spark, model, profiles(spark, PROMO_INPUTS, 300, seed=1), PROMO_INPUTS)


def test_the_season_models_label_indexer_is_skipped_as_transform_skips_it(spark, processed_df):
    settings = MLSettings(season_num_trees=4, season_max_depth=4)
    model = season.season_pipeline(settings).fit(processed_df(400, seed=6))
    columns = (*SEASON_INPUTS, "season")
    assert_scores_equal_transform(spark, model, profiles(spark, columns, 200, seed=2), columns)


def test_a_pipeline_without_a_probabilistic_classifier_is_refused(spark, processed_df):
    from pyspark.ml import PipelineModel

    model = Pipeline(stages=feature_stages(("age", "gender"))).fit(processed_df(50, seed=1))
    with pytest.raises(TypeError, match="classifier"):
        RowScorer(spark, PipelineModel(model.stages))
