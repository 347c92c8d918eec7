"""One request's class probabilities from a fitted PipelineModel without a Spark job per request.

A one-row `PipelineModel.transform(...).first()` costs ~100 ms warm (DataFrame creation, the analysis of a
plan through every stage, a job), while the forest's own single-row API, `predictProbability(vector)`, answers
in under a millisecond. The feature vector is still the fitted stages' work: at start-up the feature stages
(StringIndexer + OneHotEncoder) transform every vocabulary value of each categorical input once, and a
request's vector is the VectorAssembler's concatenation of its numbers and those encoded segments, in the
assembler's input order. tests/ml/test_ml_scoring.py checks the result equals `transform` on many rows.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.ml.classification import ProbabilisticClassificationModel
from pyspark.ml.feature import OneHotEncoderModel, StringIndexerModel, VectorAssembler
from pyspark.ml.linalg import DenseVector
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from shopsense import schema


class RowScorer:
    """`probabilities(row)` of a PipelineModel shaped as ShopSense trains them: optional StringIndexer(s) and a
    OneHotEncoder over the categorical inputs, one VectorAssembler, a probabilistic classifier last. An
    indexer of a column that is not an input (the season model's label indexer) is skipped, as `transform`
    skips it on a profile without that column."""

    def __init__(self, spark: SparkSession, model: PipelineModel):
        *features, classifier = model.stages
        assembler = features[-1]
        if not isinstance(classifier, ProbabilisticClassificationModel) or not isinstance(assembler, VectorAssembler):
            raise TypeError(f"expected feature stages, a VectorAssembler and a classifier, got {model.stages}")
        self.classifier = classifier
        source: dict[str, str] = {}  # an encoder's output column -> the profile column it encodes
        for stage in features:
            if isinstance(stage, (StringIndexerModel, OneHotEncoderModel)):
                for column, output in zip(_inputs(stage), _outputs(stage)):
                    source[output] = source.get(column, column)
        # (profile column, assembler input): the column itself (a number) or its one-hot output.
        self.layout = [(source.get(c, c), c) for c in assembler.getInputCols()]
        encoded = {column: output for column, output in self.layout if column != output}
        self.segments = _encode_vocabularies(spark, PipelineModel(features[:-1]), encoded)

    def vector(self, row: Mapping[str, object]) -> DenseVector:
        """The assembler's output for one validated profile (numbers and booleans as doubles)."""
        values: list[float] = []
        for column, output in self.layout:
            values.extend(self.segments[(column, row[column])] if column != output else [float(row[column])])
        return DenseVector(values)

    def probabilities(self, row: Mapping[str, object]) -> list[float]:
        return self.classifier.predictProbability(self.vector(row)).toArray().tolist()


def _inputs(stage) -> list[str]:
    return stage.getInputCols() if stage.isSet("inputCols") else [stage.getInputCol()]


def _outputs(stage) -> list[str]:
    return stage.getOutputCols() if stage.isSet("outputCols") else [stage.getOutputCol()]


def _encode_vocabularies(spark: SparkSession, encoders: PipelineModel,
                         encoded: dict[str, str]) -> dict[tuple[str, object], list[float]]:
    """(column, value) -> its encoded segment, for every vocabulary value of each encoded column (column ->
    assembler input), computed by the fitted stages in one job: a value unseen in training gets what the
    indexer's `handleInvalid` gives it."""
    if not encoded:
        return {}
    rows = max(len(schema.VOCABULARIES[c]) for c in encoded)
    fields = [f for f in schema.PROCESSED_SCHEMA.fields if f.name in encoded]
    vocabularies = {f.name: schema.VOCABULARIES[f.name] for f in fields}
    frame = pd.DataFrame({c: [v[i % len(v)] for i in range(rows)] for c, v in vocabularies.items()})
    segments = {}
    for row in encoders.transform(spark.createDataFrame(frame, StructType(fields))).collect():
        for column, output in encoded.items():
            segments[(column, row[column])] = row[output].toArray().tolist()
    return segments
