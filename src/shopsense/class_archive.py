"""The JVM class archive: Spark's classes mapped from one file instead of loaded, parsed and verified anew.

A Spark session and its first small job load about 17,000 classes (measured with `-Xlog:class+load`:
16,918), most of them from Spark's jars; the first runs of ingest and analyze load thousands more. Java's
class-data sharing (AppCDS) stores them once, parsed and verified, in an archive that later JVMs map into
memory. `shopsense class-archive` records one: it runs a small ingest + analyze in a child process whose
JVM writes the archive of every class it loaded when it exits (`-XX:ArchiveClassesAtExit`). Each later
session starts with `-XX:SharedArchiveFile` (docs/benchmarks.md, twelfth round: start-up 8.4 -> 4.9 s).

The archive is only valid for the exact Java and jars it was recorded with. Its file name carries a key of
both (the `java` binary and jars folder, and the name, size and time of every jar), so an upgrade simply
finds no archive; and the JVM checks the archive again itself, falling back silently to normal class
loading (the warning is switched off: a missing speed-up is not the user's problem).
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
# What the recording run does: the stages whose classes later runs load (streaming, training and the app
# reuse most of them). Measured: 5,000 rows without `train` 128 s; 20,000 rows with it 195 s.
RECORDED_STAGES = ("generate", "ingest", "analyze")


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


def build(java: str, rows: int = 5_000, stages: tuple[str, ...] = RECORDED_STAGES) -> Path:
    """Record the archive for `java` (see the module doc); return its path. Takes a minute or two.

    The JVM writes the archive into a temporary file when it exits; the file is renamed into place only
    when complete, so a session never maps a half-written archive. Earlier archives of the same install
    (before an upgrade) are removed; other installs' archives are theirs.
    """
    target = archive_path(java)
    _check_writable(target.parent)
    with tempfile.TemporaryDirectory(prefix="class-archive-") as home:
        recording = target.parent / f".{target.name}.{os.getpid()}.tmp"
        try:
            done = subprocess.run(
                [sys.executable, "-m", "shopsense.class_archive", str(recording), home, str(rows), ",".join(stages)],
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


def _record(recording: str, home: str, rows: int, stages: list[str]) -> None:
    """In the child process: a representative run whose JVM writes the archive of its classes at exit."""
    from rich.console import Console

    from shopsense.config import SparkSettings, load_config
    from shopsense.pipeline import run_pipeline

    settings = SparkSettings(log_file=str(Path(home) / "spark.log"), class_archive=False,
                             jvm_options=(f"-XX:ArchiveClassesAtExit={recording}",))
    config = load_config(home=Path(home)).with_overrides(spark=settings, default_rows=rows)
    with open(os.devnull, "w") as quiet:
        run_pipeline(config, only=stages, console=Console(file=quiet))
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    jvm = SparkContext._gateway.proc
    SparkSession.getActiveSession().stop()
    jvm.stdin.close()  # Spark's gateway exits on end of input; the JVM writes the archive on its way out
    jvm.wait()


if __name__ == "__main__":
    _record(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(","))
