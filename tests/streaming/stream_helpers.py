"""Helpers of the streaming tests: small stream files, one available-now run, and an independent batch
oracle of the late-row rule."""
from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from pyspark.sql import functions as F

from shopsense.streaming import source
from shopsense.streaming.intervals import interval_seconds

START = datetime(2025, 1, 1, 10, 0, 0, tzinfo=timezone.utc)


_last_mtime_ns = [0]


def write_stream_file(config, name: str, lines: list[str], header: bool = True) -> Path:
    """A hand-made stream file, written atomically like the simulator does (temp outside, then link),
    with a modification time later than every file written before (Spark reads oldest first)."""
    input_dir, tmp_dir = Path(config.stream_input_dir), Path(config.stream_tmp_dir)  # local folders in tests
    input_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f".{name}.tmp"
    tmp.write_text(("\n".join(([",".join(source.STREAM_COLUMNS)] if header else []) + lines)) + "\n")
    _last_mtime_ns[0] = max(time.time_ns(), _last_mtime_ns[0] + 1_000_000)
    os.utime(tmp, ns=(_last_mtime_ns[0], _last_mtime_ns[0]))
    os.link(tmp, input_dir / name)
    tmp.unlink()
    return input_dir / name


def run_available_now(spark, config):
    """One `stream run --available-now`; returns (pipeline, printed lines)."""
    from shopsense.streaming.runner import await_pipeline, start_pipeline

    lines: list[str] = []
    pipeline = start_pipeline(spark, config, available_now=True, printer=lines.append)
    await_pipeline(pipeline, threading.Event(), poll_seconds=0.5)
    return pipeline, lines


def oracle_events(spark, config, micro_batches: list[list[Path]]):
    """(valid rows that are not late, number of late rows, final watermark in epoch ms) computed as a batch job.

    `micro_batches` lists the files of each micro-batch in order; a row of batch N is late when its
    1-minute window ended at or before max(valid event time of batches < N) - watermark delay.
    """
    delay = int(interval_seconds(config.stream_watermark) * 1000)
    # Parsed once: the validation plan is large, and every action on an unmaterialised frame plans,
    # generates and compiles it again (the tests compare several queries of these events).
    parsed = source.parse_events(source.read_batch(spark, str(config.stream_input_dir))).localCheckpoint()
    kept, late_rows, running_max = None, 0, None
    for files in micro_batches:
        names = [f.name for f in files]
        rows = parsed.filter(F.col("valid") & F.element_at(F.split(source.FILE_PATH, "/"), -1).isin(names))
        if running_max is not None:
            watermark = running_max - delay
            window_end = F.unix_millis(F.window(source.EVENT_TIME, config.stream_window).end)
            is_late = window_end <= watermark
            late_rows += rows.filter(is_late).count()
            rows = rows.filter(~is_late).select(*parsed.columns)  # window() adds a column: drop it
        batch_max = rows.agg(F.max(F.unix_millis(source.EVENT_TIME))).first()[0]
        if batch_max is not None:
            running_max = batch_max if running_max is None else max(running_max, batch_max)
        kept = rows if kept is None else kept.unionByName(rows)
    events = kept.select(source.EVENT_ID, source.EVENT_TIME, *[c for c in kept.columns if c in
                                                                  source.schema.PROCESSED_COLUMNS])
    return events.localCheckpoint(), late_rows, running_max - delay


def simulated_lines(config, pool, *, start: datetime, interval: float, rows: int, seed: int, **fractions) -> list[str]:
    """Data lines (no header) of one simulated batch covering [start, start + interval)."""
    from shopsense.streaming.simulator import Simulator

    sim = Simulator(config, pool, batch_size=rows, interval=interval, seed=seed, start_time=start, **fractions)
    return sim.batch_lines(0)[0][1:]
