"""The durable sink on a URI: written by Spark once per batch id, read only where the write completed."""
from __future__ import annotations

from pyspark.testing import assertDataFrameEqual

from shopsense.streaming.sinks import BatchOutput


def test_a_batch_is_written_once_and_readers_skip_incomplete_batches(spark, tmp_path):
    output = BatchOutput(spark, (tmp_path / "out").as_uri())  # file:///... : a URI, as on HDFS or S3
    assert output.read() is None
    first = spark.createDataFrame([(1, "a"), (2, "b")], "n int, s string")
    assert output.write(first, 0)
    assert not output.write(spark.createDataFrame([(9, "z")], "n int, s string"), 0)  # a replay: skipped
    (tmp_path / "out" / "batch_id=1").mkdir()  # a write that crashed: no _SUCCESS marker
    (tmp_path / "out" / "batch_id=1" / "part-0.parquet").write_bytes(b"not parquet")
    assertDataFrameEqual(output.read(), spark.createDataFrame([(1, "a", 0), (2, "b", 0)],
                                                              "n int, s string, batch_id int"))
    assert output.write(spark.createDataFrame([(3, "c")], "n int, s string"), 1)  # overwrites the debris
    assert sorted(r.n for r in output.read().collect()) == [1, 2, 3]


def test_the_last_batches_before_one_are_read_with_a_given_schema(spark, tmp_path):
    output = BatchOutput(spark, (tmp_path / "out").as_uri())
    rows = "n int, s string"
    for batch_id in (0, 1, 2, 10):  # 10 after 2: batch order, not name order
        output.write(spark.createDataFrame([(batch_id, f"b{batch_id}")], rows), batch_id)
    schema = spark.createDataFrame([], rows).schema
    assertDataFrameEqual(output.read(schema, before=10, last=2),
                         spark.createDataFrame([(1, "b1", 1), (2, "b2", 2)], "n int, s string, batch_id int"))
    assert sorted(r.batch_id for r in output.read(schema, before=11).collect()) == [0, 1, 2, 10]
    assert output.read(schema, before=0) is None
