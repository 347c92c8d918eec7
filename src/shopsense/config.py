"""One typed configuration object. Every path and tuning knob of ShopSense is read from here."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

ENV_HOME = "SHOPSENSE_HOME"
ENV_MASTER = "SHOPSENSE_SPARK_MASTER"

DEFAULT_ROWS = 50_000
DEFAULT_SEED = 42


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[*]"
    app_name: str = "shopsense"
    # Small data on a laptop: few shuffle partitions; AQE coalesces further and still scales on a cluster.
    shuffle_partitions: int = 8
    driver_memory: str = "2g"
    log_level: str = "ERROR"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    home: Path
    spark: SparkSettings = field(default_factory=SparkSettings)
    default_rows: int = DEFAULT_ROWS
    default_seed: int = DEFAULT_SEED
    # |r| above this marks a pair of numeric features as redundant (candidate for feature reduction).
    correlation_threshold: float = 0.85
    # Web app: prediction requests served at once (shared by all tabs; see docs/app.md) and the most
    # requests allowed to wait in the queue before new ones are told the queue is full.
    app_concurrency: int = 4
    app_queue_size: int = 256

    # --- folders under the project home -------------------------------------------------------------
    @property
    def raw_dir(self) -> Path:
        return self.home / "data" / "raw"

    @property
    def processed_dir(self) -> Path:
        return self.home / "data" / "processed" / "shopping"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "data" / "quarantine"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def stream_dir(self) -> Path:
        return self.home / "stream"

    # --- well-known files ---------------------------------------------------------------------------
    @property
    def default_raw_csv(self) -> Path:
        return self.raw_dir / "shopping_trends.csv"

    @property
    def ingest_summary(self) -> Path:
        return self.reports_dir / "ingest_summary.json"

    def with_overrides(self, **kwargs) -> "Config":
        return replace(self, **kwargs)


def load_config(home: str | Path | None = None, master: str | None = None, verbose: bool = False) -> Config:
    """Build the config: explicit arguments win over environment variables, which win over defaults."""
    home_path = Path(home or os.environ.get(ENV_HOME) or Path.cwd()).expanduser().resolve()
    spark = SparkSettings(
        master=master or os.environ.get(ENV_MASTER) or SparkSettings.master,
        log_level="WARN" if verbose else SparkSettings.log_level,
    )
    return Config(home=home_path, spark=spark)
