"""ONE standalone cluster for the package, and ONE `shopsense run --only ingest,analyze,train` on it whose data
outputs and models go to a `data_root` outside the home (a `file:` URI: on a real cluster, HDFS or an object
store). Its reference is the session's local-mode run of the same CSV with the same settings (`pipeline_run`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.standalone import Cluster, shopsense_on, standalone_cluster

STAGES = "ingest,analyze,train"


@dataclass(frozen=True)
class ClusterRun:
    home: Path
    data_root: str  # the file: URI the run's data outputs and models went to
    new_executor_logs: set[Path]  # the executors the worker launched for it
    console: str  # what the driver process printed (stdout and stderr)


@pytest.fixture(scope="package")
def spark_cluster(tmp_path_factory) -> Cluster:
    folder = tmp_path_factory.mktemp("spark")
    with standalone_cluster(folder) as url:
        yield Cluster(url, folder / "worker")


def settings_toml(config, data_root: str) -> str:
    """shopsense.toml giving a cluster run the local run's shuffle partitions and (tiny) model settings."""
    ml = config.ml
    return (f'data_root = "{data_root}"\n\n[spark]\nshuffle_partitions = {config.spark.shuffle_partitions}\n\n[ml]\n'
            f"promo_num_trees = {list(ml.promo_num_trees)}\npromo_max_depth = {list(ml.promo_max_depth)}\n"
            f"season_num_trees = {ml.season_num_trees}\nseason_max_depth = {ml.season_max_depth}\n"
            f"als_max_iter = {ml.als_max_iter}\n")


@pytest.fixture(scope="package")
def cluster_run(pipeline_run, spark_cluster, tmp_path_factory) -> ClusterRun:
    reference = pipeline_run[0]
    tmp = tmp_path_factory.mktemp("cluster_run")
    home, data_root = tmp / "home", (tmp / "elsewhere" / "shopsense").as_uri()
    home.mkdir()
    (home / "shopsense.toml").write_text(settings_toml(reference, data_root))
    before = spark_cluster.executor_logs()
    out = shopsense_on(spark_cluster.url, home, "run", "--input", str(reference.default_raw_csv), "--only", STAGES)
    assert out.returncode == 0, out.stderr[-3000:]
    return ClusterRun(home, data_root, spark_cluster.executor_logs() - before, out.stdout + out.stderr)
