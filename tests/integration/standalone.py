"""A real Spark standalone cluster (one master, one worker) on loopback, from the pyspark installation.

Started with Spark's own `spark-class` launcher; every process it starts is stopped on exit, also when the
test body fails.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyspark


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_log(log: Path, needle: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name} exited early:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    raise TimeoutError(f"'{needle}' not seen in {log} after {timeout}s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def standalone_cluster(workdir: Path, cores: int = 2, memory: str = "2g"):
    """Yield the master URL `spark://127.0.0.1:PORT` of a running master + worker."""
    spark_home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_WORKER_DIR": str(workdir / "worker"), "SPARK_LOG_DIR": str(workdir),
           # the drivers' JVM options of the suite (tests/conftest.py) for the master and worker too
           "SPARK_DAEMON_JAVA_OPTS": os.environ.get("SPARK_SUBMIT_OPTS", "")}
    # ... and for the executors the worker starts (they inherit its environment; the JVM reads this variable)
    worker_env = {**env, "JAVA_TOOL_OPTIONS": os.environ.get("SPARK_SUBMIT_OPTS", "")}
    spark_class = str(spark_home / "bin" / "spark-class")
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []

    def start(name: str, args: list[str], env: dict[str, str] = env) -> tuple[subprocess.Popen, Path]:
        log = workdir / f"{name}.log"
        proc = subprocess.Popen([spark_class, *args], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        procs.append(proc)
        return proc, log

    try:
        master, master_log = start("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                              "--port", str(port), "--webui-port", str(free_port())])
        _wait_for_log(master_log, "I have been elected leader", master)
        worker, worker_log = start("worker", ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                              "--cores", str(cores), "--memory", memory,
                                              "--webui-port", str(free_port()), url], worker_env)
        _wait_for_log(worker_log, "Successfully registered with master", worker)
        yield url
    finally:
        for proc in reversed(procs):
            _stop(proc)


@dataclass(frozen=True)
class Cluster:
    url: str  # spark://127.0.0.1:PORT
    worker: Path  # the worker's folder: each application's executors write their logs under it

    def executor_logs(self) -> set[Path]:
        return set(self.worker.glob("app-*/*/stderr"))


def shopsense_on(master: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    """A `shopsense` command in a driver process of its own, its executors on `master`."""
    return subprocess.run([sys.executable, "-m", "shopsense", "--home", str(home), "--master", master, *args],
                          capture_output=True, text=True, env={**os.environ, "PYSPARK_PYTHON": sys.executable},
                          timeout=1500)
