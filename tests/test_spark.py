from dataclasses import replace

import pytest

from shopsense import spark as spark_module
from shopsense.spark import JavaError, check_java, get_spark
from tests.conftest import TEST_SPARK


def test_session_uses_the_configured_settings(spark):
    # get_spark re-applies the settings it is given to a running session (tests/conftest.py restores the
    # suite's settings after each test).
    other = replace(TEST_SPARK, shuffle_partitions=3)
    assert get_spark(other).conf.get("spark.sql.shuffle.partitions") == "3"
    session = get_spark(TEST_SPARK)
    assert session is spark
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.range(10).count() == 10


def test_building_a_column_costs_few_round_trips_to_the_jvm(spark, monkeypatch):
    """No Python call site is sent to the JVM with every Column-API call (spark.py): `F.col` is 3 Py4J
    round trips, not 13; the ingest and stream plans are built from thousands of such calls."""
    import py4j.clientserver
    from pyspark.sql import functions as F

    calls = []
    send = py4j.clientserver.ClientServerConnection.send_command
    monkeypatch.setattr(py4j.clientserver.ClientServerConnection, "send_command",
                        lambda self, command: calls.append(command) or send(self, command))
    F.when(F.col("x") == 1, F.lit(2)).otherwise(F.lit(0))
    assert 0 < len(calls) <= 20, len(calls)  # 44 with PySpark's default


def test_settings_a_test_changes_are_restored_after_it(spark, settings_kept):
    """What tests/conftest.py does around every test: whatever a test (e.g. an in-process CLI command) does to
    the shared session's settings, the next test finds the suite's settings."""
    with settings_kept():
        get_spark(replace(TEST_SPARK, shuffle_partitions=5))
        assert spark.conf.get("spark.sql.shuffle.partitions") == "5"
    assert spark.conf.get("spark.sql.shuffle.partitions") == str(TEST_SPARK.shuffle_partitions)


def test_local_only_settings_stay_off_a_cluster():
    # settings that only make sense when every executor is on this machine never reach a cluster's executors
    local = spark_module.spark_conf(TEST_SPARK)
    cluster = spark_module.spark_conf(replace(TEST_SPARK, master="spark://example:7077"))
    assert set(spark_module._master_dependent_conf("local[2]")) <= set(local)
    assert not set(spark_module._master_dependent_conf("local[2]")) & set(cluster)


def test_spark_submit_keeps_its_master_dependent_settings(monkeypatch):
    # under spark-submit the master in use is spark-submit's (settings.master keeps its default `local[*]`):
    # neither the local-only shuffle settings nor a Python path that would override the user's --conf
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "12345")
    conf = spark_module.spark_conf(TEST_SPARK)
    assert not {"spark.shuffle.compress", "spark.shuffle.spill.compress", "spark.pyspark.python"} & set(conf)
    assert conf["spark.sql.shuffle.partitions"] == str(TEST_SPARK.shuffle_partitions)


def test_missing_java_is_one_clear_line(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_module.shutil, "which", lambda _: None)
    with pytest.raises(JavaError, match="apt-get install openjdk-17-jre-headless"):
        check_java()


def test_old_java_is_rejected(monkeypatch):
    monkeypatch.setattr(spark_module, "java_major_version", lambda _: 8)
    with pytest.raises(JavaError, match="Java 8 is too old"):
        check_java()
