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
    # --- streaming (shopsense.streaming, docs/streaming.md) ------------------------------------------
    # Event-time semantics: Spark interval strings, used verbatim by withWatermark() and window().
    stream_watermark: str = "2 minutes"
    stream_window: str = "1 minute"
    # Micro-batch trigger of `shopsense stream run` (not used with --available-now). With one file per
    # micro-batch (below) the pipeline reads at most one file per trigger, so keep it short.
    stream_trigger: str = "1 second"
    # One file per micro-batch (0 = no limit): every query then cuts the input into the same micro-batches, so all see
    # the same watermark per batch and the data-quality query's late-row count equals what the window
    # queries dropped. Larger files, not more files per batch, raise the throughput.
    stream_max_files_per_trigger: int = 1
    # Anomaly rule: robust z-score |0.6745 (x - median) / MAD| above this flags a purchase or a window.
    stream_anomaly_z: float = 3.5
    # A window's revenue is compared with the median of up to this many previous finalised windows,
    stream_revenue_history: int = 10
    # needs at least this many of them before it can be flagged,
    stream_revenue_min_history: int = 5
    # and must also differ from that median by at least this fraction of it ("sharply").
    stream_revenue_min_change: float = 0.5
    # Simulator: rows of the generator used as the source when there is no processed data.
    stream_generator_rows: int = 20_000
    # In-memory SQL tables of `shopsense stream run` keep at most this many (newest) rows each.
    stream_memory_rows: int = 50_000

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

    @property
    def stream_input_dir(self) -> Path:
        """The folder the streaming pipeline watches."""
        return self.stream_dir / "input"

    @property
    def stream_tmp_dir(self) -> Path:
        """The simulator writes a file here first, then renames it into stream_input_dir (atomic)."""
        return self.stream_dir / "tmp"

    @property
    def stream_checkpoint_dir(self) -> Path:
        return self.stream_dir / "checkpoints"

    @property
    def stream_output_dir(self) -> Path:
        return self.stream_dir / "output"

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
