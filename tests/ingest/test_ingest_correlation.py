"""Correlations equal an independent pandas computation; degenerate inputs do not crash; reduction rule."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from shopsense.ingest.correlation import (
    FEATURES, Correlations, correlations, reduction_candidates, write_csv, write_heatmap,
)


def test_pearson_and_spearman_equal_pandas(spark, processed_frame):
    frame = processed_frame(500, seed=3)  # integer ages/amounts/previous purchases: many ties for Spearman
    result = correlations(spark.createDataFrame(frame[list(FEATURES)]), threshold=0.85)
    assert result.rows == 500 and result.constant == ()
    for method in ("pearson", "spearman"):
        expected = frame[list(FEATURES)].astype(float).corr(method=method).to_numpy()
        np.testing.assert_allclose(result.matrices[method], expected, atol=1e-9)


def test_spearman_equals_spark_mls_own_spearman(spark, processed_frame):
    """Ranks computed on distinct values give what Spark ML's "spearman" (a sort of every value) gives."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.stat import Correlation

    df = spark.createDataFrame(processed_frame(400, seed=5)[list(FEATURES)])
    vectors = VectorAssembler(inputCols=list(FEATURES), outputCol="v").transform(df).select("v")
    expected = Correlation.corr(vectors, "v", "spearman").head()[0].toArray()
    np.testing.assert_allclose(correlations(df, threshold=0.85).matrices["spearman"], expected, atol=1e-9)


def test_average_ranks_share_the_mean_position_of_ties(spark):
    from shopsense.ingest.correlation import rank_column, with_average_ranks

    df = spark.createDataFrame([(10.0, 1.0), (20.0, 1.0), (20.0, 2.0), (30.0, 1.0)], "a double, b double")
    ranked = with_average_ranks(df, ("a", "b")).select("a", "b", rank_column("a"), rank_column("b"))
    rows = ranked.toPandas().sort_values(["a", "b"]).to_numpy().tolist()
    assert rows == [[10.0, 1.0, 1.0, 2.0], [20.0, 1.0, 2.5, 2.0], [20.0, 2.0, 2.5, 4.0], [30.0, 1.0, 4.0, 2.0]]


def test_fewer_than_two_rows_is_undefined_not_a_crash(spark, processed_frame):
    for rows in (0, 1):
        frame = processed_frame(5, seed=1)[list(FEATURES)].head(rows)
        df = spark.createDataFrame(frame, "age int, purchase_amount_usd double, previous_purchases int, "
                                          "review_rating double")
        result = correlations(df, threshold=0.85)
        assert result.rows == rows
        assert np.isnan(result.matrices["pearson"]).all() and "fewer than 2" in result.note
        assert result.candidates() == []


def test_constant_column_gives_nan_like_pandas(spark, processed_frame):
    frame = processed_frame(50, seed=2)[list(FEATURES)].astype(float)
    frame["review_rating"] = 4.0
    result = correlations(spark.createDataFrame(frame), threshold=0.85)
    assert result.constant == ("review_rating",)
    for method in ("pearson", "spearman"):
        expected = frame.corr(method=method).to_numpy()
        np.testing.assert_allclose(result.matrices[method], expected, atol=1e-9)  # NaN positions equal too
    assert "review_rating" in result.note


def _result(matrix, threshold=0.85):
    features = ("a", "b", "c", "d")
    m = np.array(matrix, dtype=float)
    return Correlations(features, 100, (), {"pearson": m, "spearman": m}, threshold)


def test_reduction_drops_the_more_redundant_feature():
    # a~b strongly correlated; b is also correlated with c, so b carries less of its own and is dropped.
    result = _result([[1, 0.9, 0.1, 0.0], [0.9, 1, 0.6, 0.0], [0.1, 0.6, 1, 0.0], [0.0, 0.0, 0.0, 1]])
    (candidate,) = reduction_candidates(result, "pearson")
    pair = (candidate["feature_a"], candidate["feature_b"], candidate["drop"], candidate["keep"])
    assert pair == ("a", "b", "b", "a")


def test_reduction_uses_absolute_value_and_each_feature_is_dropped_once():
    # a~b -0.95, b~c 0.9, a~c 0.88 (mean |r|: a 0.610, b 0.617, c 0.593): a~b drops b; b~c is already
    # resolved by b; a~c drops a.
    result = _result([[1, -0.95, 0.88, 0], [-0.95, 1, 0.9, 0], [0.88, 0.9, 1, 0], [0, 0, 0, 1]])
    candidates = reduction_candidates(result, "pearson")
    assert [(c["feature_a"], c["feature_b"], c["drop"]) for c in candidates] == [
        ("a", "b", "b"), ("b", "c", "b"), ("a", "c", "a")]
    assert candidates[0]["r"] == -0.95


def test_threshold_must_be_exceeded():
    m = np.full((4, 4), 0.85)
    np.fill_diagonal(m, 1.0)
    assert reduction_candidates(_result(m, threshold=0.85), "pearson") == []
    assert len(reduction_candidates(_result(m, threshold=0.84), "pearson")) == 6


def test_reports_are_written(tmp_path):
    m = np.array([[1, 0.9, np.nan, 0], [0.9, 1, np.nan, 0], [np.nan, np.nan, np.nan, np.nan], [0, 0, np.nan, 1]])
    result = Correlations(FEATURES, 10, ("previous_purchases",), {"pearson": m, "spearman": m}, 0.85)
    csv = pd.read_csv(write_csv(result, tmp_path / "c.csv"))
    assert list(csv.columns) == ["method", "feature", *FEATURES] and len(csv) == 8
    assert math.isnan(csv.loc[0, "previous_purchases"])
    as_json = json.loads(json.dumps(result.to_dict(), allow_nan=False))  # strict JSON: NaN became null
    assert as_json["pearson"][2][2] is None
    assert [c["drop"] for c in as_json["candidates"]] == ["purchase_amount_usd", "purchase_amount_usd"]
    png = write_heatmap(result, tmp_path / "c.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
