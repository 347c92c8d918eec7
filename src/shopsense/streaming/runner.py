"""`shopsense stream run`: the file source, the five named queries, their sinks, and a clean stop."""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType, TimestampType

from shopsense import schema
from shopsense.config import Config
from shopsense.errors import ShopSenseError
from shopsense.streaming import queries
from shopsense.streaming.clock import interval_seconds
from shopsense.streaming.lateness import SINGLE_WATERMARK_CONF, WatermarkTracker
from shopsense.streaming.progress import ProgressPrinter
from shopsense.streaming.sinks import STOP_MARKER, DurableParquet, FanOutSink
from shopsense.streaming.source import parse_events, read_stream, valid_events

QUERY_NAMES: tuple[str, ...] = (
    "sales_kpis", "category_performance", "customer_behaviour", "anomalies", "data_quality")
CONSOLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_kpis": ("window_start", "orders", "revenue", "avg_order_value", "distinct_customers_approx"),
    "category_performance": ("window_start", "category", "orders", "revenue", "avg_rating"),
    "customer_behaviour": ("window_start", "age_group", "gender", "orders", "revenue"),
    "anomalies": ("kind", "window_start", "event_id", "item_purchased", "value", "expected", "score"),
    "data_quality": ("window_start", "rows_seen", "rows_invalid", "fail_malformed_row", "rows_late",
                     "max_ingestion_lag_s"),
}
# Session settings of the pipeline: one watermark per micro-batch (see lateness.py), and no constraint
# propagation: the parsed rows carry ~50 aliased flag columns, for which Catalyst's constraint inference
# grows combinatorially (minutes of planning per micro-batch, then a StackOverflowError); it only serves
# to infer extra filters, which these plans do not need.
STREAM_SQL_CONF = {**SINGLE_WATERMARK_CONF, "spark.sql.constraintPropagation.enabled": "false"}
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
STOP_GRACE_SECONDS = 30.0  # how long a stop waits for running micro-batches to finish
# The revenue of every finalised window, the anomaly query's history; a `_` folder under its output is
# invisible to Parquet readers of the alerts.
REVENUE_HISTORY_DIR = "_window_revenue"
REVENUE_SCHEMA = "window_start timestamp, window_end timestamp, revenue double"
REVENUE_STRUCT = StructType([StructField("window_start", TimestampType()), StructField("window_end", TimestampType()),
                             StructField("revenue", DoubleType())])


def output_of(config: Config, name: str) -> DurableParquet:
    return DurableParquet(config.stream_output_dir / name)


def read_output(spark, config: Config, name: str) -> DataFrame | None:
    """The durable output of one query (None before its first finalised row)."""
    return output_of(config, name).read(spark)


def _nullable(struct: StructType) -> StructType:
    return StructType([StructField(f.name, f.dataType, True) for f in struct.fields])


def _local(spark, rows, struct: StructType) -> DataFrame:
    return spark.createDataFrame(rows, _nullable(struct))


# --- anomaly reference -----------------------------------------------------------------------------------
def anomaly_reference(spark, config: Config) -> tuple[DataFrame, str]:
    """Per-item median/MAD of amounts from the processed data, or from the generator when there is none."""
    from shopsense.io import read_processed

    try:
        purchases, origin = read_processed(spark, config), "processed data"
    except ShopSenseError:
        from shopsense.generate import generate_frame, to_processed_frame

        frame = to_processed_frame(generate_frame(config.stream_generator_rows, config.default_seed))
        purchases = spark.createDataFrame(frame, schema=schema.PROCESSED_SCHEMA)
        origin = f"generator reference ({len(frame):,} rows; no processed data)"
    stats = queries.reference_stats(purchases)
    return _local(spark, stats.collect(), stats.schema), origin  # 25 rows, computed once


# --- per-batch transforms (run inside foreachBatch) ------------------------------------------------------
class DataQualityBatch:
    """Data quality of one micro-batch, with the late-row rule of lateness.WatermarkTracker."""

    def __init__(self, spark, config: Config):
        self.spark, self.window = spark, config.stream_window
        delay_ms = int(interval_seconds(config.stream_watermark) * 1000)
        state = config.stream_checkpoint_dir / "data_quality" / "shopsense_watermark.json"
        self.tracker = WatermarkTracker(state, delay_ms)

    def __call__(self, batch_df: DataFrame, batch_id: int) -> list[Row]:
        watermark_ms = self.tracker.watermark_ms(batch_id)
        watermark = F.timestamp_millis(F.lit(watermark_ms).cast("long"))
        # one row per event-time window of the batch
        rows = queries.data_quality(batch_df, self.window, watermark_ms).withColumn("watermark", watermark).collect()
        batch_max = max((r["max_valid_event_time"] for r in rows if r["max_valid_event_time"]), default=None)
        # PySpark hands out naive local-time datetimes: .timestamp() reads them as such.
        self.tracker.record(batch_id, None if batch_max is None else int(round(batch_max.timestamp() * 1000)))
        return rows


class AnomalyBatch:
    """Purchase alerts of the finalised windows, plus windows whose revenue left the recent level."""

    def __init__(self, spark, config: Config):
        self.spark, self.config = spark, config
        self.history_store = DurableParquet(config.stream_output_dir / "anomalies" / REVENUE_HISTORY_DIR)
        stored = self.history_store.read(spark)
        # batch id -> [(window_start, window_end, revenue)]: the windows each earlier batch finalised
        self.history: dict[int, list[tuple]] = {}
        for row in (stored.collect() if stored is not None else []):
            self.history.setdefault(row["batch_id"], []).append((row["window_start"], row["window_end"],
                                                                 row["revenue"]))

    def __call__(self, batch_df: DataFrame, batch_id: int) -> list[Row]:
        spark, cfg = self.spark, self.config
        rows = batch_df.collect()  # one row per finalised window
        windows = _local(spark, rows, batch_df.schema)
        earlier = sorted(w for b, ws in self.history.items() if b < batch_id for w in ws)
        recent = [(*w, False) for w in earlier[-cfg.stream_revenue_history:]]
        new = [(r["window_start"], r["window_end"], float(r["revenue"])) for r in rows]
        series = spark.createDataFrame(recent + [(*w, True) for w in new], f"{REVENUE_SCHEMA}, is_new boolean")
        alerts = queries.purchase_alerts(windows).unionByName(queries.revenue_alerts(
            series, cfg.stream_revenue_history, cfg.stream_revenue_min_history, cfg.stream_anomaly_z,
            cfg.stream_revenue_min_change)).collect()
        if new:  # remember this batch's windows, durably first (a replay then finds the same history)
            history_rows = [Row(window_start=s, window_end=e, revenue=r) for s, e, r in new]
            self.history_store.write(history_rows, REVENUE_STRUCT, batch_id)
            self.history[batch_id] = new
        return alerts


def alert_schema(spark, windows_schema: StructType) -> StructType:
    """The schema of the anomaly alerts, derived from the (streaming) windows' schema."""
    return queries.purchase_alerts(spark.createDataFrame([], windows_schema)).schema


# --- the pipeline ----------------------------------------------------------------------------------------
@dataclass
class Pipeline:
    spark: object
    config: Config
    queries: list = field(default_factory=list)
    sinks: dict[str, FanOutSink] = field(default_factory=dict)
    listener: ProgressPrinter | None = None
    reference_origin: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Stop every query, if possible between two micro-batches.

        query.stop() interrupts whatever runs; inside a foreachBatch that is a Python call, and Spark then
        fails to recognise the interruption (it prints a StackOverflowError from a regex over the long
        error text). So each query is stopped when no trigger is running. A query still busy after
        `grace_seconds` in all (a backlog) is told through its sinks to refuse its next batch (StopRequested: that
        batch is replayed on the next start), and only then stopped.
        """
        deadline = time.monotonic() + grace_seconds
        busy = []
        for query in self.queries:
            if self._wait(lambda: not query.status["isTriggerActive"], query, deadline):
                query.stop()
            elif query.isActive:
                busy.append(query)
        self.stopping.set()
        deadline = time.monotonic() + grace_seconds
        for query in busy:
            self._wait(lambda: not query.isActive, query, deadline)
            query.stop()
        if self.listener is not None:
            self.spark.streams.removeListener(self.listener)
            self.listener = None

    @staticmethod
    def _wait(condition: Callable[[], bool], query, deadline: float) -> bool:
        """Wait until condition() or the query ended; False when the (monotonic) deadline passed first."""
        while query.isActive and not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def failure(self) -> str | None:
        for query in self.queries:
            exc = query.exception()
            if exc is not None and STOP_MARKER not in str(exc):
                return f"query {query.name} failed: {str(exc).strip().splitlines()[0]}"
        return None


def start_pipeline(spark, config: Config, *, available_now: bool = False,
                   printer: Callable[[str], None] | None = print, console: bool = True,
                   progress: bool = True) -> Pipeline:
    """Start the five queries. `printer` receives console rows (console=True) and progress lines."""
    for key, value in STREAM_SQL_CONF.items():
        spark.conf.set(key, value)
    for folder in (config.stream_input_dir, config.stream_checkpoint_dir, config.stream_output_dir):
        folder.mkdir(parents=True, exist_ok=True)

    raw = read_stream(spark, str(config.stream_input_dir), config.stream_max_files_per_trigger)
    parsed = parse_events(raw, config.columns, config.input_delimiter)
    events = valid_events(parsed, config.stream_watermark)
    window = config.stream_window
    reference, origin = anomaly_reference(spark, config)
    scored = queries.score_purchases(events, reference, config.stream_anomaly_z)
    dq_input = parsed.withColumn("processed_at", F.current_timestamp())  # the micro-batch's timestamp
    dq_schema = queries.data_quality(spark.createDataFrame([], dq_input.schema), window, None).withColumn(
        "watermark", F.lit(None).cast("timestamp")).schema

    anomaly_windows = queries.anomaly_windows(scored, window)
    plans: dict[str, tuple[DataFrame, StructType | None, Callable | None]] = {
        "sales_kpis": (queries.sales_kpis(events, window), None, None),
        "category_performance": (queries.category_performance(events, window), None, None),
        "customer_behaviour": (queries.customer_behaviour(events, window), None, None),
        "anomalies": (anomaly_windows, alert_schema(spark, anomaly_windows.schema), AnomalyBatch(spark, config)),
        "data_quality": (dq_input, dq_schema, DataQualityBatch(spark, config)),
    }
    pipeline = Pipeline(spark, config, reference_origin=origin)
    if progress and printer is not None:
        pipeline.listener = ProgressPrinter(printer)
        spark.streams.addListener(pipeline.listener)
    # Each query copies the session's settings when it starts: the stream's partitions are set for the
    # starts only, and batch work in the same session keeps its own.
    batch_partitions = spark.conf.get(SHUFFLE_PARTITIONS)
    spark.conf.set(SHUFFLE_PARTITIONS, str(config.stream_shuffle_partitions or spark.sparkContext.defaultParallelism))
    try:
        for name in QUERY_NAMES:
            df, result_schema, transform = plans[name]
            sink = FanOutSink(spark, name, _nullable(result_schema or df.schema), output_of(config, name),
                              CONSOLE_COLUMNS[name], printer if console else None, config.stream_memory_rows,
                              transform, pipeline.stopping)
            writer = (df.writeStream.queryName(name).outputMode("append").foreachBatch(sink)
                      .option("checkpointLocation", str(config.stream_checkpoint_dir / name)))
            writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
                processingTime=config.stream_trigger)
            pipeline.sinks[name] = sink
            pipeline.queries.append(writer.start())
    except Exception:
        pipeline.stop()
        raise
    finally:
        spark.conf.set(SHUFFLE_PARTITIONS, batch_partitions)
    return pipeline


def await_pipeline(pipeline: Pipeline, stop: threading.Event, poll_seconds: float = 1.0,
                   on_tick: Callable[[], None] | None = None) -> None:
    """Wait until every query has finished (available-now) or `stop` is set; always stops all queries.

    Raises ShopSenseError when a query failed (the others are stopped first).
    """
    try:
        while not stop.wait(poll_seconds):
            problem = pipeline.failure()
            if problem:
                raise ShopSenseError(problem)
            if on_tick is not None:
                on_tick()
            if not any(q.isActive for q in pipeline.queries):
                break
        problem = pipeline.failure()
        if problem:
            raise ShopSenseError(problem)
    finally:
        pipeline.stop()


def stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Ctrl-C and SIGTERM set `stop` (the wait loop then stops every query); returns a restore function."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
