"""The JVM class archive (opt-in): Spark's classes mapped from one file instead of loaded, parsed and verified.

A Spark session and its first small jobs load about 17,000 classes, most of them from Spark's jars. Java's
class-data sharing (AppCDS) stores them once, parsed and verified, in an archive that later JVMs map into
memory. `shopsense class-archive` records one: a child process runs a small fixed Spark workload (`workload`)
whose JVM writes the archive of every class it loaded when it exits (`-XX:ArchiveClassesAtExit`). With the
setting `[spark] class_archive = true` each later session starts with `-XX:SharedArchiveFile`: a cold
session plus a few small jobs takes 0.62x the time (`python -m benchmarks.jvm_start`, docs/benchmarks.md).
It is off by default: it costs a recording and ~175 MiB per Java + Spark install, and a long run gains little.

The archive is only valid for the exact Java and jars it was recorded with. Its file name carries a key of
both (the `java` binary and jars folder, and the name, size and time of every jar), so an upgrade simply
finds no archive; and the JVM checks the archive again itself, falling back silently to normal class
loading (the warning is switched off: a missing speed-up is not the user's problem).

This module depends on pyspark only (not on shopsense.spark, which uses it): no import cycle.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from shopsense.errors import ShopSenseError

ENV_CACHE_DIR = "SHOPSENSE_CACHE_DIR"
PREFIX = "spark-classes-"


def cache_dir() -> Path:
    """`$SHOPSENSE_CACHE_DIR`, else `$XDG_CACHE_HOME/shopsense`, else `~/.cache/shopsense`."""
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "shopsense"


def archive_path(java: str) -> Path:
    """Where the archive for this Java and this pyspark installation lives (it may not exist):
    `spark-classes-<place>-<version>-<content>.jsa`, place = which `java` and which jars folder (each install,
    e.g. each virtual environment, has its own), content = the name, size and time of every jar."""
    import pyspark

    content = hashlib.sha256()
    for jar in sorted(_jars().glob("*.jar")):
        stat = jar.stat()
        content.update(f"{jar.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return cache_dir() / f"{PREFIX}{_place(java)}-{pyspark.__version__}-{content.hexdigest()[:12]}.jsa"


def _jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def _place(java: str) -> str:
    """Which install an archive belongs to: the `java` binary and the jars folder."""
    return hashlib.sha256(f"{os.path.realpath(java)}\n{_jars().resolve()}".encode()).hexdigest()[:12]


def use_options(archive: Path) -> list[str]:
    """JVM options that map `archive` if it exists. Never a missing file: JDK 17 then turns off all class
    sharing, even the JDK's own archive."""
    if not archive.is_file():
        return []
    return [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]


def build(java: str) -> Path:
    """Record the archive for `java` (see the module doc); return its path. Takes about half a minute.

    The JVM writes the archive into a temporary file when it exits; the file is renamed into place only
    when complete, so a session never maps a half-written archive. Earlier archives of the same install
    (before an upgrade) are removed; other installs' archives are theirs.
    """
    target = archive_path(java)
    _check_writable(target.parent)
    with tempfile.TemporaryDirectory(prefix="class-archive-") as scratch:
        recording = target.parent / f".{target.name}.{os.getpid()}.tmp"
        try:
            done = subprocess.run([sys.executable, "-m", "shopsense.class_archive", str(recording), scratch],
                                  capture_output=True, text=True)
            if done.returncode != 0 or not recording.is_file():
                tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                raise ShopSenseError("recording the class archive failed: " + " / ".join(tail))
            os.replace(recording, target)
        finally:
            recording.unlink(missing_ok=True)
    for stale in target.parent.glob(f"{PREFIX}{_place(java)}-*.jsa"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return target


def _check_writable(folder: Path) -> None:
    """Fail in one line before the recording (a minute or two) when its archive could not be stored."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as error:
        raise ShopSenseError(f"cannot write the class archive into {folder} ({error.strerror or error}): "
                             f"set {ENV_CACHE_DIR} to a writable folder") from None


def workload(spark, scratch: str) -> None:
    """The recorded (and benchmarked) Spark work: what every ShopSense command does first, in small: a
    DataFrame from pandas through Arrow, an aggregation with a shuffle, a Parquet write and read, SQL."""
    import pandas as pd

    frame = spark.createDataFrame(pd.DataFrame({"customer": [i % 50 for i in range(2000)],
                                                "amount": [float(i % 97) for i in range(2000)]}))
    frame.groupBy("customer").sum("amount").collect()
    table = str(Path(scratch) / "table")
    frame.write.mode("overwrite").parquet(table)
    spark.read.parquet(table).createOrReplaceTempView("purchases")
    spark.sql("SELECT customer, avg(amount) FROM purchases GROUP BY customer ORDER BY 2 DESC LIMIT 5").toPandas()


def _record(recording: str, scratch: str) -> None:
    """In the child process: the workload in a local session whose JVM writes the archive at exit."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("shopsense-class-archive")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .config("spark.driver.extraJavaOptions", f"-XX:ArchiveClassesAtExit={recording}")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    workload(spark, scratch)
    jvm = SparkContext._gateway.proc
    spark.stop()
    jvm.stdin.close()  # Spark's gateway exits on end of input; the JVM writes the archive on its way out
    jvm.wait()


if __name__ == "__main__":
    _record(sys.argv[1], sys.argv[2])
