"""Duplicates, the clean/quarantined/duplicate split, and its counts in one aggregation.

Every row read gets exactly one status, checked by the invariant
`rows_read = rows_clean + rows_quarantined + rows_duplicate` (computed independently in `count_outcomes`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shopsense import schema
from shopsense.ingest.read import CORRUPT_RECORD, SOURCE_NUMBER
from shopsense.ingest.validate import NORMALISATIONS, NORMALISED_BITS, REASON_BITS, RULES, Rule, typed_column

STATUS = "status"
COPIES = "_copies"  # how many times a distinct row was read
CLEAN, QUARANTINED = "clean", "quarantined"  # every further copy of a row is a duplicate (counted)
# Exact duplicates: the same string in every contract column and the same raw line (for malformed rows).
DUPLICATE_KEY: tuple[str, ...] = (*schema.PROCESSED_COLUMNS, CORRUPT_RECORD)


class InvariantError(RuntimeError):
    """The counts do not add up: a bug, never a user mistake (no output is written)."""


@dataclass(frozen=True)
class Counts:
    rows_read: int
    rows_clean: int
    rows_quarantined: int
    rows_duplicate: int
    reasons: dict[str, int] = field(default_factory=dict)  # quarantined rows per reason code (non-zero only)
    examples: dict[str, str] = field(default_factory=dict)  # reason code -> one raw value that broke it
    normalised: dict[str, int] = field(default_factory=dict)  # rows read per normalisation code (non-zero only)

    def check(self) -> "Counts":
        total = self.rows_clean + self.rows_quarantined + self.rows_duplicate
        if self.rows_read != total:
            raise InvariantError(
                f"rows_read={self.rows_read} != rows_clean + rows_quarantined + rows_duplicate = {total}")
        return self


def deduplicate(raw: DataFrame) -> DataFrame:
    """One row per distinct row (DUPLICATE_KEY), with `_copies` (how many times it was read) and the
    source number of its first occurrence. "First" = input order (file, then position in the file); the
    copies are identical, so only the file can tell them apart, and the earliest file is the smallest path,
    whose number is the smallest (read.Header.sources).

    The rows are hash-partitioned by the key first, so the aggregation runs once, after the shuffle: a
    partial aggregation before it would hash every wide row for nothing, as almost all rows are distinct
    (5M rows: 23-27 s -> 16 s, docs/benchmarks.md). The validation rules are a function of the key, so
    validating after this step gives every copy the same reasons as before, and runs once per distinct row.
    """
    return raw.repartition(*DUPLICATE_KEY).groupBy(*DUPLICATE_KEY).agg(
        F.min(SOURCE_NUMBER).alias(SOURCE_NUMBER), F.count(F.lit(1)).alias(COPIES))


def classify(validated: DataFrame) -> DataFrame:
    """Add `status` to de-duplicated rows from `validate_and_type`: `quarantined` when the row has reasons,
    else `clean`. Every further copy (`_copies` - 1) is a `duplicate`: a repeated bad row is quarantined once.

    Each row keeps only what its output needs: a clean row its typed values (`typed_column`), a quarantined
    row its strings as read and raw line; the rest is null. Ingestion caches these rows (no row carries both
    forms), and the clean rows are written without parsing them again.
    """
    quarantined = f"`{REASON_BITS}` != 0"  # SQL text: one call to the JVM per column (validate.py)
    return validated.selectExpr(
        SOURCE_NUMBER, COPIES, REASON_BITS, NORMALISED_BITS,
        f"CASE WHEN {quarantined} THEN '{QUARANTINED}' ELSE '{CLEAN}' END AS {STATUS}",
        *[f"CASE WHEN {quarantined} THEN `{c}` END AS `{c}`" for c in (*schema.PROCESSED_COLUMNS, CORRUPT_RECORD)],
        *[f"CASE WHEN NOT ({quarantined}) THEN `{t}` END AS `{t}`"
          for t in map(typed_column, schema.PROCESSED_COLUMNS)],
    )


def count_outcomes(classified: DataFrame) -> Counts:
    """All counts in ONE small aggregation: rows and copies per (status, REASON_BITS, NORMALISED_BITS), a few
    hundred groups at most; the reasons and normalisations are counted from each group's bits, and each
    quarantined group keeps one of its rows as read, the example of its reasons."""
    groups = classified.groupBy(STATUS, REASON_BITS, NORMALISED_BITS).agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(COPIES).alias("copies"),
        F.sum(F.when(F.col(SOURCE_NUMBER).isNull(), F.col(COPIES)).otherwise(0)).alias("unnumbered"),
        F.first(F.struct(*schema.PROCESSED_COLUMNS, CORRUPT_RECORD)).alias("example"),
    ).collect()
    unnumbered = sum(g["unnumbered"] for g in groups)
    if unnumbered:  # read.read_raw found no number for their file: a bug, never silently a null source_file
        raise InvariantError(f"{unnumbered} rows have no source file number")
    rows = {status: sum(g["rows"] for g in groups if g[STATUS] == status) for status in (CLEAN, QUARANTINED)}
    reasons = {rule.code: sum(g["rows"] for g in groups if g[REASON_BITS] >> i & 1) for i, rule in enumerate(RULES)}
    return Counts(
        rows_read=sum(g["copies"] for g in groups),
        rows_clean=rows[CLEAN],
        rows_quarantined=rows[QUARANTINED],
        rows_duplicate=sum(g["copies"] - g["rows"] for g in groups),
        reasons={code: count for code, count in reasons.items() if count},
        examples={rule.code: _example(rule, g["example"]) for i, rule in enumerate(RULES)
                  for g in groups if g[REASON_BITS] >> i & 1},
        normalised={n.code: count for i, n in enumerate(NORMALISATIONS)
                    if (count := sum(g["copies"] for g in groups if g[NORMALISED_BITS] >> i & 1))},
    ).check()


def _example(rule: Rule, row) -> str:
    """What the rule saw in a row as read: the value of its column, the raw line, or item / category."""
    if rule.kind == "malformed":
        return row[CORRUPT_RECORD]
    if rule.kind == "mismatch":
        return f"{row['item_purchased']} / {row['category']}"
    return row[rule.column] if row[rule.column] is not None else ""
