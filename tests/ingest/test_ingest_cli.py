"""`shopsense ingest` as a user runs it: a short summary and exit 0, or one clear line and exit 2.

What needs a process of its own (Spark's console output kept out of the terminal, a missing Java) starts
`shopsense`; the other commands run in-process on the shared session (`shopsense_in_process`)."""
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


def test_ingest_prints_the_summary(tmp_path, shopsense_in_process):
    """(That Spark's own console output stays out of a fresh process's terminal: the cluster run,
    tests/integration/test_cluster.py.)"""
    write_csv(generate(200, seed=4, dirty_fraction=0.05), tmp_path / "data/raw/shopping_trends.csv")
    out = shopsense_in_process("--home", str(tmp_path), "--master", "local[2]", "ingest")  # default input
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "reports/ingest_summary.json").read_text())
    assert (f"rows read {summary['rows_read']:,} = clean {summary['rows_clean']:,} + quarantined "
            f"{summary['rows_quarantined']:,} + duplicate {summary['rows_duplicate']:,}") in out.stdout
    assert summary["rows_read"] == 200 and summary["rows_quarantined"] > 0
    assert "quarantine reasons: " in out.stdout and "Traceback" not in out.stderr


def test_missing_java_is_one_clear_line(tmp_path):
    write_csv(generate(20, seed=4), tmp_path / "in.csv")
    out = shopsense("--home", str(tmp_path), "ingest", "--input", str(tmp_path / "in.csv"),
                    env={"JAVA_HOME": str(tmp_path / "no-java")})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]  # one line, no Py4J or Python traceback
    assert out.stderr.startswith("error: Java was not found") and "apt-get install openjdk-17" in out.stderr


def test_missing_file_and_missing_column_are_one_clear_line(tmp_path, shopsense_in_process):
    out = shopsense_in_process("--home", str(tmp_path), "ingest", "--input", str(tmp_path / "absent.csv"))
    assert out.returncode == 2
    assert "input not found" in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "logs").exists()  # said before a Spark session was started

    bad = tmp_path / "bad.csv"
    header = ",".join("item" if c == "Item Purchased" else c for c in schema.RAW_COLUMNS)
    bad.write_text(header + "\n")
    out = shopsense_in_process("--home", str(tmp_path), "ingest", "--input", str(bad))
    assert out.returncode == 2
    assert "missing required column(s) 'Item Purchased'" in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert out.stderr.splitlines()[-2:] == ["[columns]", 'item = "Item Purchased"']
    assert not (tmp_path / "data").exists() and not (tmp_path / "reports").exists()


SAMPLE_CSV = Path(__file__).parents[1] / "fixtures" / "shopping_sample.csv"


def test_inspect_writes_nothing_and_guard_exits_2(tmp_path, shopsense_in_process):
    lines = SAMPLE_CSV.read_text().splitlines()
    renamed = lines[0].replace("Item Purchased", "item").replace("Frequency of Purchases", "purchase_frequency")
    (tmp_path / "in.csv").write_text("\n".join([renamed.replace(",", ";")] + [x.replace(",", ";") for x in lines[1:]]))
    home = tmp_path / "home"
    home.mkdir()
    out = shopsense_in_process("--home", str(home), "--master", "local[2]", "inspect", str(tmp_path / "in.csv"), "--rows", "50",
                    "--map", "item=Item Purchased")
    assert out.returncode == 0, out.stderr
    assert "delimiter ';'" in out.stdout and "50 rows read (at most 50)" in out.stdout
    assert "item_purchased           <- 'item' (mapped)" in out.stdout
    assert 'purchase_frequency = "Frequency of Purchases"' in out.stdout  # the best guess for a missing column
    assert "parsed rows (5):" in out.stdout
    assert sorted(p.name for p in home.iterdir()) == ["logs"]  # nothing but Spark's log

    amount = schema.RAW_COLUMNS.index("Purchase Amount (USD)")
    garbage = [",".join("n/a" if i == amount else v for i, v in enumerate(x.split(","))) for x in lines[1:]]
    (tmp_path / "garbage.csv").write_text("\n".join([lines[0], *garbage]))
    out = shopsense_in_process("--home", str(home), "--master", "local[2]", "ingest", "--input",
                               str(tmp_path / "garbage.csv"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "purchase_amount_usd: 100 of 100 rows not a number, e.g. 'n/a'" in out.stderr
    assert not (home / "data" / "processed").exists()
