"""Reading and writing at the edges: the processed data set and JSON reports."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shopsense.config import Config
from shopsense.errors import ShopSenseError


def require_processed(config: Config) -> Path:
    """The processed data folder, or ShopSenseError when `shopsense ingest` has not run (checked before
    starting Spark, so the user gets the message at once)."""
    path = config.processed_dir
    if not (path / "_SUCCESS").exists() and not any(path.glob("*.parquet")):
        raise ShopSenseError(f"no processed data in {path}: run `shopsense ingest` first")
    return path


def read_processed(spark, config: Config):
    """The clean purchase log written by `shopsense ingest` (Parquet, processed schema)."""
    return spark.read.parquet(str(require_processed(config)))


def write_json(data: Any, path: Path) -> Path:
    """Write JSON atomically (temporary file, then rename), pretty and stable (sorted keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
    return path
