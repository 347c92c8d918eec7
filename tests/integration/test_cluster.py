"""The same pipeline on a real Spark standalone cluster gives the same results as local mode."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from integration.standalone import standalone_cluster
from shopsense.config import load_config

pytestmark = pytest.mark.slow
STAGES = "ingest,analyze,train"
MODELS = ("promo", "season", "recommender")


def settings_toml(config) -> str:
    """shopsense.toml giving a cluster run the local run's shuffle partitions and (tiny) model settings."""
    ml = config.ml
    return (f"[spark]\nshuffle_partitions = {config.spark.shuffle_partitions}\n\n[ml]\n"
            f"promo_num_trees = {list(ml.promo_num_trees)}\npromo_max_depth = {list(ml.promo_max_depth)}\n"
            f"season_num_trees = {ml.season_num_trees}\nseason_max_depth = {ml.season_max_depth}\n"
            f"als_max_iter = {ml.als_max_iter}\n")


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


def run_stages(home: Path, csv: Path, master: str, settings: str) -> subprocess.CompletedProcess:
    home.mkdir(exist_ok=True)
    (home / "shopsense.toml").write_text(settings)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    return subprocess.run(
        [sys.executable, "-m", "shopsense", "--home", str(home), "--master", master,
         "run", "--input", str(csv), "--only", STAGES],
        capture_output=True, text=True, env=env, timeout=1500,
    )


def rows_of(folder: Path) -> pd.DataFrame:
    frame = pd.read_parquet(folder)
    if "reasons" in frame:  # lists do not sort
        frame["reasons"] = frame["reasons"].map(" ".join)
    return frame.sort_values(list(frame.columns), na_position="first").reset_index(drop=True)


def test_ingest_analyze_and_train_on_a_standalone_cluster_equal_local_mode(pipeline_run, tmp_path):
    """The local reference is the session's in-process pipeline run (tests/conftest.py): the cluster run
    ingests the same generated CSV (with bad rows of every kind) with the same settings."""
    reference = pipeline_run[0]
    local, cluster = reference.home, tmp_path / "cluster"
    (tmp_path / "spark").mkdir()
    with standalone_cluster(tmp_path / "spark") as url:
        out = run_stages(cluster, reference.default_raw_csv, url, settings_toml(reference))
        assert out.returncode == 0, out.stderr[-3000:]
        # The application really ran on the cluster: the worker launched an executor for it.
        assert list((tmp_path / "spark/worker").glob("app-*/*/stderr"))
    remote = load_config(home=cluster)  # the settings file said what the local run used
    assert (remote.ml, remote.spark.shuffle_partitions) == (reference.ml, reference.spark.shuffle_partitions)

    for folder in ("data/processed/shopping", "data/quarantine/shopping"):
        expected = rows_of(local / folder)
        pd.testing.assert_frame_equal(expected, rows_of(cluster / folder), obj=folder)
        assert len(expected) > 0, folder  # the reference run plants bad rows: both folders hold rows
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
        a, b = (json.loads((home / "models" / model / "metrics.json").read_text()) for home in (local, cluster))
        for key in ("data_fingerprint", "split", "params", "excluded_features", "metrics"):
            assert_same(a.get(key), b.get(key), f"{model}.{key}")
