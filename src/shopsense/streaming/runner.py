"""`shopsense stream run`: the file source, the five named queries, their sinks, and a clean stop."""
from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from shopsense import schema
from shopsense.config import Config
from shopsense.errors import ShopSenseError
from shopsense.streaming import queries
from shopsense.streaming.progress import ProgressPrinter
from shopsense.io import hadoop_path, make_dirs, read_text
from shopsense.streaming.sinks import STOP_MARKER, BatchOutput, FanOutSink, OutputSink
from shopsense.streaming.source import EVENT_TIME, parse_events, read_stream, valid_events

# The CSV files are parsed and validated once, by this query, into a Parquet stream (the layering usually
# called bronze/silver) that the five named queries read: parsing + aggregating costs 3.5x aggregating parsed rows
# (docs/streaming.md, Decisions).
PARSED_EVENTS = "events"
# The five queries (their outputs, memory tables and console names) ...
QUERY_NAMES: tuple[str, ...] = (
    "sales_kpis", "category_performance", "customer_behaviour", "anomalies", "data_quality")
# ... run as three streaming queries: `events` (parsing), `windows` (the four window queries) and data_quality.
WINDOWS = "windows"
WINDOW_OUTPUTS: tuple[str, ...] = tuple(queries.WINDOW_QUERIES)
STREAMING_QUERIES: tuple[str, ...] = (PARSED_EVENTS, WINDOWS, "data_quality")
CONSOLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_kpis": ("window_start", "orders", "revenue", "avg_order_value", "distinct_customers_approx"),
    "category_performance": ("window_start", "category", "orders", "revenue", "avg_rating"),
    "customer_behaviour": ("window_start", "age_group", "gender", "orders", "revenue"),
    "anomalies": ("kind", "window_start", "event_id", "item_purchased", "value", "expected", "score"),
    "data_quality": ("window_start", "rows_seen", "rows_invalid", "fail_malformed_row", "rows_late",
                     "max_ingestion_lag_s"),
}
# Session settings of the pipeline's queries (each query copies them when it starts):
# - one watermark per micro-batch for dropping late rows and for closing windows (each query has one
#   stateful operator), so the late rows of batch N are those whose window ended at or before
#   max(valid event time of batches < N) - delay, as the data-quality query counts them;
# - the state of the window aggregations in RocksDB (ships with Spark; off the JVM heap) with changelog
#   checkpointing: a micro-batch uploads the changed keys, not a snapshot of the state;
# - no constraint propagation: the parsed rows carry ~50 aliased flag columns, for which Catalyst's
#   constraint inference grows combinatorially (minutes of planning per micro-batch, then a
#   StackOverflowError); it only serves to infer extra filters, which these plans do not need.
STREAM_SQL_CONF = {
    "spark.sql.streaming.statefulOperator.allowMultiple": "false",
    "spark.sql.streaming.stateStore.providerClass":
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    "spark.sql.constraintPropagation.enabled": "false",
}
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
STOP_GRACE_SECONDS = 30.0  # how long a stop waits for running micro-batches to finish
# The revenue of every finalised window, the anomaly query's history, written by Spark per micro-batch; a
# `_` folder under its output is invisible to Parquet readers of the alerts.
REVENUE_HISTORY_DIR = "_window_revenue"


def stream_uri(location) -> str:
    """A stream location (URI string, or a local path) as the string handed to Spark."""
    return str(location).rstrip("/")


def checkpoint_of(config: Config, name: str) -> str:
    return f"{stream_uri(config.stream_checkpoint_dir)}/{name}"


def output_of(spark, config: Config, name: str) -> BatchOutput:
    return BatchOutput(spark, f"{stream_uri(config.stream_output_dir)}/{name}")


def read_output(spark, config: Config, name: str) -> DataFrame | None:
    """The durable output of one query (None before its first finalised row)."""
    return output_of(spark, config, name).read()


def _nullable(struct: StructType) -> StructType:
    return StructType([StructField(f.name, f.dataType, True) for f in struct.fields])


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
    rows = stats.collect()  # 25 rows (one per item), computed once
    return spark.createDataFrame(rows, _nullable(stats.schema)), origin


# --- per-batch transforms (run inside foreachBatch) ------------------------------------------------------
def batch_times_ms(spark, checkpoint: str, batch_id: int) -> tuple[int, int]:
    """The watermark (0 before any event) and the timestamp Spark used for micro-batch `batch_id` of a
    query (epoch ms), as recorded in the query's offset log before the batch ran (the same values when it
    is replayed)."""
    # Three short lines, read through the Hadoop FileSystem API: a Spark job per micro-batch would cost more.
    lines = (read_text(spark, f"{checkpoint}/offsets/{batch_id}") or "").splitlines()
    metadata = next(json.loads(line) for line in lines if line.startswith("{") and "batchWatermarkMs" in line)
    return metadata["batchWatermarkMs"], metadata["batchTimestampMs"]


class DataQualityBatch:
    """Data quality of one micro-batch; late rows judged by the watermark Spark used for the batch, lags
    measured from the batch's timestamp."""

    def __init__(self, spark, config: Config):
        self.spark, self.window = spark, config.stream_window
        self.checkpoint = checkpoint_of(config, "data_quality")

    def __call__(self, batch_df: DataFrame, batch_id: int) -> DataFrame:
        watermark_ms, timestamp_ms = batch_times_ms(self.spark, self.checkpoint, batch_id)
        return queries.data_quality(batch_df, self.window, watermark_ms or None, timestamp_ms)


class AnomalyBatch:
    """Purchase alerts of the finalised windows, plus windows whose revenue left the recent level.

    The recent level comes from the revenue history: the finalised windows of the earlier micro-batches,
    a table written by Spark next to the alerts (batch N's windows in its batch_id=N folder, written
    before its alerts, so a replayed batch N reads the same history: batches < N)."""

    def __init__(self, spark, config: Config):
        self.spark, self.config = spark, config
        self.history = BatchOutput(spark, f"{output_of(spark, config, 'anomalies').uri}/{REVENUE_HISTORY_DIR}")

    def __call__(self, windows: DataFrame, batch_id: int) -> DataFrame:
        """`windows`: this batch's finalised windows, at least one (cached by the caller: read twice)."""
        cfg = self.config
        new = windows.select("window_start", "window_end", "revenue")
        # Every written batch holds at least one window: the last `history` batches before this one hold
        # the recent windows.
        earlier = self.history.read(new.schema, before=batch_id, last=cfg.stream_revenue_history)
        recent = (earlier.orderBy(F.col("window_start").desc()).limit(cfg.stream_revenue_history)
                  .select("window_start", "window_end", "revenue", F.lit(False).alias("is_new"))
                  if earlier is not None else None)
        series = new.withColumn("is_new", F.lit(True))
        series = series if recent is None else recent.unionByName(series)
        self.history.write(new, batch_id)
        return queries.purchase_alerts(windows).unionByName(queries.revenue_alerts(
            series, cfg.stream_revenue_history, cfg.stream_revenue_min_history, cfg.stream_anomaly_z,
            cfg.stream_revenue_min_change))


# --- the pipeline ----------------------------------------------------------------------------------------
@dataclass
class Pipeline:
    spark: object
    config: Config
    queries: list = field(default_factory=list)
    sinks: dict[str, OutputSink] = field(default_factory=dict)  # by query name (QUERY_NAMES)
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


def read_options_of(config: Config) -> dict[str, str]:
    """How much input a micro-batch may read: a file limit when set, else a byte limit (0: none)."""
    if config.stream_max_files_per_trigger:
        return {"maxFilesPerTrigger": str(config.stream_max_files_per_trigger)}
    if config.stream_max_bytes_per_trigger:
        return {"maxBytesPerTrigger": str(config.stream_max_bytes_per_trigger)}
    return {}


def start_pipeline(spark, config: Config, *, available_now: bool = False,
                   printer: Callable[[str], None] | None = print, console: bool = True,
                   progress: bool = True) -> Pipeline:
    """Start the five queries. `printer` receives console rows (console=True) and progress lines."""
    for key, value in STREAM_SQL_CONF.items():
        spark.conf.set(key, value)
    _refuse_old_checkpoints(spark, config)
    pipeline = Pipeline(spark, config)
    if progress and printer is not None:
        pipeline.listener = ProgressPrinter(printer)
        spark.streams.addListener(pipeline.listener)
    try:
        parsed = _start_parsing(pipeline, available_now)
        _start_queries(pipeline, parsed, available_now, printer if console else None)
    except Exception:
        pipeline.stop()
        raise
    return pipeline


def _refuse_old_checkpoints(spark, config: Config) -> None:
    """Checkpoints of one streaming query per window query (ShopSense before the `windows` query) cannot be
    resumed by the combined query: say so instead of recomputing every window into the same outputs."""
    for name in WINDOW_OUTPUTS:
        fs, path = hadoop_path(spark, checkpoint_of(config, name))
        if fs.exists(path):
            raise ShopSenseError(
                f"{checkpoint_of(config, name)} is a checkpoint of an earlier ShopSense version, whose window queries "
                f"were separate streaming queries (now one, `{WINDOWS}`): move {stream_uri(config.stream_checkpoint_dir)} "
                f"and {stream_uri(config.stream_output_dir)} aside to start the stream afresh")


def _start_parsing(pipeline: Pipeline, available_now: bool) -> DataFrame:
    """The query that parses and validates the CSV files once, writing every row (flags included) with
    Spark's Parquet file sink (exactly once through its metadata log); returns the stream of those rows,
    which the five queries read. With --available-now it runs to the end first, so that they see it all."""
    spark, config = pipeline.spark, pipeline.config
    input_uri = stream_uri(config.stream_input_dir)
    make_dirs(spark, input_uri)  # the file source needs the folder to exist
    parsed = parse_events(read_stream(spark, input_uri, read_options_of(config)), config.columns,
                          config.input_delimiter)
    events_uri = f"{stream_uri(config.stream_output_dir)}/{PARSED_EVENTS}"
    writer = (parsed.writeStream.queryName(PARSED_EVENTS).format("parquet").outputMode("append")
              .option("path", events_uri).option("checkpointLocation", checkpoint_of(config, PARSED_EVENTS)))
    writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
        processingTime=config.stream_trigger)
    query = writer.start()
    pipeline.queries.append(query)
    if available_now:
        try:
            query.awaitTermination()
        except Exception as exc:  # the query's own error, e.g. an unreadable input folder
            raise ShopSenseError(f"query {PARSED_EVENTS} failed: {str(exc).strip().splitlines()[0]}") from None
    return spark.readStream.schema(parsed.schema).options(**read_options_of(config)).parquet(events_uri)


def _start_queries(pipeline: Pipeline, parsed: DataFrame, available_now: bool,
                   printer: Callable[[str], None] | None) -> None:
    """The five queries as two streaming queries: `windows` (the four window queries, one aggregation:
    queries.window_aggregates) and `data_quality`."""
    spark, config = pipeline.spark, pipeline.config
    events = valid_events(parsed, config.stream_watermark)
    window = config.stream_window
    reference, origin = anomaly_reference(spark, config)
    aggregates = queries.window_aggregates(queries.score_purchases(events, reference, config.stream_anomaly_z),
                                           window)
    # The data-quality query sees every row; its watermark (on valid rows only, like the window queries')
    # is what it judges late rows by.
    dq_input = (parsed.withColumn("valid_event_time", F.when(F.col("valid"), F.col(EVENT_TIME)))
                .withWatermark("valid_event_time", config.stream_watermark))

    anomalies = AnomalyBatch(spark, config)
    transforms: dict[str, Callable[[DataFrame, int], DataFrame]] = {
        **{name: lambda batch, _, name=name: queries.window_results(batch, name)
           for name in ("sales_kpis", "category_performance", "customer_behaviour")},
        "anomalies": lambda batch, batch_id: anomalies(queries.window_results(batch, "anomalies"), batch_id),
        "data_quality": DataQualityBatch(spark, config),
    }
    schemas = {name: queries.window_results(aggregates, name).schema
               for name in ("sales_kpis", "category_performance", "customer_behaviour")}
    schemas["anomalies"] = queries.purchase_alerts(queries.window_results(aggregates, "anomalies")).schema
    schemas["data_quality"] = queries.data_quality(spark.createDataFrame([], dq_input.schema), window, None, 0).schema
    for name in QUERY_NAMES:
        pipeline.sinks[name] = OutputSink(spark, name, _nullable(schemas[name]), output_of(spark, config, name),
                                          CONSOLE_COLUMNS[name], printer, config.stream_memory_rows)
    pipeline.reference_origin = origin
    # Each query copies the session's settings when it starts: the stream's partitions are set for the
    # starts only, and batch work in the same session keeps its own.
    batch_partitions = spark.conf.get(SHUFFLE_PARTITIONS)
    spark.conf.set(SHUFFLE_PARTITIONS, str(config.stream_shuffle_partitions or spark.sparkContext.defaultParallelism))
    try:
        for query_name, df, names in ((WINDOWS, aggregates, WINDOW_OUTPUTS),
                                      ("data_quality", dq_input, ("data_quality",))):
            sink = FanOutSink([(pipeline.sinks[name], transforms[name]) for name in names], pipeline.stopping)
            writer = (df.writeStream.queryName(query_name).outputMode("append").foreachBatch(sink)
                      .option("checkpointLocation", checkpoint_of(config, query_name)))
            writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
                processingTime=config.stream_trigger)
            pipeline.queries.append(writer.start())
    finally:
        spark.conf.set(SHUFFLE_PARTITIONS, batch_partitions)


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
