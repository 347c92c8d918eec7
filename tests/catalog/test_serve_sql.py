"""`shopsense serve-sql` in its own process, queried by beeline (from the pyspark wheel) and PyHive while
this process (another JVM) writes new outputs."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyspark
import pytest

from shopsense.analytics.stage import analyze
from shopsense.config import CONFIG_FILE, load_config
from shopsense.generate import generate, write_csv
from shopsense.ingest.stage import ingest

pytestmark = pytest.mark.slow
hive = pytest.importorskip("pyhive.hive")

BEELINE = Path(pyspark.__file__).parent / "bin" / "beeline"
START_TIMEOUT = 240  # seconds: a cold JVM on a busy 2-core machine
REFRESH_MARGIN = 15  # seconds for a new output to reach the server's tables


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(spark, tmp_path_factory, settings_kept):
    """A home with ingest + analyze outputs (run here, in-process) and serve-sql on a free loopback port."""
    home = tmp_path_factory.mktemp("served")
    (home / CONFIG_FILE).write_text('sql_refresh_seconds = 0.2\n[spark]\nmaster = "local[1]"\nshuffle_partitions = 2\n')
    config = load_config(home=home)
    with settings_kept():
        ingest(spark, config, write_csv(generate(1500, seed=5), home / "first.csv"))
        analyze(spark, config)
    spark.createDataFrame([(1, 10.0)], "window int, revenue double").write.parquet(  # a stream micro-batch
        f"{config.stream_output_dir}/sales_kpis/batch_id=0")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "shopsense", "--home", str(home), "serve-sql", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=home)
    lines = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.poll() is None:
        lines.append(server.stdout.readline())
        if "JDBC URL" in lines[-1]:
            break
    assert "JDBC URL: jdbc:hive2://127.0.0.1:%d/shopsense" % port in "".join(lines), "".join(lines)
    yield config, port, server, lines
    if server.poll() is None:
        server.kill()
        server.wait()


def pyhive_rows(port: int, query: str, cursor=None) -> list[tuple]:
    cursor = cursor or hive.connect(host="127.0.0.1", port=port, database="shopsense").cursor()
    cursor.execute(query)
    return cursor.fetchall()


def test_beeline_and_pyhive_see_the_kpis_of_purchases(served):
    config, port, _, _ = served
    kpis = json.loads(config.kpis_json.read_text())
    query = "SELECT count(*) AS n, round(sum(purchase_amount_usd), 2) AS revenue FROM purchases"
    assert pyhive_rows(port, query) == [(kpis["rows"], kpis["total_revenue_usd"])]
    env = {**os.environ, "SPARK_HOME": str(BEELINE.parent.parent)}
    done = subprocess.run([str(BEELINE), "-u", f"jdbc:hive2://127.0.0.1:{port}/shopsense", "--silent=true",
                           "--outputformat=csv2", "-e", query], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines[-2].endswith("n,revenue") and lines[-1] == f"{kpis['rows']},{kpis['total_revenue_usd']}"


def test_a_query_table_equals_its_csv(served):
    config, port, _, _ = served
    cursor = hive.connect(host="127.0.0.1", port=port, database="shopsense").cursor()
    cursor.execute("SELECT * FROM subscription_impact")
    table = pd.DataFrame(cursor.fetchall(), columns=[d[0].split(".")[-1] for d in cursor.description])
    table = table.apply(lambda column: column.map(lambda v: float(v) if isinstance(v, Decimal) else v))
    csv = pd.read_csv(config.queries_dir / "subscription_impact.csv")
    pd.testing.assert_frame_equal(table, csv, check_dtype=False)
    comments = {r[0]: r[2] for r in pyhive_rows(port, "DESCRIBE purchases", cursor)}
    assert comments["season"] == "CSV column 'Season'; one of Winter, Spring, Summer, Fall"


def test_new_outputs_are_seen_without_a_restart(served, spark, settings_kept):
    config, port, _, _ = served
    cursor = hive.connect(host="127.0.0.1", port=port, database="shopsense").cursor()
    assert pyhive_rows(port, "SELECT count(*) FROM purchases", cursor) == [(1500,)]
    with settings_kept():
        summary = ingest(spark, config, write_csv(generate(700, seed=6), config.home / "second.csv"))
    # Every answer is a whole snapshot, the old or the new; the new within the refresh (0.2 s) plus a busy
    # machine's margin (docs/sql.md: commit to visible, median 1.8 s, max 5.9 s).
    counts = [pyhive_rows(port, "SELECT count(*) FROM purchases", cursor)[0][0]]
    deadline = time.monotonic() + REFRESH_MARGIN
    while counts[-1] != summary.rows_clean and time.monotonic() < deadline:
        counts.append(pyhive_rows(port, "SELECT count(*) FROM purchases", cursor)[0][0])
    assert set(counts) <= {1500, summary.rows_clean} and counts[-1] == summary.rows_clean, counts
    # An append-only stream output: a new micro-batch folder is read by the next query.
    assert pyhive_rows(port, "SELECT count(*) FROM stream_sales_kpis", cursor) == [(1,)]
    spark.createDataFrame([(2, 20.0)], "window int, revenue double").write.parquet(
        f"{config.stream_output_dir}/sales_kpis/batch_id=1")
    assert pyhive_rows(port, "SELECT sum(revenue) FROM stream_sales_kpis", cursor) == [(30.0,)]


def test_sigterm_stops_the_server_cleanly(served):
    _, port, server, _ = served
    server.send_signal(signal.SIGTERM)
    rest = server.communicate(timeout=120)[0]
    assert server.returncode == 0 and "stopped cleanly" in rest, rest
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_a_non_loopback_host_needs_allow_remote(tmp_path):
    done = subprocess.run([sys.executable, "-m", "shopsense", "--home", str(tmp_path), "serve-sql",
                           "--host", "0.0.0.0", "--port", str(free_port())], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: --host 0.0.0.0 would let other machines query every table")
