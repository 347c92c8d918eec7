"""`shopsense train`: read the processed data once, fit the requested models, save model + card."""
from __future__ import annotations

import shutil

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from shopsense.config import Config
from shopsense.errors import NotLearnable
from shopsense.io import read_processed, write_json
from shopsense.ml import promo, recommender, season
from shopsense.ml.model_card import save_model, write_card

MODELS: tuple[str, ...] = (promo.NAME, season.NAME, recommender.NAME)


def train_one(name: str, df: DataFrame, config: Config) -> tuple[PipelineModel, dict]:
    """Fit one model on `df`, save it under models/<name>/ and return (fitted model, card)."""
    model_dir = config.model_dir(name)
    if name == promo.NAME:
        model, card = promo.train_promo(df, config.ml)
    elif name == season.NAME:
        model, card = season.train_season(df, config.ml)
    elif name == recommender.NAME:
        model, card, recommendations, popularity = recommender.train_recommender(df, config.ml)
        recommendations.write.mode("overwrite").parquet(str(model_dir / recommender.RECOMMENDATIONS_DIR))
        write_json(popularity, model_dir / recommender.POPULARITY_FILE)
    else:
        raise ValueError(f"unknown model {name!r}; expected one of {MODELS}")
    save_model(model, card, model_dir)  # the card is written last: its presence means "complete"
    return model, card


def train_models(config: Config, names: tuple[str, ...] = MODELS,
                 spark=None) -> dict[str, tuple[PipelineModel | None, dict]]:
    """Fit each model in `names`. When several are asked for, one that this data cannot train (NotLearnable,
    e.g. a constant label) is skipped with its reason as its card (`not_trained`), and its earlier model is
    removed: a model of other data must not be served next to models of this data (the app shows the
    reason instead). Asked for alone, the error reaches the caller (the earlier model then stays, as after
    any failed command)."""
    from shopsense.spark import get_spark

    spark = spark or get_spark(config.spark)
    df = read_processed(spark, config).cache()
    trained = {}
    try:
        for name in names:
            try:
                trained[name] = train_one(name, df, config)
            except NotLearnable as exc:
                if len(names) == 1:
                    raise NotLearnable(f"model '{name}' cannot be trained: {exc}") from None
                trained[name] = (None, record_not_trained(config, name, str(exc)))
        return trained
    finally:
        df.unpersist()


def record_not_trained(config: Config, name: str, reason: str) -> dict:
    """Replace model `name` (and anything it saved) by a card holding only why this data cannot train it:
    no pipeline/ = no model; the app and `headline` show the reason."""
    card = {"model": name, "not_trained": reason}
    shutil.rmtree(config.model_dir(name), ignore_errors=True)
    write_card(card, config.model_dir(name))
    return card


def headline(card: dict) -> str:
    """One line per model: its main held-out metric next to the baseline's."""
    if "not_trained" in card:
        return f"not trained: {card['not_trained']}"
    m = card["metrics"]
    if card["model"] == "promo":
        return (f"test AUC {m['model']['auc_roc']:.3f} vs {m['baseline_majority_class']['auc_roc']:.3f} (majority), "
                f"excluded as leaky: {', '.join(card['excluded_features']) or 'none'}")
    if card["model"] == "season":
        return (f"test top-3 hit rate {m['model']['top3_hit_rate']:.3f} vs "
                f"{m['baseline_season_top3']['top3_hit_rate']:.3f} (season top-3), "
                f"{m['baseline_overall_top3']['top3_hit_rate']:.3f} (overall top-3)")
    return (f"{card['params']['variant']} ALS, test NDCG@{m['model']['k']} {m['model']['ndcg_at_k']:.3f} vs "
            f"{m['baseline_popularity']['ndcg_at_k']:.3f} (popularity)")
