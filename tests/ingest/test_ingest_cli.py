"""`shopsense ingest` as a user runs it: a short summary and exit 0, or one clear line and exit 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopsense import schema
from shopsense.generate import generate, write_csv

SRC = Path(__file__).parents[2] / "src"
pytestmark = pytest.mark.slow


def shopsense(*args, env: dict[str, str] | None = None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
           **(env or {})}
    return subprocess.run([sys.executable, "-m", "shopsense", *args], capture_output=True, text=True, env=env,
                          timeout=900)


def test_ingest_prints_the_summary(tmp_path):
    write_csv(generate(200, seed=4, dirty_fraction=0.05), tmp_path / "data/raw/shopping_trends.csv")
    out = shopsense("--home", str(tmp_path), "--master", "local[2]", "ingest")  # default input
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "reports/ingest_summary.json").read_text())
    assert (f"rows read {summary['rows_read']:,} = clean {summary['rows_clean']:,} + quarantined "
            f"{summary['rows_quarantined']:,} + duplicate {summary['rows_duplicate']:,}") in out.stdout
    assert summary["rows_read"] == 200 and summary["rows_quarantined"] > 0
    assert "quarantine reasons: " in out.stdout and "Traceback" not in out.stderr
    # Spark's own console output (log lines, progress bars) goes to logs/spark.log, not to the user.
    for noise in ("WARN ", "INFO ", "[Stage ", "log4j"):
        assert noise not in out.stdout + out.stderr, out.stdout + out.stderr
    assert (tmp_path / "logs/spark.log").exists()


def test_missing_java_is_one_clear_line(tmp_path):
    write_csv(generate(20, seed=4), tmp_path / "in.csv")
    out = shopsense("--home", str(tmp_path), "ingest", "--input", str(tmp_path / "in.csv"),
                    env={"JAVA_HOME": str(tmp_path / "no-java")})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]  # one line, no Py4J or Python traceback
    assert out.stderr.startswith("error: Java was not found") and "apt-get install openjdk-17" in out.stderr


def test_missing_file_and_missing_column_are_one_clear_line(tmp_path):
    out = shopsense("--home", str(tmp_path), "ingest", "--input", str(tmp_path / "absent.csv"))
    assert out.returncode == 2
    assert "input not found" in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "logs").exists()  # said before a Spark session was started

    bad = tmp_path / "bad.csv"
    header = ",".join("Rating" if c == "Review Rating" else c for c in schema.RAW_COLUMNS)
    bad.write_text(header + "\n")
    out = shopsense("--home", str(tmp_path), "ingest", "--input", str(bad))
    assert out.returncode == 2
    assert "'Review Rating' (found 'Rating'" in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "data").exists() and not (tmp_path / "reports").exists()
