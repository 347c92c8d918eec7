"""Product recommender: ALS collaborative filtering over (customer, item) purchases.

Two feedback variants are trained and compared on held-out purchases: explicit (mean review rating of the
pair) and implicit (purchase count, implicitPrefs=True). The better one by NDCG@k on a validation split
(carved from training data, so the test split stays untouched) becomes the default. Recommendations never
contain an item the customer already bought (anti-join against the full purchase history).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import StringIndexer
from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from shopsense import io
from shopsense.config import MLSettings
from shopsense.errors import NotLearnable, ShopSenseError
from shopsense.ml.evaluation import bias_baseline_predictions, per_user_ranking, ranking_metrics, rmse
from shopsense.ml.model_card import Stopwatch, TrainedModel, build_card
from shopsense.ml.serving import decide, ratio_lift_interval

NAME = "recommender"
USER, ITEM, ITEM_INDEX = "customer_id", "item_purchased", "item_index"
# variant -> rating column of the pairs. Explicit ALS learns the rating minus the training mean: ALS has no
# bias term, and on raw 2.5-5 ratings with a few ratings per customer it shrinks towards 0 (RMSE > 1).
VARIANTS = {"explicit": "rating_centered", "implicit": "purchases"}
# Precomputed ranked unbought items of every known customer: a snapshot output (shopsense.io), the
# catalog's `recommendations` table.
RECOMMENDATIONS_DIR = "recommendations"
POPULARITY_FILE = "popularity.json"
MAX_USER_ID = 2**31 - 1  # ALS stores ids as Java ints


def interactions(df: DataFrame) -> DataFrame:
    """One row per (customer, item): purchase count and mean review rating."""
    return df.groupBy(USER, ITEM).agg(F.count(F.lit(1)).cast("double").alias("purchases"),
                                      F.avg("review_rating").alias("rating"))


def centered(pairs: DataFrame, mean: float) -> DataFrame:
    return pairs.withColumn("rating_centered", F.col("rating") - F.lit(mean))


def mean_rating(pairs: DataFrame) -> float:
    return float(pairs.agg(F.avg("rating")).first()[0])


def leave_one_out(pairs: DataFrame, seed: int) -> tuple[DataFrame, DataFrame]:
    """(train, held out): one pseudo-random item per customer with >= 2 distinct items is held out
    (all purchases of it), the rest stays in train. Customers with one item stay entirely in train."""
    w = Window.partitionBy(USER)
    marked = (pairs.withColumn("__h", F.xxhash64(USER, ITEM, F.lit(seed)))
              .withColumn("__held", (F.col("__h") == F.max("__h").over(w)) & (F.count(F.lit(1)).over(w) >= 2)))
    return (marked.where(~F.col("__held")).drop("__h", "__held"),
            marked.where(F.col("__held")).drop("__h", "__held"))


def als_pipeline(variant: str, settings: MLSettings) -> Pipeline:
    indexer = StringIndexer(inputCol=ITEM, outputCol=ITEM_INDEX, handleInvalid="keep", stringOrderType="alphabetAsc")
    als = ALS(userCol=USER, itemCol=ITEM_INDEX, ratingCol=VARIANTS[variant], implicitPrefs=variant == "implicit",
              rank=settings.als_rank, maxIter=settings.als_max_iter, regParam=settings.als_reg_param,
              alpha=settings.als_alpha, nonnegative=variant == "implicit", coldStartStrategy="drop", seed=settings.seed,
              numUserBlocks=settings.als_blocks, numItemBlocks=settings.als_blocks)
    return Pipeline(stages=[indexer, als])


def top_unbought(scores: DataFrame, history: DataFrame, k: int | None) -> DataFrame:
    """Per customer: the best `k` (all if None) scored items not in `history`, as an ordered array.

    scores: (customer_id, item_index, score); history: (customer_id, item_index) of purchases.
    """
    fresh = scores.join(history.select(USER, ITEM_INDEX), [USER, ITEM_INDEX], "left_anti")
    rank = F.row_number().over(Window.partitionBy(USER).orderBy(F.desc("score"), ITEM_INDEX))
    ranked = fresh.withColumn("rank", rank)
    if k is not None:
        ranked = ranked.where(F.col("rank") <= k)
    return ranked.groupBy(USER).agg(
        F.transform(F.sort_array(F.collect_list(F.struct("rank", ITEM_INDEX, "score"))),
                    lambda s: F.struct(s[ITEM_INDEX].alias(ITEM_INDEX), s["score"].alias("score")))
        .alias("ranked"))


def als_scores(model: PipelineModel, users: DataFrame, items: int) -> DataFrame:
    """Every item's ALS score for each user in `users` (users unknown to the model get no rows)."""
    recs = model.stages[-1].recommendForUserSubset(users, items)
    return (recs.select(USER, F.explode("recommendations").alias("r"))
            .select(USER, F.col(f"r.{ITEM_INDEX}").alias(ITEM_INDEX), F.col("r.rating").alias("score")))


def popularity_scores(train: DataFrame, users: DataFrame) -> DataFrame:
    """The popularity baseline: every item scored by its number of distinct buyers in train."""
    popular = train.groupBy(ITEM_INDEX).agg(F.countDistinct(USER).cast("double").alias("score"))
    return users.select(USER).distinct().crossJoin(popular)


def _ranking(scores: DataFrame, train: DataFrame, held: DataFrame, k: int) -> tuple[dict, pd.DataFrame]:
    """(ranking metrics over the users of `held`, each user's NDCG@k: one row per held-out customer)."""
    recommended = top_unbought(scores, train, k).select(
        USER, F.transform("ranked", lambda s: s[ITEM_INDEX]).alias("recommended"))
    relevant = held.groupBy(USER).agg(F.collect_list(ITEM_INDEX).alias("relevant"))
    joined = relevant.join(recommended, USER, "left").withColumn(
        "recommended", F.coalesce("recommended", F.array().cast("array<int>")))
    per_user = joined.select(USER, *per_user_ranking(k)).toPandas()
    return ranking_metrics(per_user, k), per_user.set_index(USER)["ndcg"]


def evaluate_split(train: DataFrame, held: DataFrame, settings: MLSettings,
                   baselines: bool = True) -> tuple[dict, dict[str, pd.Series]]:
    """Fit both variants on `train`, score them and (`baselines`) the RMSEs and baselines on `held`
    (held-out purchases). Choosing the variant needs only the variants' ranking metrics.
    Returns (metrics, {variant or baseline: NDCG@k per held-out customer})."""
    k = settings.ranking_k
    mu = mean_rating(train)
    train = centered(train, mu)
    out: dict = {}
    per_user: dict[str, pd.Series] = {}
    for variant in VARIANTS:
        model = als_pipeline(variant, settings).fit(train)
        indexed_train, indexed_held = model.stages[0].transform(train), model.stages[0].transform(held)
        items = len(model.stages[0].labels)
        users = indexed_held.select(USER).distinct()
        out[variant], per_user[variant] = _ranking(als_scores(model, users, items), indexed_train, indexed_held, k)
        if variant == "explicit" and baselines:
            # coldStartStrategy="drop": pairs ALS cannot score are left out (and so from the baselines too).
            predicted = model.transform(held).withColumn("prediction", F.col("prediction") + F.lit(mu))
            # Cached: three RMSEs and the count read it (the bias joins add columns, never rows).
            with_baselines = bias_baseline_predictions(train, predicted, USER, ITEM, "rating").cache()
            out[variant]["rmse"] = rmse(with_baselines)
            out[variant]["rmse_rows"] = with_baselines.count()
            out["baseline_global_mean"] = {"rmse": rmse(with_baselines, prediction="global_mean")}
            out["baseline_user_item_bias"] = {"rmse": rmse(with_baselines, prediction="baseline")}
            with_baselines.unpersist()
            out["baseline_popularity"], per_user["baseline_popularity"] = _ranking(
                popularity_scores(indexed_train, users), indexed_train, indexed_held, k)
    return out, per_user


def train_recommender(df: DataFrame, settings: MLSettings) -> TrainedModel:
    """The model fitted on ALL purchases, its card, and its outputs: precomputed recommendations and the
    popularity list (the baseline's answer)."""
    watch = Stopwatch()
    max_id = df.agg(F.max(USER)).first()[0]
    if max_id is not None and max_id > MAX_USER_ID:
        raise ShopSenseError(f"customer ids up to {max_id:,} exceed ALS's integer ids (max {MAX_USER_ID:,})")
    pairs = interactions(df).cache()
    train, test = leave_one_out(pairs, settings.seed)
    train, test = train.cache(), test.cache()
    fit_train, validation = (d.cache() for d in leave_one_out(train, settings.seed + 1))
    try:
        _require_held_out(pairs, (("test", test, 2), ("validation", validation, 3)))
        chosen_on, _ = evaluate_split(fit_train, validation, settings, baselines=False)
        variant = max(VARIANTS, key=lambda v: chosen_on[v]["ndcg_at_k"])
        test_metrics, per_user = evaluate_split(train, test, settings)
        ndcg = pd.DataFrame({"model": per_user[variant], "baseline": per_user["baseline_popularity"]})
        interval = ratio_lift_interval(ndcg["model"].to_numpy(), ndcg["baseline"].to_numpy(), np.ones(len(ndcg)),
                                       settings.bootstrap_resamples, settings.seed)
        serving = decide("recommender", f"NDCG@{settings.ranking_k}", test_metrics[variant]["ndcg_at_k"],
                         "popularity", test_metrics["baseline_popularity"]["ndcg_at_k"], interval, len(ndcg),
                         settings)

        # The saved model learns from every purchase: ALS can only recommend to customers it has seen.
        rating_mean = mean_rating(pairs)
        model = als_pipeline(variant, settings).fit(centered(pairs, rating_mean))
        recommendations, popularity = precompute(model, pairs)
        card = build_card(
            NAME, spark=df.sparkSession, data=df, settings=settings, seconds=watch.seconds(),
            task="top-k product recommendation (ALS collaborative filtering)",
            split={"method": "leave-one-out per customer: one item (all its purchases) of each customer with >= 2 "
                             "distinct items is held out; the variant is chosen on a second leave-one-out inside "
                             "train; the saved model is refitted on all purchases",
                   "pairs": pairs.count(), "train_pairs": train.count(), "test_pairs": test.count(),
                   "customers": pairs.select(USER).distinct().count()},
            features=[USER, ITEM],
            excluded_features={},
            params={"variant": variant, "rating_mean": rating_mean, "variant_choice": {v: chosen_on[v]["ndcg_at_k"] for v in VARIANTS},
                    "variant_choice_metric": f"NDCG@{settings.ranking_k} on validation (inside train)",
                    "rank": settings.als_rank, "maxIter": settings.als_max_iter, "regParam": settings.als_reg_param,
                    "alpha": settings.als_alpha, "coldStartStrategy": "drop", "k": settings.ranking_k},
            metrics={"model": test_metrics[variant], **{f"variant_{v}": test_metrics[v] for v in VARIANTS},
                     **{name: m for name, m in test_metrics.items() if name.startswith("baseline_")}},
            serving=serving,
            baseline_answer={"popularity_file": POPULARITY_FILE,
                             "meaning": "the share of customers who bought the item"},
        )
    finally:
        for cached in (pairs, train, test, fit_train, validation):
            cached.unpersist()

    def write_outputs(model_dir: str) -> list[io.Snapshot]:
        spark = recommendations.sparkSession
        io.write_json_atomic(spark, f"{model_dir}/{POPULARITY_FILE}", popularity)
        return [io.stage_parquet(recommendations, f"{model_dir}/{RECOMMENDATIONS_DIR}")]

    return TrainedModel(model, card, write_outputs)


def _require_held_out(pairs: DataFrame, splits) -> None:
    """Raise NotLearnable when a held-out split is empty: with one item per customer (the public file has one
    purchase per customer) nothing can be held out, and Spark's evaluators fail on no rows."""
    for split, held, needed in splits:
        if held.isEmpty():
            counts = pairs.agg(F.countDistinct(USER).alias("customers"), F.count(F.lit(1)).alias("pairs")).first()
            raise NotLearnable(
                f"no customer bought {needed} or more different items ({counts.customers:,} customers, "
                f"{counts.pairs:,} customer-item pairs): no purchase can be held out for the {split} split, "
                f"and collaborative filtering learns from customers who bought several")


def precompute(model: PipelineModel, pairs: DataFrame) -> tuple[DataFrame, list[dict]]:
    """Ranked unbought items with scores for every known customer, and the overall popularity list."""
    indexer = model.stages[0]
    labels = F.array(*[F.lit(name) for name in indexer.labels])
    history = indexer.transform(pairs)
    scores = als_scores(model, history.select(USER).distinct(), len(indexer.labels))
    recs = top_unbought(scores, history, None).select(
        USER, F.transform("ranked", lambda s: F.struct(F.element_at(labels, s[ITEM_INDEX] + 1).alias("item"),
                                                       s["score"].alias("score"))).alias("items"))
    bought = pairs.groupBy(USER).agg(F.sort_array(F.collect_set(ITEM)).alias("bought"))
    # A customer who bought every item has nothing left to recommend: an empty list, not a lost row.
    no_items = F.array().cast("array<struct<item:string,score:float>>")
    return bought.join(recs, USER, "left").withColumn("items", F.coalesce("items", no_items)), popularity_list(pairs)


def popularity_list(purchases: DataFrame) -> list[dict]:
    """Every item bought, by its number of distinct buyers (most first, then by name): the cold-start
    fallback, from any frame with a customer and an item column (interactions or the processed log)."""
    rows = purchases.groupBy(ITEM).agg(F.countDistinct(USER).alias("buyers")).orderBy(F.desc("buyers"), ITEM)
    return [{"item": r[ITEM], "buyers": r.buyers} for r in rows.collect()]
