"""One measured run, in its own process: engine start-up, ingest, analyze (end to end), on one CSV.

    python -m benchmarks.worker --engine spark|duckdb --csv FILE --home DIR --cores N --out RESULT.json

The parent (benchmarks.run) samples this process tree's memory and CPU from outside; this process records
when each phase started and ended (wall clock `time.time()`, comparable across processes) and, for Spark,
how many jobs and stages each phase ran and where the JVM's CPU went, by thread (tasks, JIT compilers, GC).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from shopsense.config import SparkSettings, load_config


class Phases:
    def __init__(self) -> None:
        self.marks: dict[str, dict] = {}

    def run(self, name: str, fn, *args):
        start = time.time()
        value = fn(*args)
        self.marks[name] = {"start": start, "end": time.time()}
        return value


def spark_jobs(spark, group: str) -> dict:
    tracker = spark.sparkContext.statusTracker()
    jobs = tracker.getJobIdsForGroup(group)
    stages = sum(len(info.stageIds) for info in map(tracker.getJobInfo, jobs) if info)
    return {"jobs": len(jobs), "stages": stages}


# Thread-name prefixes (Linux keeps the first 15 characters) of the JVM's CPU consumers. A cold run's JIT
# compilers cost about 75 CPU s whatever the size (docs/benchmarks.md).
THREAD_GROUPS = (("tasks", "Executor task"), ("jit_c2", "C2 Compiler"), ("jit_c1", "C1 Compiler"),
                 ("gc", "GC Thread"))


def jvm_thread_cpu(pid: int, proc: Path = Path("/proc")) -> dict[str, float]:
    """CPU seconds of a running process's threads so far, per THREAD_GROUPS (+ `other`); {} without /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    groups = dict.fromkeys([*(group for group, _ in THREAD_GROUPS), "other"], 0.0)
    for stat in (proc / str(pid) / "task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the thread ended
            continue
        name, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        group = next((group for group, prefix in THREAD_GROUPS if name.startswith(prefix)), "other")
        groups[group] += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return {group: round(seconds, 2) for group, seconds in groups.items()} if any(groups.values()) else {}


def run_spark(csv: Path, home: Path, cores: int) -> dict:
    from shopsense.analytics.stage import analyze
    from shopsense.ingest.stage import ingest
    from shopsense.spark import get_spark

    config = load_config(home=home)
    settings = SparkSettings(master=f"local[{cores}]", app_name="shopsense-bench", log_file=str(home / "spark.log"))
    config = config.with_overrides(spark=settings)
    phases = Phases()
    spark = phases.run("startup", get_spark, config.spark)
    counts = {}
    for name, fn, args in (("ingest", ingest, (spark, config, csv)), ("analyze", analyze, (spark, config))):
        spark.sparkContext.setJobGroup(name, name)
        out = phases.run(name, fn, *args)
        counts[name] = spark_jobs(spark, name)
        if name == "ingest":
            summary = out
    threads = jvm_thread_cpu(spark._jvm.ProcessHandle.current().pid())
    spark.stop()
    return {"phases": phases.marks, "spark": counts, "rows_clean": summary.rows_clean,
            "jvm_thread_cpu_s": threads}


def run_duckdb(csv: Path, home: Path, cores: int) -> dict:
    from benchmarks import duck

    config = load_config(home=home)
    phases = Phases()
    con = phases.run("startup", duck.connect, cores)
    summary = phases.run("ingest", duck.ingest, con, config, csv)
    phases.run("analyze", duck.analyze, con, config)
    con.close()
    return {"phases": phases.marks, "rows_clean": summary["rows_clean"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=("spark", "duckdb"), required=True)
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--cores", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    run = run_spark if args.engine == "spark" else run_duckdb
    result = run(args.csv.resolve(), args.home.resolve(), args.cores)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
