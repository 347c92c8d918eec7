"""The README's typical times: `shopsense run` on the default generated data, stage by stage, measured.

Runs `shopsense run` (every stage, default settings, a fresh temporary home) in a subprocess, reads each
stage's time from its plain progress lines ("<stage>: ... : done in 12.3 s"), and writes a small Markdown
table between the README's markers (`--readme`) or prints it.

    PYTHONPATH=src:. .venv/bin/python -m benchmarks.readme_times [--rows 50000] [--readme README.md]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import update_doc

BEGIN, END = "<!-- readme-times:begin -->", "<!-- readme-times:end -->"
STAGE_DONE = re.compile(r"^(\w+): .*: done in ([\d.]+) s$", re.MULTILINE)


def measure(rows: int | None) -> tuple[dict[str, float], float]:
    """(seconds per stage, wall seconds of the whole command) of one `shopsense run` in a fresh home."""
    with tempfile.TemporaryDirectory(prefix="readme-times-") as home:
        command = [sys.executable, "-m", "shopsense", "--home", home, "run", *(["--rows", str(rows)] if rows else [])]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
        wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"shopsense run failed:\n{done.stderr[-2000:]}")
    return {stage: float(seconds) for stage, seconds in STAGE_DONE.findall(done.stdout)}, wall


def table(stages: dict[str, float], wall: float, rows: int | None) -> str:
    load = os.getloadavg()[0]
    lines = [f"`shopsense run` on {rows or 50_000:,} generated rows, {os.cpu_count()} cores, load average "
             f"{load:.1f} after the run ({time.strftime('%Y-%m-%d')}; `python -m benchmarks.readme_times`):", "",
             "| stage | seconds |", "|---|---:|"]
    lines += [f"| {stage} | {seconds:.0f} |" for stage, seconds in stages.items()]
    lines.append(f"| whole command (JVM start included) | {wall:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="generated rows (default: the `run_rows` setting's default)")
    parser.add_argument("--readme", type=Path, help="Markdown file whose readme-times section is replaced")
    args = parser.parse_args()
    stages, wall = measure(args.rows)
    text = table(stages, wall, args.rows)
    if args.readme:
        update_doc(args.readme, text, BEGIN, END)
    print(text)


if __name__ == "__main__":
    main()
