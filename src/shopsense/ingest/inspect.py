"""`shopsense inspect FILE`: what `ingest` would make of a file, read with the same code, writing nothing.

How each header was matched, the normalisations with their counts, the share that would be quarantined by
reason (with an example raw value each), new values of the open vocabularies, and a few parsed rows. Only
the first `max_rows` rows are read, so that it answers in seconds on any file size.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from shopsense import schema
from shopsense.config import Config
from shopsense.ingest.columns import MISSING, ColumnMatch
from shopsense.ingest.split import Counts, count_outcomes
from shopsense.ingest.stage import clean_rows, describe_reasons, new_values, read_input

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class Inspection:
    input: str
    delimiter: str
    encoding: str
    max_rows: int
    columns: tuple[ColumnMatch, ...]
    mapping_hints: list[str]  # `[columns]` lines for the missing columns (best guesses among the extra ones)
    counts: Counts
    new_values: dict[str, dict[str, int]]
    sample: list[dict]  # parsed rows, processed names

    def lines(self) -> list[str]:
        c = self.counts
        share = c.rows_quarantined / c.rows_read if c.rows_read else 0.0
        lines = [f"{self.input}: delimiter {self.delimiter!r}, encoding {self.encoding}, "
                 f"{c.rows_read:,} rows read (at most {self.max_rows:,})", "columns:"]
        for m in self.columns:
            if m.how == MISSING:
                lines.append(f"  {m.column:<24} missing (null in the processed data)")
            elif m.column is None:
                lines.append(f"  {'':<24} {m.header!r}: extra (ignored)")
            else:
                lines.append(f"  {m.column:<24} <- {m.header!r} ({m.how})")
        if any(m.how == MISSING for m in self.columns):
            lines += ["to map a missing column, add to shopsense.toml (or pass --map \"yours=Theirs\"):",
                      "  [columns]", *(f"  {line}" for line in self.mapping_hints)]
        normalised = ", ".join(f"{code} {n:,}" for code, n in c.normalised.items())
        lines.append(f"normalisations: {normalised or 'none'}")
        lines.append(f"would be quarantined: {c.rows_quarantined:,} of {c.rows_read:,} rows ({share:.1%})"
                     f"; duplicates: {c.rows_duplicate:,}")
        lines += [f"  {line}" for line in describe_reasons(c, top=len(c.reasons))]
        for column, values in self.new_values.items():
            lines.append(f"new values of {column}: " + ", ".join(f"{v} {n:,}" for v, n in values.items()))
        lines.append(f"parsed rows ({len(self.sample)}):")
        lines += ["  " + ", ".join(f"{k}={v}" for k, v in row.items()) for row in self.sample]
        return lines


def inspect(spark: SparkSession, config: Config, path: str, max_rows: int) -> Inspection:
    """Read at most `max_rows` rows of `path` as `ingest` would, and report; nothing is written."""
    header, classified = read_input(spark, config, path, max_rows)
    classified = classified.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = count_outcomes(classified)
        found = new_values(classified)
        sample = [row.asDict() for row in clean_rows(classified).limit(SAMPLE_ROWS).collect()]
    finally:
        classified.unpersist()
    return Inspection(
        input=path, delimiter=header.delimiter, encoding=header.encoding, max_rows=max_rows,
        columns=header.match.matches, mapping_hints=header.match.mapping_hints(), counts=counts,
        new_values=found, sample=[{c: row[c] for c in schema.PROCESSED_COLUMNS} for row in sample])
