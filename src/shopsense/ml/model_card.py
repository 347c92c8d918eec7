"""The model card `models/<name>/metrics.json`: what was trained on which data, and how well it does
on held-out rows next to its baseline."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shopsense.config import MLSettings
from shopsense.io import write_json

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


def build_card(name: str, *, spark, data: DataFrame, settings: MLSettings, seconds: float, **sections) -> dict:
    """Common header (seed, versions, data fingerprint, time) + the model's own sections, JSON-native
    (tuples become lists), so that the card in memory equals the card read back from metrics.json."""
    return json.loads(json.dumps({
        "model": name,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spark_version": spark.version,
        "seed": settings.seed,
        "settings": asdict(settings),
        "training_seconds": seconds,
        "data_fingerprint": data_fingerprint(data),
        **sections,
    }))


def split_section(train: DataFrame, test: DataFrame, settings: MLSettings) -> dict:
    """How the rows were split, for the card (the same customer-grouped split for promo and season)."""
    def customers(d: DataFrame) -> int:
        return d.select("customer_id").distinct().count()

    return {"method": "by customer (hash of customer_id): no customer is in both splits",
            "test_fraction_of_customers": settings.test_fraction,
            "train_rows": train.count(), "test_rows": test.count(),
            "train_customers": customers(train), "test_customers": customers(test)}


def write_card(card: dict, model_dir: Path) -> Path:
    return write_json(card, model_dir / CARD_FILE)


def read_card(model_dir: Path) -> dict:
    return json.loads((model_dir / CARD_FILE).read_text())


# --- a trained model and where it lives on disk -------------------------------------------------------
PIPELINE_DIR = "pipeline"


def save_model(model, card: dict, model_dir: Path) -> Path:
    """The fitted PipelineModel under `<model_dir>/pipeline/` and its card next to it."""
    model.write().overwrite().save(str(model_dir / PIPELINE_DIR))
    return write_card(card, model_dir)
