"""How soon a running `shopsense serve-sql` answers with a newly committed output (docs/sql.md).

A writer (this process, its own Spark session) commits a new snapshot of `purchases` with a known row count;
a PyHive client then repeats `SELECT count(*)` until the count is the new one. Printed: median and max of
the commit-to-visible time and of one query's time.

    PYTHONPATH=src .venv/bin/python benchmarks/sql_refresh.py --reps 10
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pyhive import hive

from shopsense import io
from shopsense.config import CONFIG_FILE, SparkSettings, load_config
from shopsense.spark import get_spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="shopsense-sql-refresh-"))
    (home / CONFIG_FILE).write_text('[spark]\nmaster = "local[1]"\n')
    config = load_config(home=home)
    spark = get_spark(SparkSettings(master="local[1]", app_name="writer"))
    io.write_parquet(spark.range(1).withColumnRenamed("id", "customer_id"), config.processed_dir)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "shopsense", "--home", str(home), "serve-sql", "--port", str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        while "JDBC URL" not in server.stdout.readline():
            pass
        cursor = hive.connect(host="127.0.0.1", port=port, database="shopsense").cursor()
        visible, query = [], []
        for rows in range(2, args.reps + 2):
            io.write_parquet(spark.range(rows).withColumnRenamed("id", "customer_id"), config.processed_dir)
            committed = time.perf_counter()
            while True:
                started = time.perf_counter()
                cursor.execute("SELECT count(*) FROM purchases")
                count = cursor.fetchall()[0][0]
                query.append(time.perf_counter() - started)
                if count == rows:
                    visible.append(time.perf_counter() - committed)
                    break
        print(f"sql_refresh_seconds {config.sql_refresh_seconds}, {args.reps} commits")
        print(f"commit -> visible: median {statistics.median(visible):.2f} s, max {max(visible):.2f} s")
        print(f"one query: median {statistics.median(query):.3f} s ({len(query)} queries)")
    finally:
        server.terminate()
        server.wait(timeout=120)


if __name__ == "__main__":
    main()
