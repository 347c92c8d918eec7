"""Dedupe aggregates once, after its shuffle; the classified rows keep only what each output needs."""
from __future__ import annotations

import re

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from shopsense import schema
from shopsense.ingest.stage import classified_rows, clean_rows, quarantined_rows
from shopsense.ingest.read import CORRUPT_RECORD, SOURCE_NUMBER
from shopsense.ingest.split import COPIES, STATUS, InvariantError, count_outcomes, deduplicate
from shopsense.ingest.validate import REASON_BITS, reason_mask, typed_column

GOOD = ("1", "30", "Male", "Blouse", "Clothing", "53", "Kentucky", "L", "Gray", "Winter", "3.1", "Yes",
        "Express", "Yes", "Yes", "14", "Venmo", "Fortnightly")
BAD_AGE = ("2", "abc", *GOOD[2:])


SOURCES = ("file:/in.csv",)


def raw_frame(spark, rows):
    """Rows as `read.read_raw` gives them, all from the file numbered 1 (SOURCES)."""
    ddl = ", ".join(f"{c} string" for c in (*schema.PROCESSED_COLUMNS, CORRUPT_RECORD))
    return spark.createDataFrame([(*row, None, 1) for row in rows], f"{ddl}, {SOURCE_NUMBER} int")


def test_dedupe_has_no_partial_aggregation_before_its_shuffle(spark):
    plan = deduplicate(raw_frame(spark, [GOOD, GOOD, BAD_AGE]))._jdf.queryExecution().executedPlan().toString()
    lines = plan.splitlines()
    exchanges = [i for i, line in enumerate(lines) if "Exchange hashpartitioning" in line]
    # Either kind of aggregate (hash or sort) must sit above the shuffle.
    aggregates = [i for i, line in enumerate(lines) if re.search(r"(Hash|Sort)Aggregate\(", line)]
    # One shuffle, on the key; every aggregate runs above it (printed before it): no map-side partial
    # aggregation that would sort or hash every wide row only to find it distinct.
    assert len(exchanges) == 1 and aggregates and max(aggregates) < exchanges[0]
    assert re.search(r"hashpartitioning\(customer_id#\d+, age#\d+", lines[exchanges[0]])


def test_dedupe_counts_copies(spark):
    counted = {r["customer_id"]: r[COPIES] for r in deduplicate(raw_frame(spark, [GOOD, GOOD, BAD_AGE])).collect()}
    assert counted == {"1": 2, "2": 1}


def test_classified_rows_keep_typed_values_for_clean_rows_and_strings_for_quarantined(spark):
    raw = raw_frame(spark, [GOOD, BAD_AGE])
    classified = classified_rows(raw)
    by_status = {r[STATUS]: r for r in classified.collect()}
    clean, bad = by_status["clean"], by_status["quarantined"]
    assert clean["age"] is None and clean[typed_column("age")] == 30  # typed, no string kept
    assert bad["age"] == "abc" and bad[typed_column("age")] is None  # as read, no typed value
    assert bad[REASON_BITS] == reason_mask(["non_numeric_age"]) and clean[REASON_BITS] == 0
    # The written outputs: the clean row typed (processed layout), the bad one as read with its reason.
    expected_clean = spark.createDataFrame(
        [(1, 30, "Male", "Blouse", "Clothing", 53.0, "Kentucky", "L", "Gray", "Winter", 3.1, True, "Express",
          True, True, 14, "Venmo", "Fortnightly")], schema.PROCESSED_SCHEMA)
    assertDataFrameEqual(clean_rows(classified), expected_clean)
    assert clean_rows(classified).schema.simpleString() == schema.PROCESSED_SCHEMA.simpleString()
    assert [tuple(r) for r in quarantined_rows(classified, SOURCES).collect()] == [
        ("file:/in.csv", *BAD_AGE, None, ["non_numeric_age"])]


def test_a_row_without_a_file_number_stops_the_count(spark):
    """read_raw numbers every row (a left join over the header check's file list); were one left without a
    number, its quarantine row would have no source_file: the count says so instead."""
    unnumbered = raw_frame(spark, [GOOD, BAD_AGE]).withColumn(
        SOURCE_NUMBER, F.when(F.col("customer_id") == "2", None).otherwise(F.col(SOURCE_NUMBER)))
    assert count_outcomes(classified_rows(raw_frame(spark, [GOOD, BAD_AGE]))).rows_read == 2
    with pytest.raises(InvariantError, match="1 rows have no source file number"):
        count_outcomes(classified_rows(unnumbered))
