"""`shopsense stream simulate | run` from the command line, and a clean stop on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def shopsense(*args):
    return subprocess.run([sys.executable, "-m", "shopsense", *args], capture_output=True, text=True, env=_env(),
                          timeout=300)


@pytest.mark.slow
def test_simulate_writes_the_requested_files(tmp_path):
    out = shopsense("--home", str(tmp_path), "stream", "simulate", "--batches", "3", "--batch-size", "20",
                    "--interval", "10", "--fast", "--seed", "4", "--start-time", "2025-01-01T10:00:00",
                    "--source", "generator", "--late-fraction", "0.1", "--dirty-fraction", "0.05")
    assert out.returncode == 0, out.stderr
    files = sorted((tmp_path / "stream/input").iterdir())
    assert [f.name for f in files] == [f"events-20250101T1000{s}000000Z-b00000{k}-s4.csv"
                                       for k, s in enumerate(("00", "10", "20"))]
    assert all(len(f.read_text().splitlines()) == 21 for f in files)
    again = shopsense("--home", str(tmp_path), "stream", "simulate", "--batches", "1", "--fast", "--seed", "4",
                      "--start-time", "2025-01-01T10:00:00", "--source", "generator")
    assert again.returncode == 2 and "never overwritten" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.slow
def test_simulate_without_processed_data_is_a_clear_error(tmp_path):
    out = shopsense("--home", str(tmp_path), "stream", "simulate", "--batches", "1", "--source", "processed")
    assert out.returncode == 2 and "shopsense ingest" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_sigterm_stops_every_query_cleanly(tmp_path):
    assert shopsense("--home", str(tmp_path), "stream", "simulate", "--batches", "2", "--fast",
                     "--source", "generator").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "shopsense", "--home", str(tmp_path), "--master", "local[2]",
                             "stream", "run", "--no-console",
                             "--sql", "SELECT COUNT(*) AS windows_so_far FROM sales_kpis"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.monotonic() + 400
        seen, progressed = [], False
        for line in proc.stdout:  # wait until a batch was processed and the in-memory table was queried
            seen.append(line)
            progressed = progressed or line.startswith("[progress] ")
            if (progressed and line.startswith("windows_so_far")) or time.monotonic() > deadline:
                break
        assert any(line.startswith("watching ") for line in seen), "".join(seen)
        assert seen[-1].startswith("windows_so_far"), "".join(seen)  # SQL on the memory table while it runs
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "stopped cleanly" in out
    assert "Traceback" not in err
