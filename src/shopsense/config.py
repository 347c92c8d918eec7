"""One typed configuration object. Every path and tuning knob of ShopSense is read from here."""
from __future__ import annotations

import codecs
import os
import re
import sys
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import NamedTuple

from shopsense.errors import ShopSenseError
from shopsense.streaming.intervals import interval_seconds

ENV_HOME = "SHOPSENSE_HOME"
ENV_MASTER = "SHOPSENSE_SPARK_MASTER"

DEFAULT_ROWS = 50_000
DEFAULT_SEED = 42


class Limit(NamedTuple):
    """The values a numeric setting may take (for a tuple setting: each of its values)."""
    low: float | None = None
    high: float | None = None
    open: bool = False  # both bounds excluded

    def allows(self, value) -> bool:
        if self.open:
            return (self.low is None or value > self.low) and (self.high is None or value < self.high)
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"between {self.low} and {self.high}" + (" (both excluded)" if self.open else "")
        return f"{'above' if self.open else 'at least'} {self.low}"


AT_LEAST_1, AT_LEAST_0, SHARE = Limit(1), Limit(0), Limit(0, 1)
TREE_DEPTH = Limit(1, 30)  # Spark's random forests allow a depth of at most 30


def check_settings(settings, limits: dict[str, Limit], section: str = "") -> None:
    """Raise a ShopSenseError naming the first setting outside its limits: a wrong value fails when the
    config is built, in one line, not as an error deep inside a stage."""
    for name, limit in limits.items():
        value = getattr(settings, name)
        values = value if isinstance(value, tuple) else (value,)
        if not values or not all(limit.allows(v) for v in values):
            each = " (each value)" if isinstance(value, tuple) else ""
            raise ShopSenseError(f"setting {section}'{name}' must be {limit}{each}, got {value!r}")


LOG_LEVELS = ("ALL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF")  # Spark's setLogLevel


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[*]"
    app_name: str = "shopsense"
    # Small data on a laptop: few shuffle partitions; AQE coalesces further and still scales on a cluster.
    shuffle_partitions: int = 8
    driver_memory: str = "2g"
    log_level: str = "ERROR"
    # Where the JVM's own stderr goes (None: the terminal). The CLI sets it to logs/spark.log.
    log_file: str | None = None
    # Map Spark's classes from the archive `shopsense class-archive` records, when it exists: a cold session
    # and its first small jobs in 0.62x the time (shopsense.class_archive, docs/benchmarks.md). Opt-in.
    class_archive: bool = False
    jvm_options: tuple[str, ...] = ()  # more JVM options for the driver (e.g. a profiler's)
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_settings(self, {"shuffle_partitions": AT_LEAST_1}, "[spark] ")
        if not re.fullmatch(r"\d+([kmgt]b?)?", self.driver_memory.strip().lower()):
            raise ShopSenseError(f"setting [spark] 'driver_memory' must be a size like '2g' or '4096m', "
                                 f"got {self.driver_memory!r}")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ShopSenseError(f"setting [spark] 'log_level' must be one of {', '.join(LOG_LEVELS)}, "
                                 f"got {self.log_level!r}")


@dataclass(frozen=True)
class MLSettings:
    """Seeds, split and model sizes of `shopsense train` (tests shrink them; see docs/ml.md)."""
    seed: int = 42
    test_fraction: float = 0.2  # share of CUSTOMERS (not rows) held out for the test split
    leakage_auc_threshold: float = 0.95  # a feature that alone reaches this AUC is excluded
    cv_folds: int = 2  # customer-grouped folds of the promo hyper-parameter search
    promo_num_trees: tuple[int, ...] = (40,)
    promo_max_depth: tuple[int, ...] = (4, 7)
    season_num_trees: int = 40
    season_max_depth: int = 6
    # ALS: 25 items and a few purchases per customer call for a small rank and strong regularisation
    # (measured on held-out purchases: rank 5 / regParam 1.0 beat rank 10 / 0.1, see docs/ml.md).
    als_rank: int = 5
    als_max_iter: int = 10
    als_reg_param: float = 1.0
    als_alpha: float = 1.0  # confidence scale of implicit feedback (purchase counts)
    als_blocks: int = 2  # user/item blocks: small data, few cores; raise on a cluster
    ranking_k: int = 5
    # Serving decision (docs/ml.md): a model is served only when the 95% bootstrap interval of its lift over
    # the baseline (resampling test customers) lies above min_lift; serve_model_anyway overrides, labelled.
    min_lift: float = 0.0
    bootstrap_resamples: int = 200
    serve_model_anyway: bool = False

    def __post_init__(self) -> None:
        check_settings(self, {"bootstrap_resamples": Limit(200), "min_lift": Limit(-1, 1)}, "[ml] ")
        check_settings(self, {
            "test_fraction": Limit(0, 1, open=True), "leakage_auc_threshold": Limit(0.5, 1),
            "cv_folds": Limit(2), "promo_num_trees": AT_LEAST_1, "promo_max_depth": TREE_DEPTH,
            "season_num_trees": AT_LEAST_1, "season_max_depth": TREE_DEPTH, "als_rank": AT_LEAST_1,
            "als_max_iter": AT_LEAST_1, "als_reg_param": AT_LEAST_0, "als_alpha": AT_LEAST_0,
            "als_blocks": AT_LEAST_1, "ranking_k": AT_LEAST_1}, "[ml] ")


@dataclass(frozen=True)
class Config:
    home: Path
    spark: SparkSettings = field(default_factory=SparkSettings)
    run_rows: int = DEFAULT_ROWS  # rows of the data `shopsense run` generates when it is given no --input
    default_seed: int = DEFAULT_SEED
    # Share of the generated default rows replaced by bad ones (the kinds of shopsense.generate.DIRTY_KINDS),
    # so that `shopsense run` shows the quarantine at work; 0 gives a clean file like the public one.
    default_dirty_fraction: float = 0.01
    # |r| above this marks a pair of numeric features as redundant (candidate for feature reduction).
    correlation_threshold: float = 0.85
    # Market basket: a pair is reported when at least this share of baskets (customers) holds both.
    basket_min_support: float = 0.01
    # Baskets are degenerate (pair statistics meaningless) when fewer than this share hold 2+ distinct items.
    basket_min_multi_item_share: float = 0.05
    # `analyze` caches the log hash-partitioned by customer, one partition per this many rows (at least
    # spark.shuffle_partitions): per-customer aggregations and the basket self-join then need no shuffle,
    # and each partition's per-customer hash table stays in memory (docs/benchmarks.md).
    analyze_rows_per_partition: int = 150_000
    # Queries of the SQL suite run at once: many of their stages keep only one core busy (NTILE over all
    # customers, final sorts, result collection), so two at a time fill the gaps (docs/benchmarks.md).
    analyze_concurrent_queries: int = 2
    # Long query results (e.g. one row per customer) show only their first rows in report.html.
    report_max_table_rows: int = 25
    ml: MLSettings = field(default_factory=MLSettings)
    # Web app: prediction requests served at once (shared by all tabs; see docs/app.md) and the most
    # requests allowed to wait in the queue before new ones are told the queue is full.
    app_host: str = "127.0.0.1"  # loopback by default: no one else can reach the app unless asked
    app_port: int = 7860
    app_concurrency: int = 4
    app_queue_size: int = 256
    # MLflow tracking store of `shopsense train` (None: sqlite:///<home>/mlflow.db); MLFLOW_TRACKING_URI wins.
    mlflow_tracking_uri: str | None = None

    # --- streaming (shopsense.streaming, docs/streaming.md) ------------------------------------------
    # Event-time semantics: Spark interval strings, used verbatim by withWatermark() and window().
    stream_watermark: str = "2 minutes"
    stream_window: str = "1 minute"
    # Micro-batch trigger of `shopsense stream run` (not used with --available-now). A window is written
    # by the (no-data) micro-batch after the one that moves the watermark past its end: keep it short.
    stream_trigger: str = "1 second"
    # Files per micro-batch (0 = no file limit: the byte limit below applies). When set, it replaces the
    # byte limit (Spark takes one or the other).
    stream_max_files_per_trigger: int = 0
    # Anomaly rule: robust z-score |0.6745 (x - median) / MAD| above this flags a purchase or a window.
    stream_anomaly_z: float = 3.5
    # A window's revenue is compared with the median of up to this many previous finalised windows,
    stream_revenue_history: int = 10
    # needs at least this many of them before it can be flagged,
    stream_revenue_min_history: int = 5
    # and must also differ from that median by at least this fraction of it ("sharply").
    stream_revenue_min_change: float = 0.5
    # Simulator: rows of the generator used as the source when there is no processed data,
    stream_generator_rows: int = 20_000
    # and at most this many processed rows (a sample fixed by the seed) when there is: the source is held as
    # Python strings (all of a 1M-row log: 1.5 GB, docs/streaming.md).
    stream_pool_rows: int = 100_000
    # In-memory SQL tables of `shopsense stream run` keep at most this many (newest) rows each.
    stream_memory_rows: int = 50_000
    # Partitions (state stores) of the window aggregations; 0 = one per core of the session. Each is a task
    # in every micro-batch, so small micro-batches want few (run demo: 8 -> 2 cut a quarter of its time,
    # docs/streaming.md). A query keeps the value of its first run (Spark stores it in the checkpoint).
    stream_shuffle_partitions: int = 0
    # Bytes of input files per micro-batch (0 = no limit; at least one file is always read): bounds the
    # size of a catch-up micro-batch while leaving a live stream's batches whole (docs/streaming.md).
    stream_max_bytes_per_trigger: int = 64 * 2**20

    # --- the input's format (shopsense.ingest, docs/ingest.md) -----------------------------------------
    # `[columns]`: your header -> ShopSense's column (raw or snake_case name), for columns not matched by
    # name; `--map "yours=Theirs"` adds to it.
    columns: dict[str, str] = field(default_factory=dict)
    # Ingest stops (exit 2, nothing replaced) when more than this share of the rows read would be quarantined.
    max_quarantine_share: float = 0.5
    input_delimiter: str | None = None  # None: detected from the header (`,`, `;`, tab or `|`)
    input_encoding: str = "UTF-8"  # any Python codec name, e.g. latin-1

    # --- data outputs and the SQL catalog (shopsense.catalog, docs/sql.md) ------------------------------
    # Where the data outputs live: any Hadoop-compatible URI (hdfs://nn:8020/shopsense, s3a://bucket/x,
    # file:/mnt/shared) or an absolute path; "" = the home's data/, models/ and stream/ folders.
    data_root: str = ""
    # How often `shopsense serve-sql` reads the tables' snapshot pointers to pick up new outputs.
    sql_refresh_seconds: float = 0.5

    def __post_init__(self) -> None:
        self._check_input_format()
        check_settings(self, {
            "run_rows": AT_LEAST_1, "default_dirty_fraction": SHARE, "correlation_threshold": SHARE,
            "basket_min_support": SHARE, "basket_min_multi_item_share": SHARE,
            "analyze_rows_per_partition": AT_LEAST_1, "analyze_concurrent_queries": AT_LEAST_1,
            "report_max_table_rows": AT_LEAST_1, "app_port": Limit(1, 65535), "app_concurrency": AT_LEAST_1,
            "app_queue_size": AT_LEAST_1, "stream_anomaly_z": Limit(0, open=True),
            "stream_revenue_history": AT_LEAST_1, "stream_revenue_min_history": Limit(1, self.stream_revenue_history),
            "stream_revenue_min_change": AT_LEAST_0, "stream_generator_rows": AT_LEAST_1,
            "stream_pool_rows": AT_LEAST_1, "stream_memory_rows": AT_LEAST_1,
            "stream_max_files_per_trigger": AT_LEAST_0, "stream_shuffle_partitions": AT_LEAST_0,
            "stream_max_bytes_per_trigger": AT_LEAST_0, "sql_refresh_seconds": Limit(0, open=True)})
        root = self.data_root.strip()
        if root and not (re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", root) or root.startswith("/")):
            raise ShopSenseError(f"setting 'data_root' must be a URI like 'hdfs://nn:8020/shopsense' or an "
                                 f"absolute path, got {self.data_root!r}")
        for name in ("stream_watermark", "stream_window", "stream_trigger"):
            try:
                seconds = interval_seconds(getattr(self, name))
            except ShopSenseError as exc:
                raise ShopSenseError(f"setting '{name}': {exc}") from None
            if seconds <= 0 and name != "stream_watermark":
                raise ShopSenseError(f"setting '{name}' must be longer than 0, got {getattr(self, name)!r}")

    def _check_input_format(self) -> None:
        from shopsense.ingest.columns import mapping_target

        check_settings(self, {"max_quarantine_share": SHARE})
        for yours, theirs in self.columns.items():
            if not isinstance(theirs, str):
                raise ShopSenseError(f"[columns] '{yours}' must name a ShopSense column as a string, got {theirs!r}")
            mapping_target(theirs, f"[columns] '{yours}'")
        if self.input_delimiter is not None and len(self.input_delimiter) != 1:
            raise ShopSenseError(f"setting 'input_delimiter' must be one character, got {self.input_delimiter!r}")
        try:
            codecs.lookup(self.input_encoding)
        except LookupError:
            raise ShopSenseError(f"setting 'input_encoding': unknown encoding {self.input_encoding!r}") from None

    @property
    def input_charset(self) -> str:
        """`input_encoding` as Java (Spark) names it."""
        name = codecs.lookup(self.input_encoding).name
        return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "iso8859-1": "ISO-8859-1", "cp1252": "windows-1252",
                "ascii": "US-ASCII"}.get(name, name)

    # --- folders under the project home -------------------------------------------------------------
    @property
    def raw_dir(self) -> Path:
        return self.home / "data" / "raw"

    def data_uri(self, name: str, default: Path) -> str:
        """URI of data output folder `name`: under `data_root` when set, else the home's `default` folder."""
        root = self.data_root.strip().rstrip("/")
        return f"{root}/{name}" if root else str(default)

    @property
    def processed_dir(self) -> str:
        return self.data_uri("processed/shopping", self.home / "data" / "processed" / "shopping")

    @property
    def quarantine_dir(self) -> str:
        return self.data_uri("quarantine", self.home / "data" / "quarantine")

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def models_dir(self) -> str:
        """The trained models' folder: a data output (under data_root when set), read and written through
        Spark/Hadoop; the MLflow store keeps its own copies (docs/sql.md)."""
        return self.data_uri("models", self.home / "models")

    @property
    def stream_dir(self) -> str:
        return self.data_uri("stream", self.home / "stream")

    def model_dir(self, name: str) -> str:
        """Folder of one trained model: `pipeline/` (PipelineModel), `metrics.json` (model card)."""
        return f"{self.models_dir}/{name}"

    @property
    def stream_input_dir(self) -> str:
        """The folder the streaming pipeline watches."""
        return f"{self.stream_dir}/input"

    @property
    def stream_tmp_dir(self) -> str:
        """The simulator writes a file here first, then renames it into stream_input_dir (atomic)."""
        return f"{self.stream_dir}/tmp"

    @property
    def stream_checkpoint_dir(self) -> str:
        return f"{self.stream_dir}/checkpoints"

    @property
    def stream_output_dir(self) -> str:
        return f"{self.stream_dir}/output"

    @property
    def analytics_dir(self) -> str:
        """The analytics results as Parquet tables: one folder per query, and `kpis`."""
        return self.data_uri("analytics", self.home / "data" / "analytics")

    def analytics_table_dir(self, name: str) -> str:
        """Parquet output of one analytics result (a query's, or `kpis`), the folder of its SQL table."""
        return f"{self.analytics_dir}/{name}"

    @property
    def warehouse_dir(self) -> str:
        """Spark's warehouse folder of the catalog sessions (the `shopsense` database's folder; no data)."""
        return self.data_uri("_warehouse", self.home / "data" / "_warehouse")

    # --- well-known files ---------------------------------------------------------------------------
    @property
    def default_raw_csv(self) -> Path:
        return self.raw_dir / "shopping_trends.csv"

    @property
    def ingest_summary(self) -> Path:
        return self.reports_dir / "ingest_summary.json"

    # --- ingestion outputs (shopsense.ingest) ----------------------------------------------------------
    @property
    def quarantine_rows_dir(self) -> str:
        """Rejected rows of the last ingest (Parquet: original string values + reason codes)."""
        return f"{self.quarantine_dir}/shopping"

    @property
    def rejected_rows_dir(self) -> str:
        """The rows of an ingest stopped by max_quarantine_share (Parquet, like the quarantine)."""
        return f"{self.quarantine_dir}/rejected"

    @property
    def correlation_csv(self) -> Path:
        return self.reports_dir / "correlation.csv"

    @property
    def correlation_json(self) -> Path:
        return self.reports_dir / "correlation.json"

    @property
    def correlation_png(self) -> Path:
        return self.reports_dir / "correlation_heatmap.png"

    # --- analytics outputs (`shopsense analyze`) ---------------------------------------------------
    @property
    def kpis_json(self) -> Path:
        return self.reports_dir / "kpis.json"

    @property
    def distributions_csv(self) -> Path:
        return self.reports_dir / "distributions.csv"

    @property
    def plots_dir(self) -> Path:
        return self.reports_dir / "plots"

    @property
    def queries_dir(self) -> Path:
        return self.reports_dir / "queries"

    @property
    def basket_summary_json(self) -> Path:
        return self.reports_dir / "basket_summary.json"

    @property
    def report_html(self) -> Path:
        return self.reports_dir / "report.html"

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking store: $MLFLOW_TRACKING_URI, else the setting, else a SQLite file in the home."""
        return (os.environ.get("MLFLOW_TRACKING_URI") or self.mlflow_tracking_uri
                or f"sqlite:///{self.home / 'mlflow.db'}")

    def with_overrides(self, **kwargs) -> "Config":
        return replace(self, **kwargs)


CONFIG_FILE = "shopsense.toml"


# Settings read under their old name too, with a warning: old name -> current name.
RENAMED_SETTINGS = {"default_rows": "run_rows"}


def _from_table(cls, table: dict, where: str, tables: tuple[str, ...] = ()) -> dict:
    """Keyword arguments of dataclass `cls` from a TOML table (`tables`: keys of sub-tables the caller
    reads itself). Unknown keys and wrong types are user errors; `home` is where the file is, not a setting."""
    known = {f.name: f for f in fields(cls) if f.name != "home"}
    kwargs = {}
    for key, value in table.items():
        if key in tables:
            continue
        if key in RENAMED_SETTINGS and RENAMED_SETTINGS[key] in known:
            new = RENAMED_SETTINGS[key]
            if new in table:
                raise ShopSenseError(f"{where}: '{key}' is the old name of '{new}': keep only '{new}'")
            print(f"warning: {where}: setting '{key}' is now called '{new}'; the old name still works but "
                  "will be removed: rename it", file=sys.stderr)
            key = new
        if key not in known:
            raise ShopSenseError(f"{where}: unknown setting '{key}'; known: {', '.join(sorted(known))}")
        spec = known[key]
        default = spec.default_factory() if spec.default is MISSING else spec.default
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        ok = (isinstance(value, type(default)) or (isinstance(default, float) and type(value) is int)
              or (default is None and isinstance(value, str)))
        if not ok or (isinstance(value, bool) and not isinstance(default, bool)):
            raise ShopSenseError(f"{where}: '{key}' must be {type(default).__name__}, got {value!r}")
        kwargs[key] = float(value) if isinstance(default, float) else value
    return kwargs


def read_config_file(path: Path) -> dict:
    """The optional settings file of a project home, as dataclass keyword arguments (docs/architecture.md)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    if not path.exists():
        return {"config": {}, "spark": {}, "ml": {}}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ShopSenseError(f"{path}: not valid TOML: {exc}") from None
    for section in ("spark", "ml"):
        if not isinstance(table.get(section, {}), dict):
            raise ShopSenseError(f"{path}: [{section}] must be a table")
    spark = table.get("spark", {})
    if not isinstance(spark.get("extra", {}), dict) or not all(
            isinstance(v, str) for v in spark.get("extra", {}).values()):
        raise ShopSenseError(f"{path}: [spark.extra] must map Spark settings to strings")
    return {
        "config": _from_table(Config, table, str(path), tables=("spark", "ml")),
        "spark": {**_from_table(SparkSettings, spark, f"{path} [spark]", tables=("extra",)),
                  **({"extra": dict(spark["extra"])} if "extra" in spark else {})},
        "ml": _from_table(MLSettings, table.get("ml", {}), f"{path} [ml]"),
    }


def load_config(home: str | Path | None = None, master: str | None = None, verbose: bool = False) -> Config:
    """Build the config: explicit arguments win over environment variables, which win over the optional
    `<home>/shopsense.toml`, which wins over the defaults."""
    home_path = Path(home or os.environ.get(ENV_HOME) or Path.cwd()).expanduser().resolve()
    file = read_config_file(home_path / CONFIG_FILE)
    spark_file = file["spark"]
    try:
        spark = SparkSettings(**{
            **spark_file,
            "master": master or os.environ.get(ENV_MASTER) or spark_file.get("master", SparkSettings.master),
            "log_level": "WARN" if verbose else spark_file.get("log_level", SparkSettings.log_level),
            "log_file": None if verbose else spark_file.get("log_file", str(home_path / "logs" / "spark.log")),
        })
        return Config(home=home_path, spark=spark, ml=MLSettings(**file["ml"]), **file["config"])
    except ShopSenseError as exc:  # a value out of range: only the settings file can have set it here
        raise ShopSenseError(f"{home_path / CONFIG_FILE}: {exc}") from None
