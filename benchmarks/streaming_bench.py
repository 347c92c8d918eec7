"""Streaming benchmark: highest sustained input rate and end-to-end latency of `shopsense stream run`.

For each input rate (events/s, rising), a fresh pipeline (five queries, default Config: 1 s trigger,
micro-batches sized by maxBytesPerTrigger, RocksDB state) runs while this script lands one file every
--file-interval seconds for --duration seconds. The files are written before the clock starts (so writing
them costs the pipeline no CPU) and landed by a hard link (atomic), modification time = landing time.
Event time is fast-forwarded (each file covers --event-span seconds of event time), so windows close during
the run instead of after minutes of real time.

- Warm-up: first --warm-up seconds at the first rate, not reported (a stream runs for hours; a fresh JVM
  spends minutes JIT-compiling Spark's planner, which is not what a rate sustains).
- Kept up: at the end of the feeding, every query has read all but at most the files of the last
  trigger interval + one micro-batch (no growing backlog). The highest rate kept up is reported; the
  rates stop rising at the first one not kept up.
- Batch duration p50/p95: micro-batches with input rows, all five queries.
- Latency p50/p95: for every window in the durable sales_kpis output, from the landing of the file that
  closed it (the first file whose events reach window end + watermark) to its batch folder's _SUCCESS.
- Classes compiled: Spark's compilations of generated code during the run (its code cache's misses; a
  stream should compile none per micro-batch).
- Peak memory: peak resident set of this process (driver) + the local Spark JVM (VmHWM).

`--parse-cost ROWS`: instead, what parsing costs and parsing once saves: parse + validate alone, and the
sales_kpis aggregation computed from the CSV files (parse + validate) and from the same rows already parsed
into Parquet, as the five queries read them (static; wall and CPU seconds of driver + JVM, medians of the
last 4 of 6 rounds).

`--catch-up EVENTS`: instead, the CPU the whole pipeline spends per event, from `stream run --available-now`
over EVENTS events already landed (fresh home per round, a warm-up round first): the least load-dependent
figure, and cores / (CPU per event) bounds any sustained rate.

`--profile`: also, per rate and query, where a micro-batch's time goes: medians of the progress' durationMs
parts, Spark jobs and their tasks' CPU seconds per micro-batch (with input / no-data), state operators.
CPU cores used (driver + JVM CPU seconds per second of feeding) is the least load-dependent figure.

Usage: python benchmarks/streaming_bench.py [--rates 10000,25000,50000,100000] [--repeat 3] [--profile]
       python benchmarks/streaming_bench.py --parse-cost 60000
       python benchmarks/streaming_bench.py --catch-up 500000 [--repeat 3] [--file-rows 25000]
Not a test: numbers depend on the machine and its load (the load average is printed with them).
"""
from __future__ import annotations

import argparse
import json
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

from benchmarks.options import add_conf_option
from shopsense.config import SparkSettings, load_config
from shopsense.spark import get_spark
from shopsense.streaming.intervals import interval_seconds
from shopsense.streaming.runner import STREAMING_QUERIES, await_pipeline, start_pipeline
from shopsense.streaming.simulator import Simulator, load_pool

ROOT = Path(__file__).resolve().parent / "data" / "streaming"  # local files: the benchmark lands them itself
START = datetime(2025, 1, 1, 10, 0, tzinfo=timezone.utc)


class ProgressLog(StreamingQueryListener):
    """Input rows and durations of the micro-batches with input, per query name; every progress (--profile)."""

    def __init__(self):
        self.rows: dict[str, int] = {}
        self.durations: list[float] = []
        self.progress: list[dict] = []

    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        p = event.progress
        self.rows[p.name] = self.rows.get(p.name, 0) + p.numInputRows
        if p.numInputRows:
            self.durations.append(p.batchDuration / 1000)
        self.progress.append(json.loads(p.json))

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its child processes that are alive (the Spark JVM)."""
    def hwm(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    me = os.getpid()
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == me]
    return (hwm(me) + sum(hwm(c) for c in children)) / 1024


def cpu_seconds() -> float:
    """CPU time (user + system) used so far by this process and its living child processes (the Spark JVM)."""
    def used(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    me = os.getpid()
    return used(me) + sum(used(int(p)) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == me)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stage_files(config, pool, rate: int, args, staging: Path, duration: float) -> list[tuple[Path, datetime]]:
    """All files of one run, written before the clock starts: (path, start of its event-time span) in landing
    order. A file's on-time events lie in [span start, span start + --event-span), its late ones before: the
    first file whose events reach a time t is the first whose span starts at or after t (the one before it
    only comes close, its events stay below its span's end)."""
    rows_per_file = max(1, round(rate * args.file_interval))
    sim = Simulator(config, pool, batch_size=rows_per_file, interval=args.event_span, seed=rate, start_time=START,
                    late_fraction=0.01, dirty_fraction=0.01, anomaly_fraction=0.001)
    staging.mkdir(parents=True)
    files = []
    for k in range(1 + int(duration / args.file_interval)):
        lines, info = sim.batch_lines(k)
        path = staging / info.path.name
        path.write_text("\n".join(lines) + "\n")
        files.append((path, sim.span_start(k)))
    return files


def land(path: Path, input_dir: Path) -> float:
    now = time.time_ns()
    os.utime(path, ns=(now, now))
    os.link(path, input_dir / path.name)
    return time.monotonic()


def run_level(spark, pool, rate: int, args, duration: float) -> dict:
    home = ROOT / f"rate-{rate}"
    shutil.rmtree(home, ignore_errors=True)  # the benchmark's own folder only
    config = load_config(home=home)
    watermark = interval_seconds(config.stream_watermark)
    files = stage_files(config, pool, rate, args, home / "staged", duration)
    rows_per_file = max(1, round(rate * args.file_interval))
    input_dir = Path(config.stream_input_dir)
    input_dir.mkdir(parents=True)

    log = ProgressLog()
    spark.streams.addListener(log)
    pipeline = start_pipeline(spark, config, printer=None, console=False, progress=False)
    stop = threading.Event()
    waiter = threading.Thread(target=await_pipeline, args=(pipeline, stop), daemon=True)
    waiter.start()
    # Warm-up: the first file, processed by every query before the clock starts (first planning).
    land(files[0][0], input_dir)
    while min(log.rows.get(name, 0) for name in STREAMING_QUERIES[1:]) < rows_per_file:
        if not waiter.is_alive():
            raise SystemExit(f"the pipeline stopped during the warm-up: {pipeline.failure()}")
        time.sleep(0.1)
    log.rows.clear()
    log.durations.clear()
    log.progress.clear()

    out_dir = Path(config.stream_output_dir) / "sales_kpis"
    appeared: dict[str, float] = {}
    landed: list[tuple[float, datetime]] = []
    compiled_before = compilations(spark)
    began, cpu_began = time.monotonic(), cpu_seconds()
    for i, (path, span_start) in enumerate(files[1:]):
        due = began + i * args.file_interval
        while time.monotonic() < due:
            _poll(out_dir, appeared)
            time.sleep(0.02)
        landed.append((land(path, input_dir), span_start))
    time.sleep(args.file_interval)
    fed_seconds = time.monotonic() - began
    cores_used = (cpu_seconds() - cpu_began) / fed_seconds
    compiled = compilations(spark) - compiled_before
    fed_rows = len(landed) * rows_per_file
    slowest = min(log.rows.get(name, 0) for name in STREAMING_QUERIES[1:])
    settle_end = time.monotonic() + args.settle
    while time.monotonic() < settle_end:
        _poll(out_dir, appeared)
        time.sleep(0.02)
    stop.set()
    waiter.join()
    spark.streams.removeListener(log)

    latencies = []
    for folder, seen_at in appeared.items():
        for window_end in pq.read_table(out_dir / folder, columns=["window_end"]).column(0).to_pylist():
            close_at = window_end.replace(tzinfo=timezone.utc) + timedelta(seconds=watermark)
            closing = next((t for t, span_start in landed if span_start >= close_at), None)
            if closing is not None and seen_at >= closing:
                latencies.append(seen_at - closing)
    # Allowed in flight at the end: the last file (landed one interval ago) and one micro-batch's worth.
    allowed_behind = 2 * rows_per_file
    shutil.rmtree(home / "staged", ignore_errors=True)
    return {
        "rate": rate, "rows_per_file": rows_per_file, "files": len(landed),
        "input_rows_per_s": fed_rows / fed_seconds, "slowest_rows_per_s": slowest / fed_seconds,
        "behind_rows": fed_rows - slowest, "kept_up": fed_rows - slowest <= allowed_behind,
        "batch_p50": percentile(log.durations, 0.5), "batch_p95": percentile(log.durations, 0.95),
        "latency_p50": percentile(latencies, 0.5), "latency_p95": percentile(latencies, 0.95),
        "windows": len(latencies), "peak_mb": peak_rss_mb(), "cores_used": cores_used, "compiled": compiled, "log": log,
    }


def compilations(spark) -> int:
    """Classes Spark has compiled for generated code so far (its code cache's misses)."""
    return spark._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME().getCount()


def _poll(out_dir: Path, appeared: dict[str, float]) -> None:
    if out_dir.exists():
        now = time.monotonic()
        for folder in os.listdir(out_dir):
            if folder.startswith("batch_id=") and folder not in appeared and (out_dir / folder / "_SUCCESS").exists():
                appeared[folder] = now


PROFILED = ("addBatch", "queryPlanning", "getBatch", "latestOffset", "walCommit", "commitOffsets",
            "triggerExecution")


def jobs_per_batch(spark) -> dict[tuple[str, int], tuple[int, float]]:
    """(query run id, batch id) -> (Spark jobs, their tasks' CPU time in s), from Spark's status store
    (a micro-batch's jobs carry the query's run id as job group and `batch = N` in their description)."""
    store = spark.sparkContext._jsc.sc().statusStore()

    def stage_cpu(stage_id: int) -> float:
        try:
            return store.lastStageAttempt(stage_id).executorCpuTime() / 1e9
        except Exception:  # noqa: BLE001 - a stage the store no longer holds counts nothing
            return 0.0

    jobs = store.jobsList(None)
    counts: dict[tuple[str, int], tuple[int, float]] = {}
    for i in range(jobs.size()):
        job = jobs.apply(i)
        group, description = job.jobGroup(), job.description()
        if group.isEmpty() or description.isEmpty() or "batch = " not in description.get():
            continue
        batch = int(description.get().rsplit("batch = ", 1)[1].split(")")[0].split()[0])
        stage_ids = job.stageIds()
        took = sum(stage_cpu(stage_ids.apply(k)) for k in range(stage_ids.size()))
        n, total = counts.get((group.get(), batch), (0, 0.0))
        counts[(group.get(), batch)] = (n + 1, total + took)
    return counts


def print_profile(spark, progress: list[dict]) -> None:
    """Per query: medians of the progress' durationMs parts, of the Spark jobs per micro-batch and of the
    state operators' metrics, micro-batches with input and without (no-data) apart."""
    jobs = jobs_per_batch(spark)
    (ROOT / "profile.jsonl").write_text("".join(json.dumps(p) + "\n" for p in progress))  # for a closer look
    print("query | batches data/no-data | rows/batch | " + " | ".join(PROFILED) + " ms (data) | jobs | task CPU s | "
          "no-data: triggerExecution ms, jobs, task CPU s | state: partitions, instances, commit ms, rows, mem MB")
    for name in STREAMING_QUERIES:
        mine = [p for p in progress if p["name"] == name]
        data = [p for p in mine if p["numInputRows"]]
        empty = [p for p in mine if not p["numInputRows"]]

        def med(values):
            return statistics.median(values) if values else float("nan")

        parts = " | ".join(f"{med([p['durationMs'].get(k, 0) for p in data]):.0f}" for k in PROFILED)
        job = [jobs.get((p["runId"], p["batchId"]), (0, 0.0)) for p in data]
        job_empty = [jobs.get((p["runId"], p["batchId"]), (0, 0.0)) for p in empty]
        ops = [op for p in data for op in p.get("stateOperators") or []]
        state = (f"{med([o.get('numShufflePartitions', 0) for o in ops]):.0f}, "
                 f"{med([o.get('numStateStoreInstances', 0) for o in ops]):.0f}, "
                 f"{med([o.get('commitTimeMs', 0) for o in ops]):.0f}, {med([o.get('numRowsTotal', 0) for o in ops]):.0f}, "
                 f"{med([o.get('memoryUsedBytes', 0) for o in ops]) / 2**20:.1f}") if ops else "-"
        print(f"{name} | {len(data)}/{len(empty)} | {med([p['numInputRows'] for p in data]):.0f} | {parts} | {med([j[0] for j in job]):.0f} | "
              f"{med([j[1] for j in job]):.2f} | {med([p['durationMs'].get('triggerExecution', 0) for p in empty]):.0f}, "
              f"{med([j[0] for j in job_empty]):.0f}, {med([j[1] for j in job_empty]):.2f} | {state}", flush=True)


def catch_up(spark, pool, events: int, args) -> None:
    """The whole pipeline over `events` events already in the folder (`stream run --available-now`), on a
    fresh home per round: wall and CPU seconds (driver + JVM), CPU microseconds per event and the rate the
    CPU alone would allow on all cores (cores / CPU per event: the bound for any sustained rate)."""
    file_rows = args.file_rows
    rounds = []
    for round_no in range(args.repeat + 1):  # round 0 warms the JVM up and is not counted
        home = ROOT / "catch-up"
        shutil.rmtree(home, ignore_errors=True)
        config = load_config(home=home)
        sim = Simulator(config, pool, batch_size=file_rows, interval=args.event_span, seed=7, start_time=START,
                        late_fraction=0.01, dirty_fraction=0.01, anomaly_fraction=0.001)
        for k in range(max(1, events // file_rows)):
            sim.write_batch(k)
        log = ProgressLog()
        spark.streams.addListener(log)
        began, cpu_began = time.monotonic(), cpu_seconds()
        await_pipeline(start_pipeline(spark, config, available_now=True, printer=None, console=False, progress=False),
                       threading.Event())
        wall, cpu = time.monotonic() - began, cpu_seconds() - cpu_began
        spark.streams.removeListener(log)
        jobs = jobs_per_batch(spark)
        task_cpu = {name: sum(jobs.get((p["runId"], p["batchId"]), (0, 0.0))[1] for p in log.progress
                              if p["name"] == name) for name in STREAMING_QUERIES}
        print(f"round {round_no}{' (warm-up)' if round_no == 0 else ''}: {events:,} events in {wall:.1f} s, "
              f"CPU {cpu:.1f} s = {cpu / events * 1e6:.0f} us per event; task CPU s "
              + ", ".join(f"{name} {seconds:.1f}" for name, seconds in task_cpu.items()), flush=True)
        if round_no:
            rounds.append((wall, cpu))
    wall, cpu = statistics.median(w for w, _ in rounds), statistics.median(c for _, c in rounds)
    cores = os.cpu_count() or 1
    print(f"catch-up {events:,} events ({file_rows:,} per file): median wall {wall:.1f} s ({events / wall:,.0f} "
          f"events/s), CPU {cpu / events * 1e6:.0f} us per event -> CPU bound {cores / (cpu / events):,.0f} events/s "
          f"on {cores} cores; load average {os.getloadavg()[0]:.1f}")


def parse_cost(spark, pool, rows: int) -> None:
    from shopsense.streaming import queries, source
    from shopsense.streaming.runner import STREAM_SQL_CONF

    home = ROOT / "parse-cost"
    shutil.rmtree(home, ignore_errors=True)
    config = load_config(home=home)
    sim = Simulator(config, pool, batch_size=rows // 6, interval=20, seed=1, start_time=START)
    for k in range(6):
        sim.write_batch(k)
    for key, value in STREAM_SQL_CONF.items():
        spark.conf.set(key, value)
    spark.conf.set("spark.sql.shuffle.partitions", str(spark.sparkContext.defaultParallelism))
    parsed = source.parse_events(source.read_batch(spark, str(config.stream_input_dir)))
    parsed.write.parquet(str(home / "parsed"))
    kpis = {name: queries.sales_kpis(source.valid_events(df), config.stream_window) for name, df in
            (("sales_kpis from CSV (parse + validate)", parsed),
             ("sales_kpis from parsed Parquet", spark.read.parquet(str(home / "parsed"))))}
    work = {"parse + validate only": lambda: parsed.write.format("noop").mode("overwrite").save(),
            **{name: df.collect for name, df in kpis.items()}}
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name in work}
    for _ in range(6):  # the first rounds warm the JIT up; medians of the last 4
        for name, run in work.items():
            began, cpu_began = time.monotonic(), cpu_seconds()
            run()
            seconds[name].append((time.monotonic() - began, cpu_seconds() - cpu_began))
    medians = {name: (statistics.median(w for w, _ in values[2:]), statistics.median(c for _, c in values[2:]))
               for name, values in seconds.items()}
    for name, (wall, cpu) in medians.items():
        print(f"{name}: median {wall:.2f} s, CPU {cpu:.2f} s = {cpu / rows * 1e6:.0f} us per row "
              f"(wall {', '.join(f'{w:.2f}' for w, _ in seconds[name])})")
    _, (csv, _), (parquet, _) = medians.values()
    print(f"# {rows} rows: parsing + aggregating costs {csv / parquet:.1f}x aggregating parsed rows; "
          f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10000,25000,50000,100000", help="input rates to try, events/s, rising")
    parser.add_argument("--repeat", type=int, default=1, help="runs per rate (medians are reported)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of feeding per run")
    parser.add_argument("--file-interval", type=float, default=2.0, help="seconds between files")
    parser.add_argument("--event-span", type=float, default=20.0, help="event-time seconds per file")
    parser.add_argument("--warm-up", type=float, default=120.0,
                        help="seconds of feeding at the first rate before any is measured (a long-running stream "
                             "runs warm: the JIT compiles Spark's planner over minutes)")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds of latency polling after feeding")
    parser.add_argument("--master", default="local[2]")
    add_conf_option(parser, "spark.sql.codegen.cache.maxEntries=100")
    parser.add_argument("--profile", action="store_true",
                        help="also print, per rate and query, where a micro-batch's time goes (see print_profile)")
    parser.add_argument("--parse-cost", type=int, metavar="ROWS", help="measure parsing once instead (see above)")
    parser.add_argument("--catch-up", type=int, metavar="EVENTS",
                        help="instead, CPU per event of an --available-now run over EVENTS events (see catch_up)")
    parser.add_argument("--file-rows", type=int, default=25000, help="--catch-up: events per file")
    args = parser.parse_args()

    # The status store keeps enough jobs for --profile to count a whole run's.
    spark = get_spark(SparkSettings(master=args.master, app_name="shopsense-streaming-bench",
                                    extra={"spark.ui.retainedJobs": "100000", "spark.ui.retainedStages": "100000",
                                           **dict(args.conf)}))
    pool, origin = load_pool(load_config(home=ROOT), "generator", seed=1)
    print(f"# shopsense streaming benchmark, master {args.master}, cores {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}, source {origin}")
    print(f"# {' '.join(sys.argv)}")
    if args.parse_cost:
        parse_cost(spark, pool, args.parse_cost)
        return
    if args.catch_up:
        catch_up(spark, pool, args.catch_up, args)
        return
    print("rate events/s | rows/file | input rows/s | slowest query rows/s | behind rows | kept up | "
          "batch p50/p95 s | latency p50/p95 s | windows | peak MB | CPU cores used | classes compiled")
    best = None
    rates = [int(r) for r in args.rates.split(",")]
    if args.warm_up:
        warm = run_level(spark, pool, rates[0], args, args.warm_up)
        print(f"# warm-up: {args.warm_up:.0f} s at {rates[0]} events/s (not reported), {warm['compiled']} classes compiled")
    for rate in rates:
        runs = [run_level(spark, pool, rate, args, args.duration) for _ in range(args.repeat)]
        if args.profile:
            print_profile(spark, runs[-1]["log"].progress)
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key not in ("kept_up", "log")}
        kept_up = sum(r["kept_up"] for r in runs) * 2 > len(runs)
        print(f"{rate} | {med['rows_per_file']:.0f} | {med['input_rows_per_s']:.0f} | {med['slowest_rows_per_s']:.0f} | "
              f"{med['behind_rows']:.0f} | {'yes' if kept_up else 'no'} | {med['batch_p50']:.2f}/{med['batch_p95']:.2f} | "
              f"{med['latency_p50']:.1f}/{med['latency_p95']:.1f} | {med['windows']:.0f} | {med['peak_mb']:.0f} | "
              f"{med['cores_used']:.2f} | {med['compiled']:.0f}",
              flush=True)
        if not kept_up:
            break
        best = rate
    print(f"# highest sustained rate: {best if best is not None else 'none of the rates'} events/s; "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    spark.stop()


if __name__ == "__main__":
    main()
