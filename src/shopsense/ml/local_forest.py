"""A saved feature pipeline + Random Forest evaluated in plain Python, for single inference requests.

A Spark job per request costs seconds on a busy machine (the app aims at p95 < 300 ms); walking 40 small
trees in Python costs well under a millisecond. The trees are read from the PipelineModel's own saved
Parquet (Spark's stable `NodeData` layout), the encoders from the fitted stages, and the result equals
`PipelineModel.transform` (tested on many rows).
"""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from pyspark.ml import PipelineModel


def _stage_kind(stage) -> str:
    return type(stage).__name__


class LocalForest:
    def __init__(self, model: PipelineModel, path: Path) -> None:
        self.indexers: dict[str, tuple[str, dict[str, int]]] = {}  # input column -> (index column, label -> index)
        self.encoders: dict[str, tuple[str, int]] = {}  # index column -> (vector column, vector size)
        self.assembled: list[str] = []
        forest_position = None
        for position, stage in enumerate(model.stages):
            kind = _stage_kind(stage)
            if kind == "StringIndexerModel" and stage.isSet("inputCols"):
                for column, output, labels in zip(stage.getInputCols(), stage.getOutputCols(), stage.labelsArray):
                    self.indexers[column] = (output, {label: i for i, label in enumerate(labels)})
            elif kind == "OneHotEncoderModel":
                drop = 1 if stage.getDropLast() else 0
                for column, output, size in zip(stage.getInputCols(), stage.getOutputCols(), stage.categorySizes):
                    self.encoders[column] = (output, size - drop)
            elif kind == "VectorAssembler":
                self.assembled = list(stage.getInputCols())
            elif kind == "RandomForestClassificationModel":
                forest_position = position
                self.num_classes = stage.numClasses
        if forest_position is None:
            raise ValueError("the pipeline has no RandomForestClassificationModel")
        stage_dir = next((path / "stages").glob(f"{forest_position}_*"))
        self.trees = self._read_trees(stage_dir / "data")

    @staticmethod
    def _read_trees(data_dir: Path) -> list[dict[int, dict]]:
        trees: dict[int, dict[int, dict]] = {}
        for row in pq.read_table(data_dir).to_pylist():
            node = row["nodeData"]
            trees.setdefault(row["treeID"], {})[node["id"]] = node
        return [trees[t] for t in sorted(trees)]

    def features(self, row: dict) -> list[float]:
        """The assembled feature vector of one profile (same order and encoding as the Spark stages)."""
        values: dict[str, list[float]] = {}
        index_of = {output: (column, labels) for column, (output, labels) in self.indexers.items()}
        vector_of = {output: index_column for index_column, (output, _) in self.encoders.items()}
        for name in self.assembled:
            if name in vector_of:
                index_column = vector_of[name]
                column, labels = index_of[index_column]
                size = self.encoders[index_column][1]
                index = labels.get(row[column], len(labels))  # handleInvalid="keep": the extra index
                one_hot = [0.0] * size
                if index < size:
                    one_hot[index] = 1.0
                values[name] = one_hot
            else:
                values[name] = [float(row[name])]
        return [x for name in self.assembled for x in values[name]]

    @staticmethod
    def _leaf(tree: dict[int, dict], x: list[float]) -> dict:
        node = tree[0]
        while node["leftChild"] >= 0:
            split = node["split"]
            value = x[split["featureIndex"]]
            if split["numCategories"] < 0:  # continuous: left when value <= threshold
                left = value <= split["leftCategoriesOrThreshold"][0]
            else:  # categorical: left when the value is one of the left categories
                left = value in split["leftCategoriesOrThreshold"]
            node = tree[node["leftChild"] if left else node["rightChild"]]
        return node

    def probabilities(self, row: dict) -> list[float]:
        """Class probabilities as RandomForestClassificationModel computes them: the average of every
        tree's normalised leaf class counts."""
        x = self.features(row)
        votes = [0.0] * self.num_classes
        for tree in self.trees:
            stats = self._leaf(tree, x)["impurityStats"]
            total = sum(stats)
            if total:
                for i, count in enumerate(stats):
                    votes[i] += count / total
        total = sum(votes)
        return [v / total for v in votes] if total else votes
