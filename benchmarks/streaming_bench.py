"""Streaming benchmark: sustained input rate and end-to-end latency of `shopsense stream run`.

For each input rate, a fresh pipeline (five queries, default Config: 1 file per micro-batch, 1 s trigger)
runs while this script lands one simulator file every --file-interval seconds for --duration seconds.
Event time is fast-forwarded (each file covers --event-span seconds of event time) so that windows close
within the run instead of after the 2-minute watermark + 1-minute window of real time.

- Sustained rate: the input rate "is kept up with" when, at the end of the feeding, the slowest query is at
  most one file behind (the file that has just landed may still be in flight).
- End-to-end latency: for every window written to the durable sales_kpis output, the time from the landing
  of the file that closed it (the first file whose events reach window end + watermark) until its
  batch folder appeared in stream/output/sales_kpis. Event-time waiting (window + watermark) comes on top
  in real time when event time follows the wall clock.

Usage: python benchmarks/streaming_bench.py [--rates 50,200,1000] [--duration 40]
Not a test: numbers depend on the machine and its load (the load average is printed with them).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql.streaming import StreamingQueryListener

from shopsense.config import SparkSettings, load_config
from shopsense.spark import get_spark
from shopsense.streaming.intervals import interval_seconds
from shopsense.streaming.runner import QUERY_NAMES, await_pipeline, start_pipeline
from shopsense.streaming.simulator import Simulator, load_pool

ROOT = Path(__file__).resolve().parent / "data" / "streaming"
START = datetime(2025, 1, 1, 10, 0, tzinfo=timezone.utc)


class RowCounter(StreamingQueryListener):
    """Input rows and batch durations per query name, from the progress events."""

    def __init__(self):
        self.rows: dict[str, int] = {}
        self.durations: dict[str, list[float]] = {}

    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        p = event.progress
        self.rows[p.name] = self.rows.get(p.name, 0) + p.numInputRows
        if p.numInputRows:
            self.durations.setdefault(p.name, []).append(p.batchDuration / 1000)

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass


def run_level(spark, pool, rate: int, args) -> dict:
    home = ROOT / f"rate-{rate}"
    shutil.rmtree(home, ignore_errors=True)  # our own benchmark folder only
    config = load_config(home=home)
    rows_per_file = max(1, round(rate * args.file_interval))
    sim = Simulator(config, pool, batch_size=rows_per_file, interval=args.event_span, seed=rate,
                    start_time=START)
    watermark = interval_seconds(config.stream_watermark)
    counter = RowCounter()
    spark.streams.addListener(counter)
    pipeline = start_pipeline(spark, config, available_now=False, printer=None, console=False, progress=False)
    stop = threading.Event()
    waiter = threading.Thread(target=await_pipeline, args=(pipeline, stop), daemon=True)
    waiter.start()
    # Warm-up: one file that every query must have processed before the clock starts (JVM warm-up,
    # first planning); its rows are not part of the figures.
    warm = sim.write_batch(0)
    while min(counter.rows.get(name, 0) for name in QUERY_NAMES) < warm.rows:
        if not waiter.is_alive():
            raise SystemExit(f"the pipeline stopped during the warm-up: {pipeline.failure()}")
        time.sleep(0.2)
    counter.rows.clear()
    counter.durations.clear()

    landed: list[tuple[float, datetime]] = []  # (wall time, span end = max event time) per file
    appeared: dict[str, float] = {}
    out_dir = config.stream_output_dir / "sales_kpis"
    began = time.monotonic()
    k = first = 1
    while time.monotonic() - began < args.duration:
        due = began + (k - first) * args.file_interval
        while time.monotonic() < due:
            _poll(out_dir, appeared)
            time.sleep(0.05)
        sim.write_batch(k)
        landed.append((time.monotonic(), sim.span_start(k) + timedelta(seconds=args.event_span)))
        k += 1
    feed_end = time.monotonic()
    fed = k - first
    behind_files = fed - min(_data_batches(counter, name, rows_per_file) for name in QUERY_NAMES)
    processed = min(counter.rows.get(name, 0) for name in QUERY_NAMES)
    settle_end = time.monotonic() + args.settle
    while time.monotonic() < settle_end:
        _poll(out_dir, appeared)
        time.sleep(0.05)
    stop.set()
    waiter.join()
    spark.streams.removeListener(counter)

    latencies = []
    for folder, seen_at in appeared.items():
        for window_end in pq.read_table(out_dir / folder, columns=["window_end"]).column(0).to_pylist():
            closing = next((t for t, span_end in landed
                            if span_end >= window_end.replace(tzinfo=timezone.utc) + timedelta(seconds=watermark)),
                           None)
            if closing is not None and seen_at >= closing:
                latencies.append(seen_at - closing)
    fed_seconds = feed_end - began
    durations = [d for name in QUERY_NAMES for d in counter.durations.get(name, [])]
    return {
        "rate": rate, "rows_per_file": rows_per_file, "files": fed, "input_rows": fed * rows_per_file,
        "input_rows_per_s": fed * rows_per_file / fed_seconds,
        "slowest_query_rows": processed, "slowest_rows_per_s": processed / fed_seconds,
        "files_behind": behind_files,
        "kept_up": behind_files <= 1,  # at most the file that has just landed is still in flight
        "median_batch_s": statistics.median(durations) if durations else float("nan"),
        "latency_median_s": statistics.median(latencies) if latencies else float("nan"),
        "latency_max_s": max(latencies) if latencies else float("nan"),
        "windows": len(latencies),
    }


def _data_batches(counter: RowCounter, name: str, rows_per_file: int) -> int:
    return round(counter.rows.get(name, 0) / rows_per_file)


def _poll(out_dir: Path, appeared: dict[str, float]) -> None:
    if out_dir.exists():
        now = time.monotonic()
        for folder in os.listdir(out_dir):
            if folder.startswith("batch_id=") and folder not in appeared:
                appeared[folder] = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,200,1000", help="input rates to try, rows/s")
    parser.add_argument("--duration", type=float, default=40.0, help="seconds of feeding per rate")
    parser.add_argument("--file-interval", type=float, default=2.0, help="seconds between files")
    parser.add_argument("--event-span", type=float, default=30.0, help="event-time seconds per file")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of latency polling after feeding")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    spark = get_spark(SparkSettings(master=args.master, app_name="shopsense-streaming-bench"))
    pool, origin = load_pool(load_config(home=ROOT), "generator", seed=1)
    print(f"# shopsense streaming benchmark, master {args.master}, cores {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}, source {origin}")
    print(f"# one file every {args.file_interval:g} s for {args.duration:g} s per rate; "
          f"each file covers {args.event_span:g} s of event time")
    print("rate_rows_s | rows/file | files | input rows/s | slowest query rows (rows/s) | files behind | kept up | "
          "median batch s | latency median s | latency max s | windows")
    for rate in (int(r) for r in args.rates.split(",")):
        r = run_level(spark, pool, rate, args)
        print(f"{r['rate']} | {r['rows_per_file']} | {r['files']} | {r['input_rows_per_s']:.0f} | "
              f"{r['slowest_query_rows']} ({r['slowest_rows_per_s']:.0f}) | {r['files_behind']} | "
              f"{'yes' if r['kept_up'] else 'no'} | "
              f"{r['median_batch_s']:.2f} | {r['latency_median_s']:.1f} | {r['latency_max_s']:.1f} | "
              f"{r['windows']}", flush=True)
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")
    spark.stop()


if __name__ == "__main__":
    main()
