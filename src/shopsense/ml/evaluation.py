"""Metrics, baselines and the leakage guard. Every number is computed by Spark on rows given to it;
callers pass held-out rows (the test split), never the rows a model was fitted on."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pyspark.ml.evaluation import BinaryClassificationEvaluator, RegressionEvaluator
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from shopsense.errors import NotLearnable
from shopsense.ml.features import is_categorical


# --- binary classification (promo) --------------------------------------------------------------------
def positive_score(df: DataFrame, probability: str = "probability", output: str = "score") -> DataFrame:
    """P(label = 1) of a probabilistic classifier as a plain double column."""
    return df.withColumn(output, vector_to_array(F.col(probability))[1])


def require_both_classes(df: DataFrame, what: str, label: str = "label") -> None:
    """Raise NotLearnable unless `df` holds both labels: with one, no classifier can be fitted (Spark fails
    deep inside), and AUC, precision and recall are undefined, not 1.0."""
    counts = df.agg(F.count_if(F.col(label) == 1.0).alias("pos"),
                    F.count_if(F.col(label) != 1.0).alias("neg")).first()
    if not counts.pos or not counts.neg:
        rows = counts.pos + counts.neg
        value = "true" if counts.pos else "false"
        raise NotLearnable(f"{what} is {value} in all {rows:,} rows: a classifier needs both answers" if rows
                           else f"{what} has no rows")


def _auc(df: DataFrame, score: str, label: str, metric: str) -> float:
    evaluator = BinaryClassificationEvaluator(rawPredictionCol=score, labelCol=label, metricName=metric)
    return float(evaluator.evaluate(df))


def binary_metrics(df: DataFrame, score: str = "score", label: str = "label", threshold: float = 0.5) -> dict:
    """AUC-ROC, PR-AUC, and accuracy/precision/recall of the decision `score >= threshold`."""
    predicted = F.col(score) >= F.lit(threshold)
    actual = F.col(label) == F.lit(1.0)
    c = df.agg(
        F.count(F.lit(1)).alias("n"),
        F.count_if(predicted & actual).alias("tp"),
        F.count_if(predicted & ~actual).alias("fp"),
        F.count_if(~predicted & actual).alias("fn"),
        F.count_if(~predicted & ~actual).alias("tn"),
    ).first()
    return {
        "auc_roc": _auc(df, score, label, "areaUnderROC"),
        "pr_auc": _auc(df, score, label, "areaUnderPR"),
        "accuracy": (c.tp + c.tn) / c.n if c.n else 0.0,
        "precision": c.tp / (c.tp + c.fp) if c.tp + c.fp else 0.0,
        "recall": c.tp / (c.tp + c.fn) if c.tp + c.fn else 0.0,
        "threshold": threshold,
        "rows": c.n,
        "positive_rate": (c.tp + c.fn) / c.n if c.n else 0.0,
    }


def majority_baseline(train: DataFrame, test: DataFrame, label: str = "label") -> dict:
    """The constant classifier that always answers the training set's majority class (AUC 0.5)."""
    positive_rate = train.agg(F.avg(label)).first()[0] or 0.0
    constant = 1.0 if positive_rate > 0.5 else 0.0
    return binary_metrics(test.withColumn("score", F.lit(constant)), "score", label)


def auc_from_counts(groups: list[tuple[float, int, int]]) -> float:
    """Exact AUC-ROC of (score, positives, negatives) groups, ties counted half (Mann-Whitney U)."""
    positives = sum(g[1] for g in groups)
    negatives = sum(g[2] for g in groups)
    if not positives or not negatives:
        return 0.5
    below, u = 0, 0.0
    for _, pos, neg in sorted(groups):
        u += pos * below + 0.5 * pos * neg
        below += neg
    return u / (positives * negatives)


def single_feature_aucs(df: DataFrame, features: Sequence[str], label: str = "label") -> dict[str, float]:
    """How well each feature ALONE separates the label (0.5 = not at all, 1.0 = perfectly), direction-free.

    One Spark job: label counts per (feature, value) are aggregated and collected (a few hundred rows).
    Categorical and boolean values are scored by their label rate (target encoding), numbers by their
    value; the AUC is folded around 0.5 so that a perfectly inverted feature also counts as leaky.
    """
    long = df.select(F.col(label), F.explode(F.array(*[
        F.struct(F.lit(f).alias("feature"), F.col(f).cast("string").alias("value")) for f in features])).alias("fv"))
    counts = long.groupBy("fv.feature", "fv.value").agg(
        F.count_if(F.col(label) == 1.0).alias("pos"), F.count_if(F.col(label) != 1.0).alias("neg")).collect()
    types = dict(df.dtypes)
    out = {}
    for feature in features:
        rows = [r for r in counts if r.feature == feature]
        by_rate = is_categorical(feature) or types[feature] == "boolean"
        groups = [((r.pos / (r.pos + r.neg)) if by_rate else float(r.value), r.pos, r.neg) for r in rows]
        auc = auc_from_counts(groups)
        out[feature] = max(auc, 1.0 - auc)
    return out


def leakage_guard(train: DataFrame, candidates: Sequence[str], threshold: float,
                  label: str = "label") -> tuple[list[str], dict[str, float], dict[str, float]]:
    """(kept features, excluded {feature: auc}, every candidate's single-feature AUC), on TRAIN rows only.

    A feature that alone predicts the label almost perfectly is either a copy of it or only known after
    the outcome (in the public file `discount_applied` equals `promo_code_used` on every row); a model
    using it would look excellent and be useless.
    """
    aucs = {f: round(auc, 4) for f, auc in single_feature_aucs(train, candidates, label).items()}
    excluded = {f: auc for f, auc in aucs.items() if auc > threshold}
    return [f for f in candidates if f not in excluded], excluded, aucs


# --- multi-class top-k (season) -----------------------------------------------------------------------
def top_k_indices(df: DataFrame, k: int, probability: str = "probability", output: str = "top_k") -> DataFrame:
    """The k class indices with the highest probability, best first (Spark built-ins, no UDF)."""
    ranked = F.sort_array(F.transform(vector_to_array(F.col(probability)),
                                      lambda p, i: F.struct(p.alias("p"), i.alias("i"))), asc=False)
    return df.withColumn(output, F.slice(F.transform(ranked, lambda s: s["i"].cast("double")), 1, k))


def top_k_rates(df: DataFrame, label: str = "label", top: str = "top_k") -> dict:
    """top-1 accuracy and top-k hit rate: is the true class first / anywhere in the list."""
    r = df.agg(F.avg((F.col(top)[0] == F.col(label)).cast("double")).alias("top1"),
               F.avg(F.array_contains(F.col(top), F.col(label)).cast("double")).alias("topk"),
               F.count(F.lit(1)).alias("n")).first()
    return {"top1_accuracy": r.top1 or 0.0, "top3_hit_rate": r.topk or 0.0, "rows": r.n}


def popularity_top_k(train: DataFrame, item: str, k: int, by: Sequence[str] = ()) -> DataFrame:
    """The k most bought items of `train` (per group `by`), as array column `top_k`, best first."""
    counts = train.groupBy(*by, item).agg(F.count(F.lit(1)).alias("n"))
    ranked = counts.groupBy(*by).agg(
        F.sort_array(F.collect_list(F.struct((-F.col("n")).alias("neg_n"), F.col(item).alias("v")))).alias("s"))
    return ranked.select(*by, F.slice(F.transform("s", lambda s: s["v"]), 1, k).alias("top_k"))


def popularity_top_k_rates(train: DataFrame, test: DataFrame, item: str, k: int, by: Sequence[str] = ()) -> dict:
    """top-1 / top-k rates on `test` of the popularity list computed on `train`."""
    tops = popularity_top_k(train, item, k, by)
    joined = test.join(tops, on=list(by), how="left") if by else test.crossJoin(tops)
    joined = joined.withColumn("top_k", F.coalesce("top_k", F.array().cast("array<string>")))
    return top_k_rates(joined, label=item)


# --- recommender --------------------------------------------------------------------------------------
def per_user_ranking(k: int, prediction: str = "recommended", label: str = "relevant") -> list[Column]:
    """Each user's `ndcg` and `precision` at k: the columns `ranking_metrics` averages."""
    return [ndcg_at_k(prediction, label, k).alias("ndcg"), precision_at_k(prediction, label, k).alias("precision")]


def ranking_metrics(per_user: pd.DataFrame, k: int) -> dict:
    """precision@k and NDCG@k over users, from one row per user with the `per_user_ranking` columns: their
    means are what Spark's RankingEvaluator computes, without its passes over the data."""
    return {"precision_at_k": float(per_user["precision"].mean()), "ndcg_at_k": float(per_user["ndcg"].mean()),
            "k": k, "users": len(per_user)}


def precision_at_k(prediction: str, label: str, k: int) -> Column:
    """One user's precision@k, as Spark's RankingEvaluator computes it (their mean is its `precisionAtK`):
    the relevant items among the first k predictions, over k (also when fewer were predicted)."""
    predicted = F.slice(F.col(prediction).cast("array<double>"), 1, k)
    relevant = F.col(label).cast("array<double>")
    return F.size(F.filter(predicted, lambda x: F.array_contains(relevant, x))) / F.lit(float(k))


def ndcg_at_k(prediction: str, label: str, k: int) -> Column:
    """One user's NDCG@k with binary relevance, as Spark's RankingEvaluator computes it (their mean is its
    `ndcgAtK`): the discounted hits of the first k predictions over those of an ideal ranking."""
    predicted = F.slice(F.col(prediction).cast("array<double>"), 1, k)
    relevant = F.array_distinct(F.col(label).cast("array<double>"))
    gains = F.transform(predicted, lambda x, i: F.when(F.array_contains(relevant, x), 1.0 / F.log(i + 2)).otherwise(0.0))
    ideal = F.transform(F.slice(relevant, 1, k), lambda x, i: 1.0 / F.log(i + 2))
    dcg, best = (F.aggregate(a, F.lit(0.0), lambda acc, x: acc + x) for a in (gains, ideal))
    return F.when(best > 0, dcg / best).otherwise(0.0)


def rmse(df: DataFrame, prediction: str = "prediction", label: str = "rating") -> float:
    return float(RegressionEvaluator(predictionCol=prediction, labelCol=label, metricName="rmse").evaluate(df))


def bias_baseline_predictions(train: DataFrame, test: DataFrame, user: str, item: str, rating: str,
                              damping: float = 5.0) -> DataFrame:
    """`test` with `baseline` = global mean + damped item bias + damped user bias, all fitted on train."""
    mu = train.agg(F.avg(rating)).first()[0]
    item_bias = train.groupBy(item).agg(
        (F.sum(F.col(rating) - mu) / (F.count(F.lit(1)) + damping)).alias("b_i"))
    user_bias = train.join(item_bias, item).groupBy(user).agg(
        (F.sum(F.col(rating) - mu - F.col("b_i")) / (F.count(F.lit(1)) + damping)).alias("b_u"))
    return (test.join(item_bias, item, "left").join(user_bias, user, "left")
            .withColumn("baseline", F.lit(mu) + F.coalesce("b_i", F.lit(0.0)) + F.coalesce("b_u", F.lit(0.0)))
            .withColumn("global_mean", F.lit(mu)))
