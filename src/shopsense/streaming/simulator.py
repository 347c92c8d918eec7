"""Stream simulator: writes timestamped CSV mini-batches of purchases into the watched input folder.

Event times (deterministic for a given seed and start time, never read from the wall clock when
`start_time` is given):
- Batch k covers the event-time span [start + k*interval, start + (k+1)*interval). Its on-time events
  are spread uniformly over that span. Live (`pace=True`) batch k is written at wall time
  start + (k+1)*interval, i.e. just after its span ends, so events arrive slightly after they happened.
- A `late_fraction` of the rows is late: half of them *within* the watermark (event time 5 s to
  watermark - 15 s before the span start: older than the stream's newest events, but their window is
  still open, so they are aggregated), half *beyond* it (event time more than watermark + window +
  interval + 30 s before the span start: their window has closed by the time they are read, so Spark
  drops them and the data-quality query counts them). A late event that would predate `start` is
  emitted on time instead (there is nothing to be late against yet), so the first few batches carry
  fewer late rows than asked.
- A `dirty_fraction` of the rows is replaced by bad rows (the generator's dirty kinds plus a bad event
  time and a missing event id); an `anomaly_fraction` gets an amount 6-10x its usual value.

Files hold schema.RAW_COLUMNS, `event_id`, `event_time`, less any column without a value in the pool (the
ingested input lacked it: the stream then reads it as absent, as ingest did); a null is an empty field.

The simulator stands in for the upstream system that drops files, so it writes LOCAL files (the only
stream code that uses the local file system): the input folder must be a local path or a file: URI.
Files are written to `stream/tmp/` and hard-linked into `stream/input/` (atomic, and a link never
replaces an existing name, so nothing is overwritten), then the temporary name is removed. File names
start with the span start (UTC, sortable) and the batch number, so they sort in time order; their
modification times strictly increase in the same order (Spark's file source reads oldest first).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopsense import generate, schema
from shopsense.config import Config
from shopsense.errors import ShopSenseError
from shopsense.ingest.columns import EVENT_ID, EVENT_TIME
from shopsense.io import local_current_folder
from shopsense.streaming.intervals import interval_seconds
from shopsense.streaming.source import EVENT_TIME_STRFTIME

SOURCES = ("auto", "processed", "generator")
# The generator's dirty kinds that make sense for single events (an exact duplicate line would carry a
# duplicate event id: the stream does not deduplicate, see docs/streaming.md), plus stream-only kinds.
DIRTY_KINDS: tuple[str, ...] = tuple(k for k in generate.DIRTY_KINDS if k != "duplicate_row") + (
    "bad_event_time", "missing_event_id")
# The optional column each dirty kind plants its bad value in (the others change an essential column or the
# line's length): a kind whose column the pool lacks is not planted.
PLANTED_IN = {"missing_field": "Gender", "age_out_of_range": "Age", "rating_out_of_range": "Review Rating"}
LENGTH_KINDS = ("extra_column", "missing_column")
INTEGER_RAW_COLUMNS = frozenset(c.raw for c in schema.COLUMNS if c.name in schema.INTEGER_COLUMNS)
ANOMALY_FACTOR = (6.0, 10.0)
IN_WATERMARK_MIN_S = 5.0  # a late-but-accepted event is at least this much older than its span start
SAFETY_MARGIN_S = 15.0  # distance kept from the watermark boundary on both sides
BEYOND_SPREAD_S = 120.0  # beyond-watermark delays are spread over this many seconds


def local_folder(location) -> Path:
    """A stream folder (local path or URI string) as a local path; other schemes are a user error."""
    text = str(location)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if not parsed.scheme or len(parsed.scheme) == 1:  # a plain path (or a Windows drive letter)
        return Path(text)
    raise ShopSenseError(f"the simulator writes local files, and {text} is not a local folder")


@dataclass(frozen=True)
class SimulatedFile:
    path: Path
    batch: int
    rows: int
    span_start: datetime
    late_within: int
    late_beyond: int
    dirty: dict[str, int]
    anomaly_event_ids: tuple[str, ...]
    beyond_event_ids: tuple[str, ...] = field(default=(), repr=False)


def load_pool(config: Config, source: str, seed: int) -> tuple[pd.DataFrame, str]:
    """Purchases to draw from (raw column names, string values) and where they came from."""
    if source not in SOURCES:
        raise ShopSenseError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    processed = local_current_folder(config.processed_dir)  # the simulator is a local program: no Spark
    if source == "processed" and processed is None:
        raise ShopSenseError(f"no processed data on this machine in {config.processed_dir}: run `shopsense "
                             "ingest` first, or use --source generator")
    if source != "generator" and processed is not None:
        frame, total = processed_sample(processed, config.stream_pool_rows, seed)
        for col in schema.BOOLEAN_COLUMNS:
            frame[col] = frame[col].map({True: "Yes", False: "No"})
        frame = frame.rename(columns={v: k for k, v in schema.RAW_TO_PROCESSED.items()})
        origin = (f"processed data ({total:,} rows)" if len(frame) == total
                  else f"processed data (a sample of {len(frame):,} of its {total:,} rows, seed {seed})")
    else:
        frame = generate.generate_frame(config.stream_generator_rows, seed)
        origin = f"generator ({len(frame):,} rows, seed {seed})"
    if frame.empty:
        raise ShopSenseError("the source of the simulator holds no rows")
    return frame[list(schema.RAW_COLUMNS)].apply(csv_text).reset_index(drop=True), origin


def csv_text(values: pd.Series) -> pd.Series:
    """A pool column as CSV fields: a null is an empty field (never 'None' or 'nan'); whole numbers stay whole
    when pandas holds a column with nulls as floats. A column null in every row is left out of the files
    (Simulator)."""
    if pd.api.types.is_float_dtype(values) and values.name in INTEGER_RAW_COLUMNS:
        values = values.astype("Int64")
    return values.astype(str).where(values.notna(), "")


def processed_sample(folder: Path, limit: int, seed: int) -> tuple[pd.DataFrame, int]:
    """At most `limit` rows of the processed data (a sample fixed by `seed`), and its row count.

    The rows are taken in the order of their values, not of the files: the same data written in another
    layout (another number of files or partitions, e.g. by a cluster) gives the same pool, so the same events.
    The pool is held as Python strings: all of a 1M-row log took 10.3 s and 1.5 GB (docs/streaming.md), while
    a few thousand rows make a batch. The sample is taken in Arrow, before any string is made.
    """
    columns = list(schema.PROCESSED_COLUMNS)
    table = pq.read_table(folder, columns=columns)
    total = table.num_rows
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in columns])
    if total > limit:
        order = order.take(np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False)))
    return table.take(order).to_pandas(), total


class Simulator:
    """Produces batch k deterministically from (seed, start_time, k); writes it atomically."""

    def __init__(self, config: Config, pool: pd.DataFrame, *, batch_size: int, interval: float, seed: int,
                 start_time: datetime, late_fraction: float = 0.0, dirty_fraction: float = 0.0,
                 anomaly_fraction: float = 0.0):
        for name, value in (("late", late_fraction), ("dirty", dirty_fraction), ("anomaly", anomaly_fraction)):
            if not 0.0 <= value <= 1.0:
                raise ShopSenseError(f"--{name}-fraction must be between 0 and 1")
        if late_fraction + dirty_fraction + anomaly_fraction > 1.0:
            raise ShopSenseError("late + dirty + anomaly fractions must not exceed 1")
        if batch_size < 1 or interval <= 0:
            raise ShopSenseError("--batch-size must be >= 1 and --interval > 0")
        self.config, self.pool = config, pool
        # A column without any value in the pool (the ingested input lacked it) is left out of the files, so the
        # stream reads it as a column the file lacks (null, breaking no rule), as ingest did.
        self.keep = [i for i, c in enumerate(schema.RAW_COLUMNS) if pool[c].ne("").any()]
        self.columns = tuple(schema.RAW_COLUMNS[i] for i in self.keep) + (EVENT_ID, EVENT_TIME)
        self.dirty_kinds = tuple(k for k in DIRTY_KINDS if k not in PLANTED_IN or PLANTED_IN[k] in self.columns)
        self.input_dir, self.tmp_dir = local_folder(config.stream_input_dir), local_folder(config.stream_tmp_dir)
        self.batch_size, self.interval, self.seed = batch_size, float(interval), seed
        self.start = start_time.astimezone(timezone.utc)
        self.late_fraction, self.dirty_fraction, self.anomaly_fraction = late_fraction, dirty_fraction, anomaly_fraction
        watermark = interval_seconds(config.stream_watermark)
        window = interval_seconds(config.stream_window)
        self.within_delay = (IN_WATERMARK_MIN_S, watermark - SAFETY_MARGIN_S)
        beyond_min = watermark + window + self.interval + SAFETY_MARGIN_S
        self.beyond_delay = (beyond_min, beyond_min + BEYOND_SPREAD_S)
        self._last_mtime_ns = 0

    def span_start(self, k: int) -> datetime:
        return self.start + timedelta(seconds=k * self.interval)

    def file_name(self, k: int) -> str:
        stamp = self.span_start(k).strftime("%Y%m%dT%H%M%S%fZ")
        return f"events-{stamp}-b{k:06d}-s{self.seed}.csv"

    def batch_lines(self, k: int) -> tuple[list[str], SimulatedFile]:
        """The CSV lines (with header) of batch k and what was planted in them."""
        rng = np.random.default_rng([self.seed, k])
        n = self.batch_size
        rows = self.pool.iloc[rng.integers(0, len(self.pool), n)].reset_index(drop=True).copy()
        span = self.span_start(k)
        offsets = rng.uniform(0, self.interval, n)

        # Disjoint roles: late rows, dirty rows, anomalies; the rest are on time and normal.
        roles = rng.permutation(n)
        n_late = int(round(n * self.late_fraction))
        n_dirty = int(round(n * self.dirty_fraction))
        n_anom = int(round(n * self.anomaly_fraction))
        late_idx = roles[:n_late]
        dirty_idx = roles[n_late:n_late + n_dirty]
        anom_idx = roles[n_late + n_dirty:n_late + n_dirty + n_anom]

        elapsed = k * self.interval
        beyond_ids, within, beyond = [], 0, 0
        for j, i in enumerate(late_idx):
            low, high = self.within_delay if j % 2 == 0 else self.beyond_delay
            delay = rng.uniform(low, high)
            if delay > elapsed:  # would predate the stream's start: keep it on time
                continue
            offsets[i] = -delay
            if j % 2 == 0:
                within += 1
            else:
                beyond += 1
                beyond_ids.append(i)

        amount_col = "Purchase Amount (USD)"
        for i in anom_idx:
            amount = float(rows.at[i, amount_col]) * rng.uniform(*ANOMALY_FACTOR)
            rows.at[i, amount_col] = f"{amount:.2f}"

        event_ids = [f"e{self.seed}-{k:06d}-{i:05d}" for i in range(n)]
        times = [(span + timedelta(seconds=float(o))).strftime(EVENT_TIME_STRFTIME)[:-3] for o in offsets]
        all_fields = list(rows.itertuples(index=False, name=None))  # schema.RAW_COLUMNS
        raw_lines = [",".join(self._kept(fields)) for fields in all_fields]
        lines = [f"{line},{eid},{t}" for line, eid, t in zip(raw_lines, event_ids, times)]

        dirty = {kind: 0 for kind in DIRTY_KINDS}
        for j, i in enumerate(dirty_idx):
            kind = self.dirty_kinds[j % len(self.dirty_kinds)]
            if kind == "bad_event_time":
                lines[i] = f"{raw_lines[i]},{event_ids[i]},yesterday at noon"
            elif kind == "missing_event_id":
                lines[i] = f"{raw_lines[i]},,{times[i]}"
            elif kind in LENGTH_KINDS:
                lines[i] = f"{generate._dirty_line(raw_lines[i].split(','), kind)},{event_ids[i]},{times[i]}"
            else:  # planted in the full layout, by column
                fields = self._kept(generate._dirty_line(list(all_fields[i]), kind).split(","))
                lines[i] = f"{','.join(fields)},{event_ids[i]},{times[i]}"
            dirty[kind] += 1

        info = SimulatedFile(
            path=self.input_dir / self.file_name(k), batch=k, rows=n, span_start=span,
            late_within=within, late_beyond=beyond, dirty=dirty,
            anomaly_event_ids=tuple(event_ids[i] for i in anom_idx),
            beyond_event_ids=tuple(event_ids[i] for i in beyond_ids),
        )
        return [",".join(self.columns)] + lines, info

    def _kept(self, fields) -> list[str]:
        """The values of the columns the files hold, of a line in the full layout."""
        return [fields[i] for i in self.keep]

    def write_batch(self, k: int) -> SimulatedFile:
        """Write batch k atomically into the input folder; refuse to replace an existing file."""
        lines, info = self.batch_lines(k)
        self.input_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        if info.path.exists():
            raise ShopSenseError(f"{info.path} already exists (same seed and start time?): files are never "
                                 "overwritten; use another --seed or --start-time")
        tmp = self.tmp_dir / f".{info.path.name}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            out.write("\n".join(lines) + "\n")
            out.flush()
            os.fsync(out.fileno())
        # Strictly increasing modification times in batch order: Spark reads the oldest file first.
        mtime_ns = max(time.time_ns(), self._last_mtime_ns + 1_000_000)
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
        self._last_mtime_ns = mtime_ns
        try:
            os.link(tmp, info.path)  # atomic; fails instead of replacing an existing name
        except FileExistsError as exc:
            raise ShopSenseError(f"{info.path} appeared meanwhile: files are never overwritten") from exc
        finally:
            tmp.unlink()
        return info

    def run(self, batches: int | None, pace: bool = True, should_stop: Callable[[], bool] = lambda: False,
            sleep: Callable[[float], None] = time.sleep) -> Iterator[SimulatedFile]:
        """Write batches 0, 1, ... (`batches` of them, or until should_stop()), paced by the interval."""
        began = time.monotonic()
        k = 0
        while (batches is None or k < batches) and not should_stop():
            if pace:
                wait = began + (k + 1) * self.interval - time.monotonic()
                while wait > 0 and not should_stop():
                    sleep(min(wait, 0.5))
                    wait = began + (k + 1) * self.interval - time.monotonic()
                if should_stop():
                    break
            yield self.write_batch(k)
            k += 1
