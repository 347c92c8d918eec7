"""Where ShopSense spends its time, with measures that stay meaningful on a busy machine.

    python -m benchmarks.spark_profile [--rows 50000] [--reps 2] [--cores 2] [--only ingest] [--conf K=V]
                                       [--rows-per-partition N]

One warm Spark session; `ingest` and every step of `analyze` run `--reps` times. For each step: wall time,
CPU seconds of this process tree (Python + JVM: unlike wall time, barely inflated by other processes
competing for the cores), and the number of Spark jobs and stages it ran (each job is at least one pass
over its input). Use it to compare a change before/after; `make bench` gives the real timings.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.inputs import input_csv
from benchmarks.options import add_conf_option
from shopsense.config import SparkSettings, load_config


def tree_cpu() -> float:
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class Meter:
    def __init__(self, spark) -> None:
        self.spark = spark
        self.rows: dict[str, list[tuple[float, float, int, int]]] = {}
        self._group = 0

    def __call__(self, name: str, fn, *args):
        self._group += 1
        group = f"g{self._group}"
        self.spark.sparkContext.setJobGroup(group, name)
        wall, cpu = time.perf_counter(), tree_cpu()
        value = fn(*args)
        wall, cpu = time.perf_counter() - wall, tree_cpu() - cpu
        tracker = self.spark.sparkContext.statusTracker()
        jobs = tracker.getJobIdsForGroup(group)
        stages = sum(len(info.stageIds) for info in map(tracker.getJobInfo, jobs) if info)
        self.rows.setdefault(name, []).append((wall, cpu, len(jobs), stages))
        return value

    def table(self) -> str:
        lines = [f"{'step':<34} {'wall s':>8} {'cpu s':>8} {'jobs':>5} {'stages':>6}"]
        for name, runs in self.rows.items():
            wall, cpu = (statistics.median(r[i] for r in runs) for i in (0, 1))
            lines.append(f"{name:<34} {wall:8.2f} {cpu:8.2f} {runs[-1][2]:5d} {runs[-1][3]:6d}")
        return "\n".join(lines)


def ingest_steps(meter: Meter, spark, csv: Path, work: Path) -> None:
    """The steps of `ingest`, one by one, and Spark ML's own Spearman for comparison with ShopSense's."""
    from pyspark import StorageLevel
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.stat import Correlation
    from pyspark.sql import functions as F

    from shopsense.ingest import correlation
    from shopsense.io import stage_parquet
    from shopsense.ingest.stage import classified_rows, clean_rows, quarantined_rows
    from shopsense.ingest.read import read_header, read_raw
    from shopsense.ingest.split import count_outcomes, deduplicate
    from shopsense.ingest.validate import REASON_BITS, validate_and_type

    header = read_header(spark, str(csv))
    raw = lambda: read_raw(spark, str(csv), header)  # noqa: E731
    meter("  scan (count)", lambda: raw().count())
    meter("  scan + dedupe (count)", lambda: deduplicate(raw()).count())
    # The rules as ingest runs them (reason bits; the typed values are pruned, as nothing reads them).
    meter("  scan + validate (aggregate)", lambda: validate_and_type(raw()).agg(F.bit_or(REASON_BITS)).first())
    classified = classified_rows(raw()).persist(StorageLevel.MEMORY_AND_DISK)
    meter("  scan+dedupe+validate+count+cache", count_outcomes, classified)
    clean = meter("  write clean Parquet", stage_parquet, clean_rows(classified), str(work / "clean"))
    quarantine = quarantined_rows(classified, header.sources)
    meter("  write quarantine Parquet", stage_parquet, quarantine, str(work / "quarantine"))
    classified.unpersist()
    df = spark.read.parquet(clean.location)
    meter("  correlations (ShopSense)", correlation.correlations, df, 0.85)
    features = list(correlation.FEATURES)
    vectors = VectorAssembler(inputCols=features, outputCol="v").transform(
        df.select(*[F.col(f).cast("double") for f in features])).select("v")
    meter("  (reference) Spark ML spearman", lambda: Correlation.corr(vectors, "v", "spearman").head())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--only", choices=("ingest", "analyze"))
    parser.add_argument("--rows-per-partition", type=int, metavar="N",
                        help="Config.analyze_rows_per_partition (how finely analyze's cache is partitioned)")
    add_conf_option(parser, "spark.driver.extraJavaOptions=")
    args = parser.parse_args()

    from shopsense.analytics import eda
    from shopsense.analytics.basket import basket_stats
    from shopsense.analytics.stage import analyze, load_purchases
    from shopsense.analytics.queries import QUERIES, VIEW, release, run_query, save_csv
    from shopsense.ingest.stage import ingest
    from shopsense.spark import get_spark

    home = Path(tempfile.mkdtemp(prefix="shopsense-profile-"))
    settings = SparkSettings(master=f"local[{args.cores}]", log_file=str(home / "spark.log"), extra=dict(args.conf))
    config = load_config(home=home).with_overrides(spark=settings)
    if args.rows_per_partition:
        config = config.with_overrides(analyze_rows_per_partition=args.rows_per_partition)
    csv = input_csv(args.rows)
    spark = get_spark(settings)
    meter = Meter(spark)
    meter("warm-up ingest (not a measure)", ingest, spark, config, csv)
    for _ in range(args.reps):
        if args.only != "analyze":
            meter("ingest (whole)", ingest, spark, config, csv)
            ingest_steps(meter, spark, csv, Path(tempfile.mkdtemp(dir=home)))
        if args.only != "ingest":
            meter("analyze (whole)", analyze, spark, config)
            purchases = meter("  load + cache", lambda: load_purchases(spark, config))
            meter("  totals (fills the cache)", eda.totals, spark, VIEW)
            meter("  profile", eda.profile, spark, VIEW)
            results = []
            for query in QUERIES:
                if "basket_column" in query.params:
                    meter(f"  basket_stats {query.params['basket_column']}", basket_stats, purchases,
                          query.params["basket_column"], config)
                results.append(meter(f"  {query.name} (+ its CSV)",
                                     lambda q=query: save_csv(run_query(spark, q, config), config.queries_dir)))
            release(results)
            purchases.unpersist()
    print(f"{args.rows:,} rows, local[{args.cores}], load average {psutil.getloadavg()[0]:.1f}")
    print(meter.table())
    spark.stop()


if __name__ == "__main__":
    main()
