"""Atomic outputs: folder snapshots behind a pointer (Hadoop FileSystem API) and local report files."""
from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from shopsense import io


def test_write_parquet_switches_the_pointer_and_keeps_one_previous_snapshot(spark, tmp_path):
    output = (tmp_path / "out").as_uri()  # file:/... : the same code as for hdfs:// or s3a://
    first = io.write_parquet(spark.range(3), output)
    second = io.write_parquet(spark.range(5), output)  # re-run: replaced, not appended
    assert spark.read.parquet(io.current_location(spark, output)).count() == 5
    third = io.write_parquet(spark.range(7), output)
    assert io.list_names(spark, f"{output}/{io.SNAPSHOTS}") == [second.id, third.id]  # the first is deleted
    assert first.id < second.id < third.id
    assert json.loads((tmp_path / "out" / io.POINTER).read_text())["location"] == third.location
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [io.POINTER, io.SNAPSHOTS]  # no temp file


def test_failing_spark_job_keeps_previous_output_and_commits_nothing(spark, tmp_path):
    target, other = str(tmp_path / "out"), str(tmp_path / "other")
    io.write_parquet(spark.range(3), target)
    failing = spark.range(10).select(F.when(F.col("id") == 7, F.raise_error(F.lit("boom"))).otherwise(F.col("id")))
    with pytest.raises(Exception, match="boom"):
        with io.staged_outputs(spark) as staged:
            staged.append(io.stage_parquet(spark.range(4), other))
            staged.append(io.stage_parquet(failing, target))
    assert spark.read.parquet(io.current_location(spark, target)).count() == 3
    assert io.current_location(spark, other) is None  # staged, not committed: deleted
    assert io.list_names(spark, f"{other}/{io.SNAPSHOTS}") == []
    assert len(io.list_names(spark, f"{target}/{io.SNAPSHOTS}")) == 1


def test_current_location_of_plain_spark_output_and_of_nothing(spark, tmp_path):
    plain = str(tmp_path / "plain")
    spark.range(2).write.parquet(plain)
    assert io.current_location(spark, plain) == plain
    assert io.current_location(spark, str(tmp_path / "missing")) is None


def test_pointer_is_replaced_whole(spark, tmp_path):
    uri = str(tmp_path / "p.json")
    io.write_text_atomic(spark, uri, "old")
    io.write_text_atomic(spark, uri, "new text")
    assert io.read_text(spark, uri) == "new text" and io.read_text(spark, str(tmp_path / "none")) is None
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_local_output_replaces_only_on_success(tmp_path):
    path = tmp_path / "r" / "kpis.json"
    io.write_json({"a": 1}, path)
    with pytest.raises(RuntimeError):
        with io.local_output(path) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("crash while writing")
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["kpis.json"]
