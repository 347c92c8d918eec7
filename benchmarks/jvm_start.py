"""Does the JVM class archive (`shopsense class-archive`) shorten a cold Spark start enough to feel?

Records the archive into a temporary cache folder, then runs, in fresh processes and alternately with
`[spark] class_archive` false and true, what every command does first: start a session (`get_spark`) and
run the archive's small fixed workload (`shopsense.class_archive.workload`). Prints the median wall time of
each (interpreter start included) and their ratio.

    PYTHONPATH=src:. .venv/bin/python -m benchmarks.jvm_start --reps 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _session(use_archive: bool, scratch: str) -> None:
    """Child process: the session and the workload."""
    from pathlib import Path

    from shopsense.class_archive import workload
    from shopsense.config import SparkSettings
    from shopsense.spark import get_spark

    spark = get_spark(SparkSettings(master="local[2]", shuffle_partitions=2, class_archive=use_archive,
                                    log_file=str(Path(scratch) / "spark.log")))
    workload(spark, scratch)
    spark.stop()


def _timed_child(use_archive: bool, scratch: str) -> float:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "benchmarks.jvm_start", "--child", str(int(use_archive)), scratch],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _session(args.child[0] == "1", args.child[1])
        return
    from shopsense import class_archive
    from shopsense.spark import check_java

    with tempfile.TemporaryDirectory(prefix="jvm-start-") as scratch:
        os.environ[class_archive.ENV_CACHE_DIR] = scratch  # the user's cache is left alone; children inherit it
        started = time.monotonic()
        archive = class_archive.build(check_java())
        print(f"recorded {archive.stat().st_size / 2**20:,.0f} MiB in {time.monotonic() - started:.1f} s; "
              f"load average {os.getloadavg()[0]:.1f}")
        times: dict[str, list[float]] = {"without archive": [], "with archive": []}
        for _ in range(args.reps):  # alternated, so that other load on the machine hits both alike
            times["without archive"].append(_timed_child(False, scratch))
            times["with archive"].append(_timed_child(True, scratch))
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.2f} s "
              f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})")
    ratio = statistics.median(times["with archive"]) / statistics.median(times["without archive"])
    print(f"with / without: {ratio:.2f}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
