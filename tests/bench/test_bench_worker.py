"""The benchmark's read-out of where the JVM's CPU goes, by thread (tasks, JIT compilers, GC)."""
from __future__ import annotations

import os

import psutil
import pytest

from benchmarks.run import markdown
from benchmarks.worker import jvm_thread_cpu


def fake_thread(proc, pid: int, tid: int, name: str, utime: int, stime: int) -> None:
    folder = proc / str(pid) / "task" / str(tid)
    folder.mkdir(parents=True)
    # /proc/<pid>/task/<tid>/stat: pid (comm) state ppid ... utime (14th) stime (15th) ...; a name may hold ") ("
    rest = ["S", "1", *["0"] * 9, str(utime), str(stime), *["0"] * 30]
    (folder / "stat").write_text(f"{tid} ({name}) {' '.join(rest)}\n")


def test_threads_are_grouped_by_name(tmp_path):
    ticks = os.sysconf("SC_CLK_TCK")
    for tid, (name, utime, stime) in enumerate([
            ("Executor task l", 3 * ticks, ticks), ("Executor task l", ticks, 0), ("C2 CompilerThre", 2 * ticks, 0),
            ("C1 CompilerThre", ticks, 0), ("GC Thread#1", 0, ticks), ("odd) (name", ticks, ticks)]):
        fake_thread(tmp_path, 42, tid, name, utime, stime)
    assert jvm_thread_cpu(42, tmp_path) == {"tasks": 5.0, "jit_c2": 2.0, "jit_c1": 1.0, "gc": 1.0, "other": 2.0}
    assert jvm_thread_cpu(43, tmp_path) == {}  # no such process


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux /proc")
def test_a_live_jvm_is_read_whole(spark):
    assert spark.range(200_000).selectExpr("sum(id * 3)").first()[0] == 3 * 199_999 * 200_000 // 2
    pid = spark._jvm.ProcessHandle.current().pid()
    threads = jvm_thread_cpu(pid)
    assert set(threads) == {"tasks", "jit_c2", "jit_c1", "gc", "other"}
    assert threads["tasks"] > 0 and threads["jit_c2"] + threads["jit_c1"] > 0
    live = sum(t.user_time + t.system_time for t in psutil.Process(pid).threads())
    assert sum(threads.values()) == pytest.approx(live, rel=0.05, abs=0.5)  # every live thread, once


def test_the_results_table_names_the_thread_groups():
    phase = {"wall_s": 2.0, "rows_per_s": 500.0, "peak_rss_mib": 100.0, "cpu_s": 1.5}
    engine = {p: dict(phase) for p in ("startup", "ingest", "analyze", "end_to_end", "total")}
    size = {"rows": 1000, "reps": 3, "measured": "now", "csv_mib": 0.1, "duckdb": engine,
            "spark": {**engine, "jvm_thread_cpu_s": {"tasks": 10.0, "jit_c2": 4.5, "jit_c1": 1.0}},
            "load_average_1min": {"min": 1.0, "max": 2.0},
            "ratio_spark_over_duckdb": {p: 1.0 for p in ("ingest", "analyze", "end_to_end", "total")}}
    report = {"cores": 2, "machine": {"cores": 2, "memory_gib": 24.0, "spark": "4.3.0", "duckdb": "1"},
              "sizes": [size]}
    assert "1,000 rows: tasks 10.0, jit_c2 4.5, jit_c1 1.0." in markdown(report)
