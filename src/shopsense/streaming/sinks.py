"""Where each query's finalised rows go: durable Parquet written by Spark, an in-memory SQL table and the
console.

One `foreachBatch` per query fans out to the three sinks (instead of three streaming queries per query,
which would triple the work on a small machine). The micro-batch's result is cached once, so the state
store runs once and the three sinks see the same rows.

Exactly once in the durable sink: Spark's DataFrame writer writes micro-batch N of a query to
`<output>/<query>/batch_id=N/` (any Hadoop-compatible URI; the output committer publishes the files and a
`_SUCCESS` marker at job commit). If Spark replays batch N after a crash (the sink ran, the commit did not),
the marker is there and the write is skipped: the replayed batch holds the same rows (same offsets, same
state, same watermark). A batch folder without its marker (a crash during the write) is overwritten.
Readers (`BatchOutput.read`) only read batch folders that have their marker.
"""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Callable, Sequence

from pyspark.sql import DataFrame, Row
from pyspark.sql.types import IntegerType, StructField, StructType

from shopsense.io import hadoop_path

BATCH_COLUMN = "batch_id"
SUCCESS_MARKER = "_SUCCESS"
STOP_MARKER = "shopsense: stop requested"
CONSOLE_ROWS = 20  # rows of one micro-batch printed on the console; the rest is counted


class StopRequested(RuntimeError):
    """Raised by a sink when the pipeline is stopping: the micro-batch is not committed and is replayed on
    the next start (exactly once thanks to the idempotent durable sink)."""


class BatchOutput:
    """Append-only Parquet output of one query, one sub-folder per micro-batch, each written at most once."""

    def __init__(self, spark, uri: str):
        self.spark, self.uri = spark, uri.rstrip("/")

    def batch_uri(self, batch_id: int) -> str:
        return f"{self.uri}/{BATCH_COLUMN}={batch_id}"

    def has_batch(self, batch_id: int) -> bool:
        fs, path = hadoop_path(self.spark, f"{self.batch_uri(batch_id)}/{SUCCESS_MARKER}")
        return fs.exists(path)

    def write(self, df: DataFrame, batch_id: int) -> bool:
        """Write the batch with Spark unless it is already complete; True when written."""
        if self.has_batch(batch_id):
            return False
        df.write.mode("overwrite").parquet(self.batch_uri(batch_id))
        return True

    def complete_batches(self) -> list[tuple[int, str]]:
        """(batch id, URI) of the batch folders whose write completed, in batch order."""
        fs, pattern = hadoop_path(self.spark, f"{self.uri}/{BATCH_COLUMN}=*/{SUCCESS_MARKER}")
        folders = [status.getPath().getParent() for status in fs.globStatus(pattern) or []]
        return sorted((int(folder.getName().split("=")[1]), str(folder.toString())) for folder in folders)

    def read(self, schema: StructType | None = None, before: int | None = None,
             last: int | None = None) -> DataFrame | None:
        """The complete batches as one DataFrame with a `batch_id` column (None before the first one); only
        those with an id < `before`, and of them the `last` ones, when given. With the rows' `schema`
        (`batch_id` excluded), Spark need not run a job to read it from the files."""
        folders = [uri for batch_id, uri in self.complete_batches() if before is None or batch_id < before]
        folders = folders[-last:] if last else folders
        if not folders:
            return None
        reader = self.spark.read.option("basePath", self.uri)
        if schema is not None:
            reader = reader.schema(StructType([*schema.fields, StructField(BATCH_COLUMN, IntegerType())]))
        return reader.parquet(*folders)


class MemoryTable:
    """A temporary view in the driver's session, holding the newest rows emitted by this run (bounded)."""

    def __init__(self, spark, name: str, schema: StructType, max_rows: int):
        self.spark, self.name, self.schema, self.max_rows = spark, name, schema, max_rows
        self.rows: list[Row] = []
        self._lock = threading.Lock()
        self._publish()

    def append(self, rows: Sequence[Row]) -> None:
        with self._lock:
            self.rows = (self.rows + list(rows))[-self.max_rows:]
            self._publish()

    def _publish(self) -> None:
        self.spark.createDataFrame(self.rows, self.schema).createOrReplaceTempView(self.name)


def format_rows(name: str, batch_id: int, total: int, rows: Sequence[Row], columns: Sequence[str],
                note: str = "") -> str:
    """Compact console text: one line per shown row, `column=value` pairs."""
    lines = [f"[{name}] batch {batch_id}: {total} new row(s){note}"]
    for row in rows[:CONSOLE_ROWS]:
        values = row.asDict()
        lines.append("  " + "  ".join(f"{c}={_short(values.get(c))}" for c in columns if c in values))
    if total > CONSOLE_ROWS:
        lines.append(f"  ... {total - CONSOLE_ROWS} more in the durable output")
    return "\n".join(lines)


def _short(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


class OutputSink:
    """Where one query's result rows go: durable Parquet (once per batch id), its memory table and the console.

    Only a bounded number of rows reaches the driver: the memory table's cap (which also serves as the
    console's rows and, when the result is smaller, its count, so a small result costs one job to collect
    and one to write)."""

    def __init__(self, spark, name: str, schema: StructType, output: BatchOutput, console_columns: Sequence[str],
                 printer: Callable[[str], None] | None, memory_rows: int):
        self.name, self.output = name, output
        self.console_columns, self.printer = console_columns, printer
        self.memory = MemoryTable(spark, name, schema, memory_rows)
        self.batches = 0
        self.rows_written = 0

    def publish(self, result: DataFrame, batch_id: int) -> None:
        result = result.persist()
        try:
            cap = max(self.memory.max_rows, CONSOLE_ROWS + 1)
            rows = result.limit(cap).collect()
            if rows:
                total = len(rows) if len(rows) < cap else result.count()
                note = ""
                if self.output.write(result, batch_id):
                    self.rows_written += total
                else:
                    note = " (replayed batch, already in the durable output)"
                self.memory.append(rows[:self.memory.max_rows])
                if self.printer:
                    self.printer(format_rows(self.name, batch_id, total, rows, self.console_columns, note))
            self.batches += 1
        finally:
            result.unpersist()


class FanOutSink:
    """The foreachBatch function of one streaming query: the result of each of its outputs
    (`transform(batch, batch_id) -> DataFrame`) to that output's sinks.

    With several outputs the micro-batch is cached and counted first, so the state store runs once however
    many outputs read it, and a batch without rows (no window became final) costs that one job."""

    def __init__(self, outputs: Sequence[tuple[OutputSink, Callable[[DataFrame, int], DataFrame]]],
                 stopping: threading.Event | None = None):
        self.outputs = list(outputs)
        self.stopping = stopping or threading.Event()

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        if self.stopping.is_set():
            names = ", ".join(sink.name for sink, _ in self.outputs)
            raise StopRequested(f"{STOP_MARKER} (batch {batch_id} of {names} runs again on restart)")
        if len(self.outputs) == 1:  # publish() caches the result: the batch runs once
            sink, transform = self.outputs[0]
            sink.publish(transform(batch_df, batch_id), batch_id)
            return
        batch = batch_df.persist()
        try:
            has_rows = batch.count() > 0
            for sink, transform in self.outputs:
                if has_rows:
                    sink.publish(transform(batch, batch_id), batch_id)
                else:
                    sink.batches += 1
        finally:
            batch.unpersist()
