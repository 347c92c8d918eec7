"""Duplicates, the clean/quarantined/duplicate split, and its counts in one aggregation.

Every row read gets exactly one status, checked by the invariant
`rows_read = rows_clean + rows_quarantined + rows_duplicate` (computed independently in `count_outcomes`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from shopsense import schema
from shopsense.ingest.read import CORRUPT_RECORD, SOURCE_FILE
from shopsense.ingest.validate import REASON_CODES, REASONS

STATUS = "status"
CLEAN, QUARANTINED, DUPLICATE = "clean", "quarantined", "duplicate"
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

    def check(self) -> "Counts":
        total = self.rows_clean + self.rows_quarantined + self.rows_duplicate
        if self.rows_read != total:
            raise InvariantError(
                f"rows_read={self.rows_read} != rows_clean + rows_quarantined + rows_duplicate = {total}")
        return self


def classify(validated: DataFrame) -> DataFrame:
    """Add `status`: `duplicate` for every repeat of an earlier identical row, else `quarantined` when the row
    has reasons, else `clean`. "Earlier" = input order (file, then position in the file), so the first
    occurrence is the one kept, deterministically. A repeat of a bad row counts as a duplicate, once.
    """
    position = "_position"
    first = Window.partitionBy(*DUPLICATE_KEY).orderBy(SOURCE_FILE, position)
    return (
        validated.withColumn(position, F.monotonically_increasing_id())
        .withColumn(
            STATUS,
            F.when(F.row_number().over(first) > 1, F.lit(DUPLICATE))
            .when(F.size(REASONS) > 0, F.lit(QUARANTINED))
            .otherwise(F.lit(CLEAN)),
        )
        .drop(position)
    )


def count_outcomes(classified: DataFrame) -> Counts:
    """All counts in ONE small aggregation: rows per (status, reason code).

    Each row is exploded into its reasons when quarantined (else one row with no reason); its first exploded
    row (position 0, or null when not exploded) counts the row itself, every exploded row counts its reason.
    """
    exploded = classified.select(
        STATUS, F.posexplode_outer(F.when(F.col(STATUS) == QUARANTINED, F.col(REASONS))).alias("pos", "reason"))
    groups = exploded.groupBy(STATUS, "reason").agg(
        F.count(F.lit(1)).alias("mentions"),
        F.sum(F.when(F.col("pos").isNull() | (F.col("pos") == 0), 1).otherwise(0)).alias("rows"),
    ).collect()
    rows = {status: sum(g["rows"] for g in groups if g[STATUS] == status) for status in (CLEAN, QUARANTINED, DUPLICATE)}
    reasons = {g["reason"]: g["mentions"] for g in groups if g["reason"] is not None}
    return Counts(
        rows_read=sum(g["rows"] for g in groups),
        rows_clean=rows[CLEAN],
        rows_quarantined=rows[QUARANTINED],
        rows_duplicate=rows[DUPLICATE],
        reasons={code: reasons[code] for code in REASON_CODES if code in reasons},
    ).check()
