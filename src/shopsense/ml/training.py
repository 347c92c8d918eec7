"""`shopsense train`: read the processed data once, fit the requested models, save model + card."""
from __future__ import annotations

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from shopsense.config import Config
from shopsense.io import read_processed, write_json
from shopsense.ml import promo, recommender, season
from shopsense.ml.model_card import save_model

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


def train_models(config: Config, names: tuple[str, ...] = MODELS, spark=None) -> dict[str, tuple[PipelineModel, dict]]:
    from shopsense.spark import get_spark

    spark = spark or get_spark(config.spark)
    df = read_processed(spark, config).cache()
    try:
        return {name: train_one(name, df, config) for name in names}
    finally:
        df.unpersist()
