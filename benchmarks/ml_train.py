"""Train all ML models on the default generated data and print the model-vs-baseline table.

    PYTHONPATH=src python benchmarks/ml_train.py [--rows 50000] [--home benchmarks/data/ml]

Until `shopsense ingest` is on the same branch, the processed Parquet is written straight from the generator
(`to_processed_frame`, the same clean rows ingestion produces from a CSV without dirty rows).
"""
from __future__ import annotations

import argparse
import time

from shopsense.config import load_config
from shopsense.generate import generate_frame, to_processed_frame
from shopsense.schema import PROCESSED_SCHEMA
from shopsense.spark import get_spark


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", default="benchmarks/data/ml")
    args = parser.parse_args()

    config = load_config(home=args.home)
    spark = get_spark(config.spark)
    frame = to_processed_frame(generate_frame(args.rows, args.seed))
    spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.mode("overwrite").parquet(str(config.processed_dir))

    from shopsense.ml.training import train_models

    start = time.perf_counter()
    cards = {name: card for name, (_, card) in train_models(config, spark=spark).items()}
    total = time.perf_counter() - start
    p, s, r = (cards[n]["metrics"] for n in ("promo", "season", "recommender"))
    rows = [
        ("promo", "AUC-ROC", p["model"]["auc_roc"], "majority class", p["baseline_majority_class"]["auc_roc"]),
        ("promo", "PR-AUC", p["model"]["pr_auc"], "majority class", p["baseline_majority_class"]["pr_auc"]),
        ("promo", "accuracy", p["model"]["accuracy"], "majority class", p["baseline_majority_class"]["accuracy"]),
        ("promo", "precision", p["model"]["precision"], "majority class", p["baseline_majority_class"]["precision"]),
        ("promo", "recall", p["model"]["recall"], "majority class", p["baseline_majority_class"]["recall"]),
        ("season", "top-3 hit rate", s["model"]["top3_hit_rate"], "season top-3", s["baseline_season_top3"]["top3_hit_rate"]),
        ("season", "top-3 hit rate", s["model"]["top3_hit_rate"], "overall top-3", s["baseline_overall_top3"]["top3_hit_rate"]),
        ("season", "top-1 accuracy", s["model"]["top1_accuracy"], "season top-3", s["baseline_season_top3"]["top1_accuracy"]),
        ("recommender", "NDCG@k", r["model"]["ndcg_at_k"], "popularity", r["baseline_popularity"]["ndcg_at_k"]),
        ("recommender", "precision@k", r["model"]["precision_at_k"], "popularity", r["baseline_popularity"]["precision_at_k"]),
        ("recommender", "RMSE (explicit)", r["variant_explicit"]["rmse"], "global mean", r["baseline_global_mean"]["rmse"]),
        ("recommender", "RMSE (explicit)", r["variant_explicit"]["rmse"], "user+item bias", r["baseline_user_item_bias"]["rmse"]),
    ]
    print(f"rows {args.rows}, seed {args.seed}, spark {spark.version}, master {config.spark.master}")
    print("| model | metric (held-out) | model | baseline | baseline value |")
    print("|---|---|---|---|---|")
    for model, metric, value, baseline, base_value in rows:
        print(f"| {model} | {metric} | {value:.3f} | {baseline} | {base_value:.3f} |")
    for name, card in cards.items():
        print(f"{name}: training {card['training_seconds']:.0f} s, params {card['params'] if name != 'promo' else {k: v for k, v in card['params'].items() if k != 'search'}}")
    print(f"recommender variant: {cards['recommender']['params']['variant']} "
          f"(validation NDCG {cards['recommender']['params']['variant_choice']})")
    print(f"excluded promo features: {cards['promo']['excluded_features'] or 'none'}; "
          f"single-feature AUCs {cards['promo']['single_feature_auc']}")
    print(f"total training wall time {total:.0f} s")


if __name__ == "__main__":
    main()
