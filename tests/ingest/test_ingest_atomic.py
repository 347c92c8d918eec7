"""Atomic folder outputs: a failed write or swap leaves the previous good output intact."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from shopsense.ingest.atomic import commit, stage_parquet, staged_outputs


def test_stage_then_commit_replaces_the_target(spark, tmp_path):
    target = tmp_path / "out"
    commit(stage_parquet(spark.range(3), target), target)
    commit(stage_parquet(spark.range(5), target), target)  # re-run: overwritten, not appended
    assert spark.read.parquet(str(target)).count() == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failing_spark_job_keeps_previous_output(spark, tmp_path):
    target = tmp_path / "out"
    commit(stage_parquet(spark.range(3), target), target)
    failing = spark.range(10).select(F.when(F.col("id") == 7, F.raise_error(F.lit("boom"))).otherwise(F.col("id")))
    with pytest.raises(Exception, match="boom"):
        with staged_outputs() as staged:
            staged.append((stage_parquet(spark.range(4), tmp_path / "other"), tmp_path / "other"))
            staged.append((stage_parquet(failing, target), target))
    assert spark.read.parquet(str(target)).count() == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left, "other" not committed


def test_failed_swap_restores_previous_output(spark, tmp_path, monkeypatch):
    target = tmp_path / "out"
    commit(stage_parquet(spark.range(3), target), target)
    staging = stage_parquet(spark.range(4), target)
    real_rename = type(target).rename

    def rename(self, to):
        if self == staging:
            raise OSError("disk gone")
        return real_rename(self, to)

    monkeypatch.setattr(type(target), "rename", rename)
    with pytest.raises(OSError):
        commit(staging, target)
    monkeypatch.undo()
    assert spark.read.parquet(str(target)).count() == 3


def test_stale_staging_folders_are_cleaned(spark, tmp_path):
    target = tmp_path / "out"
    stale = target.with_name(".out.staging-dead")
    stale.mkdir()
    commit(stage_parquet(spark.range(1), target), target)
    assert not stale.exists()
