"""The same pipeline on a real Spark standalone cluster gives the same results as local mode."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from integration.standalone import shopsense_on
from shopsense.config import load_config
from shopsense.io import local_current_folder

pytestmark = pytest.mark.slow
MODELS = ("promo", "season", "recommender")


def assert_same(a, b, where: str) -> None:
    """Equal JSON documents; floats may differ in their last digits (sums in another order on a cluster)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def rows_of(output: str) -> pd.DataFrame:
    frame = pd.read_parquet(local_current_folder(output))  # the output's committed snapshot
    if "reasons" in frame:  # lists do not sort
        frame["reasons"] = frame["reasons"].map(" ".join)
    return frame.sort_values(list(frame.columns), na_position="first").reset_index(drop=True)


def test_ingest_analyze_and_train_on_a_standalone_cluster_equal_local_mode(pipeline_run, cluster_run):
    """The cluster run (tests/integration/conftest.py) ingests the local reference run's generated CSV (with bad
    rows of every kind) with the same settings; its data and models went to a data root outside its home."""
    reference = pipeline_run[0]
    local, cluster = reference.home, cluster_run.home
    assert cluster_run.new_executor_logs  # the application really ran on the cluster: executors were launched
    # Spark's own console output (log lines, progress bars) goes to logs/spark.log, not to the user.
    for noise in ("WARN ", "INFO ", "[Stage ", "log4j", "Traceback"):
        assert noise not in cluster_run.console, cluster_run.console
    assert (cluster / "logs/spark.log").exists() and "ShopSense run summary" in cluster_run.console
    remote = load_config(home=cluster)  # the settings file said what the local run used
    assert (remote.ml, remote.spark.shuffle_partitions) == (reference.ml, reference.spark.shuffle_partitions)

    for local_output, cluster_output in ((reference.processed_dir, remote.processed_dir),
                                         (reference.quarantine_rows_dir, remote.quarantine_rows_dir)):
        expected = rows_of(local_output)
        pd.testing.assert_frame_equal(expected, rows_of(cluster_output), obj=cluster_output)
        assert len(expected) > 0, local_output  # the reference run plants bad rows: both folders hold rows
    for name in ("ingest_summary.json", "kpis.json"):
        a, b = (json.loads((home / "reports" / name).read_text()) for home in (local, cluster))
        for volatile in ("seconds", "input", "outputs"):
            a.pop(volatile, None), b.pop(volatile, None)
        assert a == b, name
    queries = sorted(p.name for p in (local / "reports/queries").glob("*.csv"))
    assert len(queries) >= 9
    for name in queries:
        pd.testing.assert_frame_equal(pd.read_csv(local / "reports/queries" / name),
                                      pd.read_csv(cluster / "reports/queries" / name), obj=name)
    for model in MODELS:
        a, b = (json.loads(Path(urlparse(config.model_dir(model)).path, "metrics.json").read_text())
                for config in (reference, remote))
        for key in ("data_fingerprint", "split", "params", "excluded_features", "metrics"):
            assert_same(a.get(key), b.get(key), f"{model}.{key}")


STREAM_VOLATILE = ("processed_at", "avg_ingestion_lag_s", "max_ingestion_lag_s", "max_file_to_processing_s")


def stream_outputs(home: Path) -> dict[str, pd.DataFrame]:
    """The durable outputs of the five streaming queries, without the wall-clock columns."""
    from shopsense.streaming.runner import QUERY_NAMES

    frames = {}
    for name in QUERY_NAMES:
        frame = pd.concat([pd.read_parquet(batch).assign(batch_id=int(batch.name.split("=")[1]))
                           for batch in sorted((home / "stream/output" / name).glob("batch_id=*"))
                           if (batch / "_SUCCESS").exists()])
        frame = frame.drop(columns=[c for c in STREAM_VOLATILE if c in frame])
        for column in frame.columns[frame.dtypes == object]:
            frame[column] = frame[column].astype(str)
        frames[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return frames


def test_stream_available_now_on_a_standalone_cluster_equals_local_mode(spark_cluster, shopsense_in_process, tmp_path):
    """The same simulated files, `stream run --available-now` in local mode and on the cluster: the durable
    outputs (written by the executors through Spark's writer) are equal. The local run is the command
    in-process on the shared local session; the cluster run is the command in a driver process of its own."""
    homes = {"local": tmp_path / "local", "cluster": tmp_path / "cluster"}
    out = shopsense_in_process(
        "--home", homes["local"], "stream", "simulate", "--batches", "6", "--batch-size", "300", "--interval",
        "60", "--fast", "--seed", "7", "--start-time", "2025-01-01T10:00:00", "--source", "generator",
        "--late-fraction", "0.05", "--dirty-fraction", "0.02", "--anomaly-fraction", "0.01")
    assert out.returncode == 0, out.stderr[-3000:]
    shutil.copytree(homes["local"] / "stream/input", homes["cluster"] / "stream/input")  # file times kept
    out = shopsense_in_process("--home", homes["local"], "--master", "local[2]", "stream", "run", "--available-now",
                               "--no-console")
    assert out.returncode == 0, out.stderr[-3000:]
    before = spark_cluster.executor_logs()
    out = shopsense_on(spark_cluster.url, homes["cluster"], "stream", "run", "--available-now", "--no-console")
    assert out.returncode == 0, out.stderr[-3000:]
    assert spark_cluster.executor_logs() - before
    local, cluster = stream_outputs(homes["local"]), stream_outputs(homes["cluster"])
    assert len(local["sales_kpis"]) >= 3 and len(local["anomalies"]) >= 1
    for name, frame in local.items():
        pd.testing.assert_frame_equal(frame, cluster[name], obj=name)
