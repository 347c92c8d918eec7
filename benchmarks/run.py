"""ShopSense (Spark) vs DuckDB on the same generated CSV: ingest, analytics suite, end to end.

    python -m benchmarks.run [--sizes 100000 1000000 5000000] [--reps 3] [--doc docs/benchmarks.md]

For every size: the CSV comes from the generator (cached in benchmarks/data/); each repetition runs the two
engines one after the other, alternating which goes first, each in a fresh process (so the Spark figures
include a cold JVM, measured separately as start-up). The parent samples the worker's process tree (Python
+ JVM) every 0.1 s for resident memory and CPU time. After the first repetition the outputs of the two
engines are compared (benchmarks.compare); a difference stops the benchmark before any time is reported.
Medians over the repetitions go to benchmarks/results/latest.json and a Markdown table (latest.md, and the
marked section of --doc).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.compare import compare
from benchmarks.inputs import DIRTY_FRACTION, input_csv
from shopsense.config import load_config

ROOT = Path(__file__).parent
RESULTS = ROOT / "results"
ENGINES = ("spark", "duckdb")
PHASES = ("ingest", "analyze", "end_to_end")
DOC_BEGIN, DOC_END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"


def sample(process: subprocess.Popen, interval: float = 0.1) -> list[tuple[float, float, float]]:
    """(time, RSS of the whole tree in MiB, CPU seconds of the whole tree) until the process exits."""
    root = psutil.Process(process.pid)
    cpu_by_pid: dict[int, float] = {}
    samples = []
    while process.poll() is None:
        rss = 0
        for proc in [root, *root.children(recursive=True)]:
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
                    cpu_by_pid[proc.pid] = times.user + times.system + times.children_user + times.children_system
            except psutil.Error:
                continue  # exited between listing and reading
        samples.append((time.time(), rss / 2**20, sum(cpu_by_pid.values())))
        time.sleep(interval)
    return samples


def run_worker(engine: str, csv: Path, home: Path, cores: int) -> dict:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    out = home / "worker.json"
    cmd = [sys.executable, "-m", "benchmarks.worker", "--engine", engine, "--csv", str(csv), "--home", str(home),
           "--cores", str(cores), "--out", str(out)]
    with open(home / "worker.log", "w") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env())
        samples = sample(process)
    if process.returncode != 0:
        raise RuntimeError(f"{engine} worker failed, see {home / 'worker.log'}:\n"
                           + (home / "worker.log").read_text()[-3000:])
    result = json.loads(out.read_text())
    marks = result["phases"]
    marks["end_to_end"] = {"start": marks["ingest"]["start"], "end": marks["analyze"]["end"]}
    marks["total"] = {"start": marks["startup"]["start"], "end": marks["analyze"]["end"]}
    result["metrics"] = {name: _phase_metrics(samples, m) for name, m in marks.items()}
    return result


def _env() -> dict:
    src = str(ROOT.parent / "src")
    paths = [src, str(ROOT.parent), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _phase_metrics(samples, mark) -> dict:
    inside = [s for s in samples if mark["start"] <= s[0] <= mark["end"]] or samples[-1:]
    before = [s for s in samples if s[0] <= mark["start"]] or samples[:1]
    return {"wall_s": mark["end"] - mark["start"], "peak_rss_mib": max(s[1] for s in inside),
            "cpu_s": inside[-1][2] - before[-1][2]}


def median_metrics(runs: list[dict], rows: int) -> dict:
    out = {}
    for phase in ("startup", *PHASES, "total"):
        metrics = [r["metrics"][phase] for r in runs]
        med = {key: statistics.median(m[key] for m in metrics) for key in metrics[0]}
        med["wall_s_all"] = [round(m["wall_s"], 2) for m in metrics]
        if phase != "startup":
            med["rows_per_s"] = rows / med["wall_s"]
        out[phase] = med
    if "spark" in runs[0]:
        out["spark_jobs"] = runs[0]["spark"]
    if runs[0].get("jvm_thread_cpu_s"):  # the whole run, start-up included
        out["jvm_thread_cpu_s"] = {group: statistics.median(r["jvm_thread_cpu_s"][group] for r in runs)
                                   for group in runs[0]["jvm_thread_cpu_s"]}
    return out


def bench_size(rows: int, reps: int, cores: int, work: Path) -> dict:
    csv = input_csv(rows)
    runs = {engine: [] for engine in ENGINES}
    checked = None
    load = []
    for rep in range(reps):
        order = ENGINES if rep % 2 == 0 else ENGINES[::-1]
        for engine in order:
            load.append(os.getloadavg()[0])
            result = run_worker(engine, csv, work / str(rows) / engine, cores)
            runs[engine].append(result)
            print(f"  {rows:>9,} rows  rep {rep + 1}/{reps}  {engine:<6}  "
                  + "  ".join(f"{p} {result['metrics'][p]['wall_s']:.1f}s" for p in ("startup", *PHASES)),
                  flush=True)
        if checked is None:  # equality before any time is reported
            checked = compare(*(load_config(home=work / str(rows) / engine) for engine in ENGINES))
            print(f"  results equal: {'; '.join(checked)}", flush=True)
    medians = {engine: median_metrics(runs[engine], rows) for engine in ENGINES}
    ratio = {phase: medians["spark"][phase]["wall_s"] / medians["duckdb"][phase]["wall_s"]
             for phase in (*PHASES, "total")}
    return {"rows": rows, "measured": time.strftime("%Y-%m-%d %H:%M"), "reps": reps,
            "csv": str(csv), "csv_mib": csv.stat().st_size / 2**20,
            "rows_clean": runs["spark"][0]["rows_clean"], "results_equal": True, "checked": checked,
            "load_average_1min": {"min": min(load), "max": max(load), "median": statistics.median(load)},
            **medians, "ratio_spark_over_duckdb": ratio}


def markdown(report: dict) -> str:
    lines = [
        f"{report['machine']['cores']} cores, {report['machine']['memory_gib']:.0f} GiB RAM; medians of the "
        f"repetitions (reps) per engine and size; Spark {report['machine']['spark']} `local[{report['cores']}]`, "
        f"DuckDB {report['machine']['duckdb']} with `threads={report['cores']}`. Results were checked equal first. "
        "Load avg = the machine's 1-minute load average before the runs (min-max; 2 cores: above 2 means "
        "other processes competed for the CPU).",
        "",
        "| rows (reps, measured) | CSV MiB | phase | ShopSense s | DuckDB s | ratio | ShopSense rows/s | DuckDB rows/s "
        "| ShopSense peak MiB | DuckDB peak MiB | ShopSense CPU s | DuckDB CPU s | load avg |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in report["sizes"]:
        s, d = size["spark"], size["duckdb"]
        load = size["load_average_1min"]
        for phase in (*PHASES, "total"):
            label = {"total": "end to end + start-up"}.get(phase, phase.replace("_", " "))
            lines.append(
                f"| {size['rows']:,} ({size['reps']}x, {size['measured']}) | {size['csv_mib']:.0f} | {label} | "
                f"{s[phase]['wall_s']:.1f} | "
                f"{d[phase]['wall_s']:.1f} | **{size['ratio_spark_over_duckdb'][phase]:.1f}x** | "
                f"{s[phase]['rows_per_s']:,.0f} | {d[phase]['rows_per_s']:,.0f} | {s[phase]['peak_rss_mib']:,.0f} | "
                f"{d[phase]['peak_rss_mib']:,.0f} | {s[phase]['cpu_s']:.1f} | {d[phase]['cpu_s']:.1f} | "
                f"{load['min']:.1f}-{load['max']:.1f} |")
        lines.append(f"| {size['rows']:,} | | Spark session start-up | {s['startup']['wall_s']:.1f} | "
                     f"{d['startup']['wall_s']:.2f} | | | | {s['startup']['peak_rss_mib']:,.0f} | | "
                     f"{s['startup']['cpu_s']:.1f} | | |")
    threads = [f"{size['rows']:,} rows: " + ", ".join(f"{group} {seconds:.1f}" for group, seconds in
                                                     size["spark"]["jvm_thread_cpu_s"].items())
               for size in report["sizes"] if size["spark"].get("jvm_thread_cpu_s")]
    if threads:
        lines += ["", f"ShopSense's JVM CPU s by thread, whole run incl. start-up (medians): {'; '.join(threads)}."]
    return "\n".join(lines) + "\n"


def update_doc(doc: Path, table: str, begin: str = DOC_BEGIN, end: str = DOC_END) -> None:
    """Replace the text between the markers `begin` and `end` of `doc` (appended when missing)."""
    text = doc.read_text() if doc.exists() else ""
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    doc.write_text(f"{head}{begin}\n{table}{end}{rest.split(end, 1)[1]}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cores", type=int, default=os.cpu_count(), help="Spark local[N] = DuckDB threads")
    parser.add_argument("--doc", type=Path, help="Markdown file whose results section is replaced")
    args = parser.parse_args(argv)
    import duckdb
    import pyspark

    RESULTS.mkdir(parents=True, exist_ok=True)
    latest = RESULTS / "latest.json"
    # Sizes measured by earlier runs (e.g. `make bench SIZES=5000000` alone) are kept unless re-measured.
    earlier = json.loads(latest.read_text())["sizes"] if latest.exists() else []
    report = {
        "cores": args.cores, "dirty_fraction": DIRTY_FRACTION,
        "machine": {"cores": os.cpu_count(), "memory_gib": psutil.virtual_memory().total / 2**30,
                    "platform": platform.platform(), "python": platform.python_version(),
                    "spark": pyspark.__version__, "duckdb": duckdb.__version__},
        "sizes": [],
    }
    for rows in args.sizes:
        print(f"{rows:,} rows: generating/reusing the input, then {args.reps} x 2 runs", flush=True)
        measured = bench_size(rows, args.reps, args.cores, RESULTS / "work")
        earlier = [size for size in earlier if size["rows"] != rows] + [measured]
        report["sizes"] = sorted(earlier, key=lambda size: size["rows"])
        latest.write_text(json.dumps(report, indent=2))
    table = markdown(report)
    (RESULTS / "latest.md").write_text(table)
    if args.doc:
        update_doc(args.doc, table)
    print(table)
    return report


if __name__ == "__main__":
    main()
