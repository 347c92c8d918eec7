import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shopsense import class_archive
from shopsense.cli import app
from shopsense.errors import ShopSenseError
from shopsense.spark import check_java


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(class_archive.ENV_CACHE_DIR, str(folder))
    return folder


def test_no_option_names_a_missing_archive(tmp_path):
    # JDK 17 turns off ALL class sharing (the JDK's own archive too) when the named file is missing
    assert class_archive.use_options(tmp_path / "none.jsa") == []
    (tmp_path / "there.jsa").write_bytes(b"x")
    assert f"-XX:SharedArchiveFile={tmp_path / 'there.jsa'}" in class_archive.use_options(tmp_path / "there.jsa")


def test_the_archive_name_changes_with_java_and_with_any_jar(cache, tmp_path, monkeypatch):
    import pyspark

    jars = tmp_path / "pyspark" / "jars"
    jars.mkdir(parents=True)
    (jars / "spark-core.jar").write_bytes(b"one")
    monkeypatch.setattr(pyspark, "__file__", str(tmp_path / "pyspark" / "__init__.py"))
    first = class_archive.archive_path("/usr/bin/java")
    assert first.parent == cache and first.name.startswith("spark-classes-") and first.suffix == ".jsa"
    assert f"-{pyspark.__version__}-" in first.name
    assert class_archive.archive_path("/usr/bin/java") == first
    assert class_archive.archive_path("/opt/other-jdk/bin/java") != first
    (jars / "spark-core.jar").write_bytes(b"two!")  # a reinstalled jar: other size and time
    again = class_archive.archive_path("/usr/bin/java")
    install = f"spark-classes-{class_archive._place('/usr/bin/java')}-"
    assert again != first and again.name.startswith(install) and first.name.startswith(install)  # the same install


def java_version_with(archive) -> str:
    done = subprocess.run([check_java(), *class_archive.use_options(archive), "-version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "warning" not in (done.stdout + done.stderr).lower()
    return done.stderr


@pytest.mark.slow
def test_a_broken_archive_is_ignored_silently(tmp_path):
    # The JVM validates the archive itself; a bad one must neither stop Java nor print warnings to the user.
    broken = tmp_path / "broken.jsa"
    broken.write_bytes(b"not an archive" * 100)
    assert "OpenJDK" in java_version_with(broken)


def test_class_archive_if_missing_keeps_an_existing_archive(cache):
    from typer.testing import CliRunner

    path = class_archive.archive_path(check_java())
    path.parent.mkdir(parents=True)
    path.write_bytes(b"recorded earlier")
    result = CliRunner().invoke(app, ["class-archive", "--if-missing"])
    assert result.exit_code == 0, result.output
    assert f"class archive present: {path}" in result.output
    assert path.read_bytes() == b"recorded earlier"


@pytest.mark.slow
def test_an_unwritable_cache_folder_is_one_line_before_any_recording(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # a folder below a file cannot be made, even by root
    done = subprocess.run([sys.executable, "-m", "shopsense", "class-archive"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, class_archive.ENV_CACHE_DIR: str(blocker / "cache")})
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: cannot write the class archive into {blocker / 'cache'}")
    assert class_archive.ENV_CACHE_DIR in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("**/*.tmp"))


def test_a_recording_replaces_this_installs_stale_archive_only(cache, monkeypatch):
    java = check_java()
    place = class_archive._place(java)
    cache.mkdir(parents=True)
    (cache / f"spark-classes-{place}-0.0-old.jsa").write_bytes(b"this install, before an upgrade")
    (cache / "spark-classes-0123456789ab-0.0-other.jsa").write_bytes(b"another install's")
    recordings = []

    def record(command, **_):  # the recording child, without its minute: it writes the file it is given
        recordings.append(command)
        Path(command[3]).write_bytes(b"recorded")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(class_archive.subprocess, "run", record)
    archive = class_archive.build(java)
    assert recordings[0][1:3] == ["-m", "shopsense.class_archive"]
    assert archive == class_archive.archive_path(java) and archive.read_bytes() == b"recorded"
    # the stale one of this install is gone, another install's stays, no temporary file is left
    assert sorted(p.name for p in cache.iterdir()) == sorted([archive.name, "spark-classes-0123456789ab-0.0-other.jsa"])


def test_a_failed_recording_is_one_error_and_leaves_nothing(cache, monkeypatch):
    java = check_java()
    monkeypatch.setattr(class_archive.subprocess, "run", lambda command, **_: subprocess.CompletedProcess(
        command, 1, "", "Traceback (most recent call last):\nOSError: no space left on device\n"))
    with pytest.raises(ShopSenseError, match="recording the class archive failed: .*no space left on device"):
        class_archive.build(java)
    assert list(cache.iterdir()) == []


def test_the_default_session_maps_no_archive(spark):
    assert "SharedArchiveFile" not in spark.sparkContext.getConf().get("spark.driver.extraJavaOptions")


@pytest.mark.slow
def test_a_recorded_archive_is_mapped_by_a_session_that_asks_for_it(cache, tmp_path):
    """The one test that records an archive (the real `build`, about half a minute): a new session with
    `class_archive = true` maps Spark's classes from it."""
    archive = class_archive.build(check_java())
    assert archive == class_archive.archive_path(check_java()) and archive.stat().st_size > 10 * 2**20
    # a JVM with other jars (here: none) cannot use it, silently, and keeps the JDK's own archive
    assert "sharing" in java_version_with(archive)

    loaded = tmp_path / "classes.log"
    session = textwrap.dedent(f"""
        from shopsense.config import SparkSettings
        from shopsense.spark import get_spark
        spark = get_spark(SparkSettings(master="local[1]", class_archive=True,
                                        jvm_options=("-Xlog:class+load=info:file={loaded}",)))
        assert spark.range(3).count() == 3
    """)
    done = subprocess.run([sys.executable, "-c", session], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cds" not in done.stdout
    # The session's Spark classes came from the recorded ("top") archive, not from the jars. Lambdas are
    # classes the JVM makes at run time (JDK 17 archives few of them).
    spark_classes = [line for line in loaded.read_text().splitlines()
                     if "] org.apache.spark." in line and "$$Lambda" not in line]
    from_archive = [line for line in spark_classes if line.endswith("source: shared objects file (top)")]
    assert any("] org.apache.spark.SparkContext " in line for line in from_archive)
    assert len(from_archive) > 0.95 * len(spark_classes), (len(from_archive), len(spark_classes))
