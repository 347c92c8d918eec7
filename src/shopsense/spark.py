"""The one SparkSession factory, and the Java check that runs before it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

from shopsense.config import SparkSettings

SUPPORTED_JAVA = (17, 21)
JAVA_FIX = "install Java 17 or 21, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME"


class JavaError(RuntimeError):
    """Java is missing or unsupported; the message is one line for the user."""


def java_major_version(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def check_java() -> str:
    """Return the `java` executable Spark will use, or raise JavaError with a one-line fix."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise JavaError(f"Java was not found; Spark needs it: {JAVA_FIX}")
    major = java_major_version(java)
    if major is None:
        raise JavaError(f"could not run `{java} -version`: {JAVA_FIX}")
    if major < SUPPORTED_JAVA[0]:
        raise JavaError(f"Java {major} is too old for Spark 4 (needs 17 or 21): {JAVA_FIX}")
    return java


def launched_by_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ


def spark_conf(settings: SparkSettings, driver_options: Sequence[str] = ()) -> dict[str, str]:
    """The session's settings; `driver_options`: more JVM options for the driver (the class archive's)."""
    conf = {
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": settings.driver_memory,
        # Parquet/CSV written by one run must be read identically by the next, on any machine.
        "spark.sql.parquet.compression.codec": "zstd",
        "spark.sql.ansi.enabled": "true",
        # toPandas() of a query result (e.g. one row per customer) through Arrow, not row by row in Python.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # The suite's big aggregations are per customer (millions of groups): Spark's first-level "fast" hash
        # map holds 65,536 keys, so nearly every row probed it in vain before the real map. Off: analyze at
        # 5M rows 79.7 / 73.2 s -> 66.2 / 64.7 s (docs/benchmarks.md).
        "spark.sql.codegen.aggregate.map.twolevel.enabled": "false",
        # Whole-stage code for ingest's ~60 validation rules is one 13.5 KB method: C2 gives up on it ("out
        # of nodes") and C1 sometimes too ("out of virtual registers"); interpreted, ingest takes twice as
        # long (1 of 3 cold 5M-row runs: 152.7 s vs 76.9-86.7 s). Above HotSpot's 8,000-byte method limit
        # Spark falls back to its per-operator code, in small methods (the value Spark's documentation
        # recommends on HotSpot; docs/benchmarks.md).
        "spark.sql.codegen.hugeMethodLimit": "8000",
        # PySpark 4 records the Python call site of every Column-API call in the JVM, for error messages:
        # about 10 more Py4J round trips per call (`F.col`: 13 instead of 3). ShopSense builds its
        # expressions from thousands of such calls (streaming, per micro-batch); its errors name their
        # cause without that context (docs/benchmarks.md). `[spark.extra]` turns it on.
        "spark.python.sql.dataFrameDebugging.enabled": "false",
        # Spark keeps the classes it compiled for generated code in a cache of 100 by default; a running stream
        # cycles through more (three queries, their sinks' writes and reads), so each micro-batch compiled the
        # evicted ones again (Janino, then the JIT): 190 compilations in 60 s of a 5,000 events/s stream, 62
        # with 1,000 (`streaming_bench.py --rates 5000 --warm-up 0 --conf spark.sql.codegen.cache.maxEntries=100`).
        "spark.sql.codegen.cache.maxEntries": "1000",
    }
    if not launched_by_spark_submit():
        # Under spark-submit its --master and --conf decide: `settings.master` is not the master in use.
        conf.update(_master_dependent_conf(settings.master))
    # The code Spark generates for a wide projection (ingest validates ~60 rules per row in one stage) has
    # methods over the JVM's 8,000-byte JIT limit; by default HotSpot then *interprets* them forever.
    # Measured: validating 1M rows 15.5 s -> 6.1 s (docs/benchmarks.md). `hugeMethodLimit` (above) keeps
    # whole-stage code under that limit; the flag covers the generated methods outside whole-stage code.
    # Batch work favours throughput over short pauses (ParallelGC), and a cold run spends much of its CPU in
    # the JIT compilers (88 CPU s of a 5M-row run): compiling only hotter methods (CompileThresholdScaling)
    # leaves more CPU for the data.
    # Both measured end to end at 5M rows, fresh processes (docs/benchmarks.md).
    java_options = ["-XX:-DontCompileHugeMethods", "-XX:+UseParallelGC", "-XX:CompileThresholdScaling=4"]
    conf["spark.executor.extraJavaOptions"] = " ".join(java_options)
    java_options += [*driver_options, *settings.jvm_options]
    if settings.log_level.upper() in ("ERROR", "FATAL", "OFF"):
        # Silence the JVM from its first line (before setLogLevel can run): no banner, no WARN noise.
        log4j = Path(__file__).with_name("log4j2.properties")
        java_options.append(f"-Dlog4j2.configurationFile={log4j.as_uri()}")
    conf["spark.driver.extraJavaOptions"] = " ".join(java_options)
    conf.update(settings.extra)
    return conf


def _master_dependent_conf(master: str) -> dict[str, str]:
    if master.startswith("local"):
        # Shuffle files never leave this machine (they mostly stay in the page cache): compressing them costs
        # CPU and saves nothing. A cluster keeps Spark's default (compressed: they cross the network).
        return {"spark.shuffle.compress": "false", "spark.shuffle.spill.compress": "false"}
    # Executors start Python workers with the driver's interpreter unless the user chose one.
    return {"spark.pyspark.python": os.environ.get("PYSPARK_PYTHON", sys.executable)}


def get_spark(settings: SparkSettings | None = None):
    """Create (or reuse) the SparkSession. Works the same with local[*] and spark://host:port."""
    settings = settings or SparkSettings()
    java = check_java()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(settings.app_name)
    if not launched_by_spark_submit():
        # Under spark-submit the JVM already runs with spark-submit's --master; do not override it.
        builder = builder.master(settings.master)
    archive = []
    if settings.class_archive:
        from shopsense import class_archive

        archive = class_archive.use_options(class_archive.archive_path(java))
    for key, value in spark_conf(settings, archive).items():
        builder = builder.config(key, value)
    with _jvm_stderr_to(settings.log_file):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.log_level)
    return spark


@contextmanager
def _jvm_stderr_to(log_file: str | None):
    """Start the JVM with its stderr in `log_file` (the JVM inherits file descriptor 2 at launch).

    The JVM prints start-up banners (module warnings, log-level hints) before any log configuration can
    act; the CLI keeps them in a log file unless --verbose, so users see ShopSense's output only.
    """
    if not log_file:
        yield
        return
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    target = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)
