"""The one SparkSession factory, and the Java check that runs before it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

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


def check_java() -> int:
    """Return the Java major version or raise JavaError with a one-line fix."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise JavaError(f"Java was not found; Spark needs it: {JAVA_FIX}")
    major = java_major_version(java)
    if major is None:
        raise JavaError(f"could not run `{java} -version`: {JAVA_FIX}")
    if major < SUPPORTED_JAVA[0]:
        raise JavaError(f"Java {major} is too old for Spark 4 (needs 17 or 21): {JAVA_FIX}")
    return major


def spark_conf(settings: SparkSettings) -> dict[str, str]:
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
    }
    if settings.log_level.upper() in ("ERROR", "FATAL", "OFF"):
        # Silence the JVM from its first line (before setLogLevel can run): no banner, no WARN noise.
        log4j = Path(__file__).with_name("log4j2.properties")
        conf["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={log4j.as_uri()}"
    conf.update(settings.extra)
    return conf


def get_spark(settings: SparkSettings | None = None):
    """Create (or reuse) the SparkSession. Works the same with local[*] and spark://host:port."""
    settings = settings or SparkSettings()
    check_java()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(settings.master).appName(settings.app_name)
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.log_level)
    return spark
