"""Optional columns the input did not have (null in every processed row, docs/ingest.md), and the parts of the
analysis that are skipped for them.

Ingest writes a column the input lacked as null in every row, so a column is absent when COUNT(column) is 0
over the whole log: `presence_sql` adds those counts to the totals query that analyze runs anyway.
"""
from __future__ import annotations

from dataclasses import dataclass

from shopsense import schema

OPTIONAL_COLUMNS: tuple[str, ...] = tuple(c for c in schema.PROCESSED_COLUMNS if c not in schema.ESSENTIAL_COLUMNS)
HEADERS: dict[str, str] = {c.name: c.raw for c in schema.COLUMNS}
PRESENT_SUFFIX = "_values"  # totals key of a column's non-null count


def presence_sql() -> str:
    """The select-list items counting each optional column's non-null values."""
    return ", ".join(f"COUNT({c}) AS {c}{PRESENT_SUFFIX}" for c in OPTIONAL_COLUMNS)


def absent_columns(totals: dict) -> frozenset[str]:
    """The optional columns with no value in a non-empty log (`totals`: a row of a query with `presence_sql`)."""
    if not int(totals["rows"]):
        return frozenset()
    return frozenset(c for c in OPTIONAL_COLUMNS if not int(totals[f"{c}{PRESENT_SUFFIX}"]))


def no_column(column: str) -> str:
    """What a figure of `column` reads when the input had no such column."""
    return f"no {HEADERS[column]} column in the input"


def reason(columns) -> str:
    """Why a part that needs `columns` (all absent) is skipped."""
    names = [HEADERS[c] for c in columns]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"the input has no {listed} column{'s' if len(names) > 1 else ''}"


@dataclass(frozen=True)
class Skipped:
    """A part of the analysis not made because the input lacked a column it needs."""
    kind: str  # "query" or "plot"
    name: str
    reason: str


def skipped_lines(skipped: list[Skipped]) -> list[str]:
    """One line per reason, naming the parts it skipped (the run summary, `shopsense analyze`)."""
    parts: dict[str, list[str]] = {}
    for s in skipped:
        parts.setdefault(s.reason, []).append(f"{s.kind} {s.name}")
    return [f"skipped ({why}): {', '.join(names)}" for why, names in parts.items()]
