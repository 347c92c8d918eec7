"""The model card `models/<name>/metrics.json`: what was trained on which data, and how well it does
on held-out rows next to its baseline."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shopsense import io
from shopsense.config import MLSettings
from shopsense.ml.serving import ServingDecision

CARD_FILE = "metrics.json"


def data_fingerprint(df: DataFrame) -> dict:
    """Row count + an order-independent hash of all rows (exact decimal sum of per-row xxhash64)."""
    row = df.agg(F.count(F.lit(1)).alias("rows"),
                 F.sum(F.xxhash64(*df.columns).cast("decimal(38,0)")).alias("hash")).first()
    return {"rows": row.rows, "hash": str(row.hash)}


class Stopwatch:
    """Wall-clock seconds since creation (training time recorded in the card)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return round(time.perf_counter() - self.start, 2)


@dataclass
class ModelCard:
    """What was trained on which data, how well it does on held-out rows next to its baseline, and what is
    served (the model or its baseline). Serialised to `metrics.json` and logged to MLflow as `card.json`."""

    model: str
    task: str
    split: dict
    features: list[str]
    excluded_features: dict
    params: dict
    metrics: dict  # "model": test metrics; "baseline_<name>": the same metrics of each baseline
    serving: ServingDecision
    baseline_answer: dict  # what the baseline serves when the model is not served
    created_utc: str
    spark_version: str
    seed: int
    settings: dict
    training_seconds: float
    data_fingerprint: dict
    details: dict = field(default_factory=dict)  # model-specific sections (e.g. promo calibration)
    mlflow: dict | None = None  # run id and registered version, set once logged

    def to_json(self) -> dict:
        """JSON-native (tuples become lists): equal to the card read back from metrics.json."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_json(cls, data: dict) -> "ModelCard":
        return cls(**{**data, "serving": ServingDecision(**data["serving"])})


@dataclass(frozen=True)
class NotTrainedCard:
    """Written instead of a model when this data cannot train it: the reason is shown where it would be."""

    model: str
    not_trained: str

    def to_json(self) -> dict:
        return asdict(self)


def build_card(name: str, *, spark, data: DataFrame, settings: MLSettings, seconds: float, **sections) -> ModelCard:
    """The common header (seed, versions, data fingerprint, time) + the model's own sections."""
    return ModelCard.from_json(json.loads(json.dumps({
        "model": name,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spark_version": spark.version,
        "seed": settings.seed,
        "settings": asdict(settings),
        "training_seconds": seconds,
        "data_fingerprint": data_fingerprint(data),
        **{k: asdict(v) if isinstance(v, ServingDecision) else v for k, v in sections.items()},
    })))


def split_section(train: DataFrame, test: DataFrame, settings: MLSettings) -> dict:
    """How the rows were split, for the card (the same customer-grouped split for promo and season)."""
    def customers(d: DataFrame) -> int:
        return d.select("customer_id").distinct().count()

    return {"method": "by customer (hash of customer_id): no customer is in both splits",
            "test_fraction_of_customers": settings.test_fraction,
            "train_rows": train.count(), "test_rows": test.count(),
            "train_customers": customers(train), "test_customers": customers(test)}


def write_card(spark, card: ModelCard | NotTrainedCard, model_dir: str) -> None:
    io.write_json_atomic(spark, f"{model_dir}/{CARD_FILE}", card.to_json())


def card_of(data: dict) -> ModelCard | NotTrainedCard:
    return NotTrainedCard(**data) if "not_trained" in data else ModelCard.from_json(data)


def read_card(spark, model_dir: str) -> ModelCard | NotTrainedCard | None:
    """The card of the model in `model_dir` (a URI), None when there is none (ValueError when damaged)."""
    data = io.read_json(spark, f"{model_dir}/{CARD_FILE}")
    return None if data is None else card_of(data)


@dataclass
class TrainedModel:
    """A fitted pipeline, its card, and (recommender) how to write its other outputs into its model folder."""

    model: Any  # pyspark.ml.PipelineModel
    card: ModelCard
    # Writes the model's other outputs into its model folder (a URI); returns the snapshots it staged, which
    # training commits once the model is saved and before its card is written.
    write_outputs: Callable[[str], list[io.Snapshot]] | None = None


# --- a trained model and where it lives (a folder under config.models_dir) ------------------------------
PIPELINE_DIR = "pipeline"


def save_pipeline(model, model_dir: str) -> None:
    """The fitted PipelineModel under `<model_dir>/pipeline/` (a URI: Spark's ML writer, any Hadoop FS)."""
    model.write().overwrite().save(f"{model_dir}/{PIPELINE_DIR}")
