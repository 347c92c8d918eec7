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
    """All counts in ONE aggregation: per status, and per reason code over the quarantined rows."""
    quarantined = F.col(STATUS) == QUARANTINED

    def rows(condition):
        return F.coalesce(F.sum(F.when(condition, 1).otherwise(0)), F.lit(0))

    aggregates = [
        F.count(F.lit(1)).alias("rows_read"),
        rows(F.col(STATUS) == CLEAN).alias("rows_clean"),
        rows(quarantined).alias("rows_quarantined"),
        rows(F.col(STATUS) == DUPLICATE).alias("rows_duplicate"),
        *[rows(quarantined & F.array_contains(REASONS, code)).alias(code) for code in REASON_CODES],
    ]
    result = classified.agg(*aggregates).first().asDict()
    per_code = {code: int(result.pop(code)) for code in REASON_CODES}
    reasons = {code: n for code, n in per_code.items() if n}
    return Counts(**{k: int(v) for k, v in result.items()}, reasons=reasons).check()
