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
    # per-customer aggregations skip the 65,536-key fast map (docs/benchmarks.md, fifth round)
    assert spark.conf.get("spark.sql.codegen.aggregate.map.twolevel.enabled") == "false"
    # no generated method above HotSpot's JIT limit (an interpreted validation doubled ingest)
    assert spark.conf.get("spark.sql.codegen.hugeMethodLimit") == "8000"
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


def test_a_test_that_changes_the_shared_sessions_settings(spark):
    """With the next test: tests/conftest.py gives every test the suite's settings, whatever ran before."""
    get_spark(replace(TEST_SPARK, shuffle_partitions=5))  # as an in-process CLI command does
    assert spark.conf.get("spark.sql.shuffle.partitions") == "5"


def test_the_next_test_has_the_suites_settings_again(spark):
    assert spark.conf.get("spark.sql.shuffle.partitions") == str(TEST_SPARK.shuffle_partitions)


def test_shuffle_files_are_compressed_only_on_a_cluster():
    # local mode: shuffle files stay on this machine, compressing them only costs CPU (docs/benchmarks.md)
    local = spark_module.spark_conf(TEST_SPARK)
    assert local["spark.shuffle.compress"] == local["spark.shuffle.spill.compress"] == "false"
    cluster = spark_module.spark_conf(replace(TEST_SPARK, master="spark://example:7077"))
    assert "spark.shuffle.compress" not in cluster and "spark.shuffle.spill.compress" not in cluster


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
