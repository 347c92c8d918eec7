"""Where each query's finalised rows go: durable Parquet, an in-memory SQL table and the console.

One `foreachBatch` per query fans out to the three sinks (instead of three streaming queries per query,
which would triple the work on a small machine). The batch's result is computed ONCE (results are small
aggregates: one row per window and group, or one per alert) and the three sinks are fed from those rows,
so they always agree.

Exactly once in the durable sink: micro-batch N of a query is written to `<output>/<query>/batch_id=N/`,
first into `<output>/<query>/_staging/` and then renamed into place (a directory rename is atomic, and
Spark's readers ignore `_`-prefixed folders). If Spark replays batch N after a crash (the sink ran, the
commit did not), the directory exists and the batch is skipped: the replayed batch holds the same rows
(same offsets, same state, same watermark), so nothing is lost and nothing is written twice.
"""
from __future__ import annotations

import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, Row
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

BATCH_COLUMN = "batch_id"


def _utc(value):
    """PySpark returns timestamps as naive local-time datetimes; Arrow needs them time-zone aware."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    if isinstance(value, dict):
        return {k: _utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utc(v) for v in value]
    return value


class DurableParquet:
    """Append-only Parquet output of one query, one sub-folder per micro-batch (written at most once).

    The rows are already on the driver (small results), so they are written with Arrow directly: no
    Spark job per micro-batch, and the file lands on the driver's file system like the checkpoints.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def batch_dir(self, batch_id: int) -> Path:
        return self.folder / f"{BATCH_COLUMN}={batch_id}"

    def has_batch(self, batch_id: int) -> bool:
        return self.batch_dir(batch_id).exists()

    def write(self, rows: Sequence[Row], struct: StructType, batch_id: int) -> bool:
        """Write the batch unless it is already there; True when written."""
        final = self.batch_dir(batch_id)
        if final.exists():
            return False
        staging = self.folder / "_staging" / final.name
        if staging.exists():  # left by a crashed attempt of this very batch: ours to remove
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        table = pa.Table.from_pylist([_utc(r.asDict(recursive=True)) for r in rows],
                                     schema=to_arrow_schema(struct, timezone="UTC"))
        pq.write_table(table, staging / "part-00000.parquet", compression="zstd")
        staging.rename(final)
        return True

    def read(self, spark) -> DataFrame | None:
        if not any(self.folder.glob(f"{BATCH_COLUMN}=*")):
            return None
        return spark.read.parquet(str(self.folder))


class MemoryTable:
    """A temporary view in the driver's session, holding the rows emitted by this run (newest last)."""

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


def format_rows(name: str, batch_id: int, rows: Sequence[Row], columns: Sequence[str], note: str = "") -> str:
    """Compact console text: one line per row, `column=value` pairs."""
    head = f"[{name}] batch {batch_id}: {len(rows)} new row(s){note}"
    lines = [head]
    for row in rows:
        values = row.asDict()
        lines.append("  " + "  ".join(f"{c}={_short(values.get(c))}" for c in columns if c in values))
    return "\n".join(lines)


def _short(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


class FanOutSink:
    """The foreachBatch function of one query: compute the batch's rows once, then durable + memory + console.

    `transform(batch_df, batch_id) -> rows` turns the micro-batch into result rows of `schema` (default:
    collect the batch as it is: the finalised windows).
    """

    def __init__(self, spark, name: str, schema: StructType, output: DurableParquet, console_columns: Sequence[str],
                 printer: Callable[[str], None] | None, memory_rows: int,
                 transform: Callable[[DataFrame, int], list[Row]] | None = None):
        self.spark, self.name, self.schema, self.output = spark, name, schema, output
        self.console_columns, self.printer = console_columns, printer
        self.transform = transform or (lambda batch_df, _: batch_df.collect())
        self.memory = MemoryTable(spark, name, schema, memory_rows)
        self.batches = 0
        self.rows_written = 0

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        rows = self.transform(batch_df, batch_id)  # small: one row per window (x group), or per alert
        note = ""
        if rows:
            if self.output.write(rows, self.schema, batch_id):
                self.rows_written += len(rows)
            else:
                note = " (replayed batch, already in the durable output)"
            self.memory.append(rows)
        self.batches += 1
        if self.printer and rows:
            self.printer(format_rows(self.name, batch_id, rows, self.console_columns, note))
