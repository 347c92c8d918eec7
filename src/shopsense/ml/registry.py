"""The models ShopSense trains, by name: how to train each, its headline metric and its baseline.
Training, the CLI, the app and MLflow logging iterate over this table instead of branching on names."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame

from shopsense.config import MLSettings
from shopsense.ml import promo, recommender, season
from shopsense.ml.model_card import TrainedModel


@dataclass(frozen=True)
class ModelSpec:
    name: str
    train: Callable[[DataFrame, MLSettings], TrainedModel]
    metric: str  # the headline metric: a key of the card's metrics["model"]
    baseline: str  # the baseline it is judged against: a key of the card's metrics

    @property
    def registered_name(self) -> str:
        """The MLflow registered model whose `champion` alias says what is served."""
        return f"shopsense_{self.name}"


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec(promo.NAME, promo.train_promo, "auc_roc", "baseline_majority_class"),
    ModelSpec(season.NAME, season.train_season, "top3_hit_rate", "baseline_season_top3"),
    ModelSpec(recommender.NAME, recommender.train_recommender, "ndcg_at_k", "baseline_popularity"),
)}
NAMES: tuple[str, ...] = tuple(MODELS)
