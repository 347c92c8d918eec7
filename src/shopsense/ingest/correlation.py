"""Correlation of the numeric features (Spark ML VectorAssembler + Correlation, Pearson and Spearman).

Feature-reduction rule, per method: every pair with |r| > threshold is a candidate. Pairs are taken from the
strongest down; when neither feature of a pair is dropped yet, the one with the higher mean |r| against all
other features is dropped (it carries the least information of its own); a tie drops the one listed later
in schema.NUMERIC_COLUMNS. Undefined correlations (NaN: a constant column, or fewer than 2 rows) are never
candidates and are written as null (JSON) / empty (CSV).
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.stat import Correlation
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from shopsense import schema
from shopsense.io import local_output

METHODS: tuple[str, ...] = ("pearson", "spearman")
FEATURES: tuple[str, ...] = schema.NUMERIC_COLUMNS


@dataclass(frozen=True)
class Correlations:
    features: tuple[str, ...]
    rows: int
    constant: tuple[str, ...]  # features with a single value: their correlations are undefined
    matrices: dict[str, np.ndarray]  # method -> square matrix in `features` order (NaN = undefined)
    threshold: float

    @property
    def note(self) -> str | None:
        if self.rows < 2:
            return f"fewer than 2 clean rows ({self.rows}): correlations are undefined"
        if self.constant:
            return f"constant column(s) {', '.join(self.constant)}: their correlations are undefined"
        return None

    def candidates(self) -> list[dict]:
        return [c for method in METHODS for c in reduction_candidates(self, method)]

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "rows": self.rows,
            "threshold": self.threshold,
            "drop_rule": "per method, strongest pair first: drop the feature with the higher mean |r| "
                         "against the others (tie: the one listed later)",
            **{method: _jsonable(self.matrices[method]) for method in METHODS},
            "candidates": self.candidates(),
            "note": self.note,
        }


def correlations(df: DataFrame, threshold: float, features: tuple[str, ...] = FEATURES) -> Correlations:
    """Pearson and Spearman matrices of `features` over all rows of `df`.

    One aggregation (row count, constant columns), then one Spark ML `Correlation` for both methods.
    """
    stats = df.agg(F.count(F.lit(1)).alias("rows"),
                   *[(F.min(f) == F.max(f)).alias(f) for f in features]).first()
    rows = stats["rows"]
    constant = tuple(f for f in features if stats[f])
    if rows < 2:  # Spark refuses (covariance of <= 1 row)
        undefined = np.full((len(features), len(features)), np.nan)
        return Correlations(features, rows, constant, {m: undefined for m in METHODS}, threshold)
    values = df.select(*[F.col(f).cast("double") for f in features])
    # Spearman's coefficient IS Pearson's on average ranks (Spark ML computes it so too). Spark ML's own
    # "spearman" ranks by sorting every (column, value) pair of the RDD; ranking the few distinct values
    # instead gives the same matrix (tests compare it with pandas) 5-10x faster (docs/benchmarks.md).
    # Values and ranks go into ONE vector, so one Pearson `Correlation` (two passes over the data) gives both
    # matrices as blocks of its result, instead of two (four passes); each entry only depends on its two
    # columns (5M rows, cold: 25.5 / 26.3 s -> 19.7 / 20.5 s, docs/benchmarks.md).
    columns = [*features, *[rank_column(f) for f in features]]
    vectors = VectorAssembler(inputCols=columns, outputCol="features_vector").transform(
        with_average_ranks(values, features)).select("features_vector")
    both = Correlation.corr(vectors, "features_vector", "pearson").head()[0].toArray()
    n = len(features)
    matrices = {"pearson": both[:n, :n].copy(), "spearman": both[n:, n:].copy()}
    for matrix in matrices.values():
        for f in constant:  # Spark puts 1.0 on the diagonal even there; like numpy/pandas, say undefined
            i = features.index(f)
            matrix[i, i] = np.nan
    return Correlations(features, rows, constant, matrices, threshold)


def rank_column(feature: str) -> str:
    return f"_rank_{feature}"


def with_average_ranks(df: DataFrame, features: tuple[str, ...]) -> DataFrame:
    """`df` plus, per feature, `rank_column(f)`: the rank of each (non-null) value among the column's
    values, 1-based; tied values share the mean of their positions. Per column: one aggregation to distinct
    values with counts, a running total over them, and a join back (a broadcast join when, as usual, the
    distinct values are few)."""
    ranked = df
    for f in features:
        counts = df.groupBy(f).agg(F.count(F.lit(1)).alias("_n"))
        upto = F.sum("_n").over(Window.orderBy(f).rowsBetween(Window.unboundedPreceding, Window.currentRow))
        # Values of the same rank occupy positions upto - n + 1 .. upto: their mean is (2 upto - n + 1) / 2.
        ranks = counts.select(f, ((upto * 2 - F.col("_n") + 1) / 2).alias(rank_column(f)))
        ranked = ranked.join(ranks, f)
    return ranked


def reduction_candidates(result: Correlations, method: str) -> list[dict]:
    matrix, features = result.matrices[method], result.features
    absolute = np.abs(matrix)
    n = len(features)
    pairs = sorted(
        ((absolute[i, j], i, j) for i in range(n) for j in range(i + 1, n)
         if not math.isnan(matrix[i, j]) and absolute[i, j] > result.threshold),
        key=lambda p: -p[0],
    )
    off_diagonal = np.nan_to_num(absolute)  # an undefined correlation counts as no redundancy
    np.fill_diagonal(off_diagonal, 0.0)
    mean_abs = off_diagonal.sum(axis=1) / max(n - 1, 1)
    dropped: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i in dropped or j in dropped:
            drop = i if i in dropped else j
        else:
            drop = i if mean_abs[i] > mean_abs[j] else j
            dropped.add(drop)
        keep = j if drop == i else i
        out.append({"method": method, "feature_a": features[i], "feature_b": features[j],
                    "r": float(matrix[i, j]), "drop": features[drop], "keep": features[keep]})
    return out


def _jsonable(matrix: np.ndarray) -> list[list[float | None]]:
    return [[None if math.isnan(v) else round(float(v), 6) for v in row] for row in matrix]


def write_csv(result: Correlations, path: Path) -> Path:
    """One row per (method, feature): the matrix rows, method by method; NaN as an empty field."""
    with local_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["method", "feature", *result.features])
        for method in METHODS:
            for feature, row in zip(result.features, _jsonable(result.matrices[method])):
                writer.writerow([method, feature, *["" if v is None else v for v in row]])
    return path


def write_heatmap(result: Correlations, path: Path) -> Path:
    """Pearson and Spearman heatmaps side by side (headless: a bare Figure on the Agg canvas, no pyplot)."""
    from matplotlib.figure import Figure

    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(result.features)
    fig = Figure(figsize=(5.2 * len(METHODS) + 1, 4.8), layout="constrained")
    axes = fig.subplots(1, len(METHODS))
    image = None
    for ax, method in zip(np.atleast_1d(axes), METHODS):
        matrix = result.matrices[method]
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f"{method.capitalize()} (n={result.rows:,})")
        ax.set_xticks(range(n), result.features, rotation=35, ha="right")
        ax.set_yticks(range(n), result.features)
        for i in range(n):
            for j in range(n):
                value = matrix[i, j]
                label = "n/a" if math.isnan(value) else f"{value:.2f}"
                ax.text(j, i, label, ha="center", va="center", fontsize=9,
                        color="white" if not math.isnan(value) and abs(value) > 0.6 else "black")
    fig.colorbar(image, ax=axes, shrink=0.8, label="r")
    fig.suptitle(f"Correlation of numeric features (|r| > {result.threshold} = reduction candidate)")
    with local_output(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path
