"""Fast unit tests of the ML building blocks on small explicit DataFrames."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from shopsense.ml.evaluation import (
    auc_from_counts, binary_metrics, leakage_guard, per_user_ranking, popularity_top_k, ranking_metrics, top_k_indices,
)
from shopsense.ml.features import customer_split, with_binary_label
from shopsense.ml.recommender import leave_one_out, top_unbought


def test_customer_split_is_grouped_and_deterministic(processed_df):
    df = processed_df(800, seed=3)
    train, test = customer_split(df, 0.25, seed=1)
    train_ids = {r.customer_id for r in train.select("customer_id").distinct().collect()}
    test_ids = {r.customer_id for r in test.select("customer_id").distinct().collect()}
    assert train_ids and test_ids and not train_ids & test_ids
    assert train.count() + test.count() == df.count()  # no row lost
    again = {r.customer_id for r in customer_split(df, 0.25, seed=1)[1].select("customer_id").distinct().collect()}
    assert again == test_ids


def test_leakage_guard_excludes_a_copy_of_the_label_and_keeps_honest_features(processed_df):
    df = with_binary_label(processed_df(1500, seed=4), "promo_code_used")
    df = df.withColumn("promo_copy", F.col("promo_code_used")).withColumn("promo_inverse", ~F.col("promo_code_used"))
    candidates = ["promo_copy", "promo_inverse", "subscription_status", "age", "payment_method", "discount_applied"]
    kept, excluded, aucs = leakage_guard(df, candidates, 0.95)
    assert set(excluded) == {"promo_copy", "promo_inverse"}
    assert excluded["promo_copy"] == pytest.approx(1.0)
    assert kept == ["subscription_status", "age", "payment_method", "discount_applied"]
    assert 0.6 < aucs["discount_applied"] < 0.9  # correlated by construction, but not a copy


def test_binary_metrics_from_a_hand_made_confusion_matrix(spark):
    df = spark.createDataFrame([(1.0, 0.9), (1.0, 0.4), (0.0, 0.6), (0.0, 0.1), (0.0, 0.2)], ["label", "score"])
    m = binary_metrics(df, threshold=0.5)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(1 / 2)
    assert m["recall"] == pytest.approx(1 / 2)
    assert m["auc_roc"] == pytest.approx(5 / 6)
    # the leakage guard's own AUC (from grouped counts, ties counted half) agrees with Spark's evaluator
    assert auc_from_counts([(0.9, 1, 0), (0.4, 1, 0), (0.6, 0, 1), (0.1, 0, 1), (0.2, 0, 1)]) == pytest.approx(5 / 6)
    assert auc_from_counts([(1.0, 3, 3)]) == pytest.approx(0.5)


def test_top_k_indices_and_popularity_lists(spark):
    from pyspark.ml.linalg import Vectors

    df = spark.createDataFrame([(Vectors.dense([0.1, 0.5, 0.15, 0.25]),)], ["probability"])
    assert top_k_indices(df, 3).first().top_k == [1.0, 3.0, 2.0]
    purchases = spark.createDataFrame([("W", "Coat"), ("W", "Coat"), ("W", "Hat"), ("S", "Hat")], ["season", "item"])
    tops = {r.season: r.top_k for r in popularity_top_k(purchases, "item", 1, by=["season"]).collect()}
    assert tops == {"W": ["Coat"], "S": ["Hat"]}


def test_leave_one_out_holds_out_one_item_of_customers_with_several(spark):
    pairs = spark.createDataFrame([(1, "A"), (1, "B"), (1, "C"), (2, "A")], ["customer_id", "item_purchased"])
    train, held = leave_one_out(pairs, seed=5)
    assert held.count() == 1 and held.first().customer_id == 1
    assert train.count() == 3 and train.join(held, ["customer_id", "item_purchased"]).count() == 0


def test_top_unbought_never_returns_a_bought_item(spark):
    scores = spark.createDataFrame([(1, 0, 0.9), (1, 1, 0.8), (1, 2, 0.1), (2, 0, 0.5)],
                                   ["customer_id", "item_index", "score"])
    history = spark.createDataFrame([(1, 0), (2, 0)], ["customer_id", "item_index"])
    ranked = {r.customer_id: [x.item_index for x in r.ranked] for r in top_unbought(scores, history, 5).collect()}
    assert ranked == {1: [1, 2]}


def test_ranking_metrics_of_a_perfect_and_a_useless_ranking(spark):
    df = spark.createDataFrame([([1, 2], [1]), ([3, 4], [5])], ["recommended", "relevant"])
    per_user = df.select(*per_user_ranking(2)).toPandas()
    assert per_user.to_dict("list") == {"ndcg": [1.0, 0.0], "precision": [0.5, 0.0]}
    assert ranking_metrics(per_user, k=2) == {"precision_at_k": 0.25, "ndcg_at_k": 0.5, "k": 2, "users": 2}


def test_customer_table_finds_every_customer_and_only_them():
    import pyarrow as pa

    from shopsense.ml.inference import CustomerTable

    ids = [10**12, 7, 42, 3, 2**31 - 1]  # unsorted, one beyond 32 bits
    table = CustomerTable(pa.table({"customer_id": pa.array(ids, pa.int64()),
                                    "items": [["Hat"], [], ["Socks", "Belt"], ["Coat"], ["Jeans"]]}))
    assert len(table) == 5
    assert table.get(42) == {"customer_id": 42, "items": ["Socks", "Belt"]}
    assert table.get(7) == {"customer_id": 7, "items": []}  # a row with an empty list is still a row
    assert table.get(10**12)["items"] == ["Hat"] and table.get(2**31 - 1)["items"] == ["Jeans"]
    for unknown in (0, 4, 8, 43, 10**13, -1):  # before, between and after the known ids
        assert table.get(unknown) is None
    empty = CustomerTable()
    assert len(empty) == 0 and empty.get(1) is None
