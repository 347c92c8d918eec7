"""One measured run, in its own process: engine start-up, ingest, analyze (end to end), on one CSV.

    python -m benchmarks.worker --engine spark|duckdb --csv FILE --home DIR --cores N --out RESULT.json

The parent (benchmarks.run) samples this process tree's memory and CPU from outside; this process records
when each phase started and ended (wall clock `time.time()`, comparable across processes) and, for Spark,
how many jobs and stages each phase ran.
"""
from __future__ import annotations

import argparse
import json
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


def run_spark(csv: Path, home: Path, cores: int) -> dict:
    from shopsense.analytics.pipeline import analyze
    from shopsense.ingest.pipeline import ingest
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
    spark.stop()
    return {"phases": phases.marks, "spark": counts, "rows_clean": summary["rows_clean"]}


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
