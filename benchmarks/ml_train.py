"""Train all ML models on the default generated data and print the model-vs-baseline table.

    PYTHONPATH=src python benchmarks/ml_train.py [--rows 50000] [--home benchmarks/data/ml]

The processed Parquet is written straight from the generator (`to_processed_frame`: the clean rows that
ingestion produces from a CSV without bad rows), so that only the training is timed.
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

    from shopsense.ml.serving import label
    from shopsense.ml.training import train_models

    start = time.perf_counter()
    cards = {name: result.card for name, result in train_models(config, spark=spark).items()}
    total = time.perf_counter() - start
    metrics = {name: card.metrics for name, card in cards.items()}
    majority, season_top3 = "baseline_majority_class", "baseline_season_top3"
    # (model, metric label, metric key, the model's entry, baseline label, the baseline's entry)
    table = [
        *[("promo", label, key, "model", "majority class", majority) for label, key in (
            ("AUC-ROC", "auc_roc"), ("PR-AUC", "pr_auc"), ("accuracy", "accuracy"), ("precision", "precision"),
            ("recall", "recall"))],
        ("season", "top-3 hit rate", "top3_hit_rate", "model", "season top-3", season_top3),
        ("season", "top-3 hit rate", "top3_hit_rate", "model", "overall top-3", "baseline_overall_top3"),
        ("season", "top-1 accuracy", "top1_accuracy", "model", "season top-3", season_top3),
        ("recommender", "NDCG@k", "ndcg_at_k", "model", "popularity", "baseline_popularity"),
        ("recommender", "precision@k", "precision_at_k", "model", "popularity", "baseline_popularity"),
        ("recommender", "RMSE (explicit)", "rmse", "variant_explicit", "global mean", "baseline_global_mean"),
        ("recommender", "RMSE (explicit)", "rmse", "variant_explicit", "user+item bias", "baseline_user_item_bias"),
    ]
    rows = [(model, label, metrics[model][entry][key], baseline, metrics[model][base_entry][key])
            for model, label, key, entry, baseline, base_entry in table]
    print(f"rows {args.rows}, seed {args.seed}, spark {spark.version}, master {config.spark.master}")
    print("| model | metric (held-out) | model | baseline | baseline value |")
    print("|---|---|---|---|---|")
    for model, metric, value, baseline, base_value in rows:
        print(f"| {model} | {metric} | {value:.3f} | {baseline} | {base_value:.3f} |")
    for name, card in cards.items():
        params = {k: v for k, v in card.params.items() if k != "search"}  # the promo grid is long
        print(f"{name}: training {card.training_seconds:.0f} s, params {params}")
        print(f"{name}: serving {label(card.serving)}")
    print(f"recommender variant: {cards['recommender'].params['variant']} "
          f"(validation NDCG {cards['recommender'].params['variant_choice']})")
    print(f"excluded promo features: {cards['promo'].excluded_features or 'none'}; "
          f"single-feature AUCs {cards['promo'].details['single_feature_auc']}")
    print(f"promo Brier {cards['promo'].details['calibration']['brier']}, top-decile lift "
          f"{cards['promo'].details['calibration']['deciles'][0]['lift']}")
    print(f"total training wall time {total:.0f} s")


if __name__ == "__main__":
    main()
