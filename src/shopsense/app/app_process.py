"""Run `shopsense app` as a child process on a free loopback port (used by the tests and the benchmark)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import shopsense

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


class AppProcess:
    """`with AppProcess(home) as app:` starts the app, waits until it answers, and stops it on exit."""

    def __init__(self, home: Path, *args: str, master: str = "local[2]", timeout: float = 300.0):
        self.home, self.args, self.master, self.timeout = Path(home), args, master, timeout
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}/"
        self.log = self.home / f"app-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "AppProcess":
        self.home.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "shopsense", "--home", str(self.home), "--master", self.master,
                   "app", "--host", LOOPBACK, "--port", str(self.port), *self.args]
        # The child runs the same shopsense as this process (e.g. a source checkout, not an installed copy).
        source = str(Path(shopsense.__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "GRADIO_ANALYTICS_ENABLED": "False"}
        with self.log.open("w") as log:
            # Own process group: stopping it also stops the Spark JVM the app started.
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        try:
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with code {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"the app did not answer on {self.url} within {self.timeout:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
