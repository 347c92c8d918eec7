"""Ingestion layer: raw CSV -> validated, de-duplicated Parquet, quarantine, correlation reports.

Modules: `columns` (header matching, `[columns]` mapping), `read` (format detection, header check,
explicit-schema read), `validate` (normalisation and the data contract -> reason codes, typed columns),
`split` (duplicates, clean/quarantined/duplicate counts), `stage` (the `shopsense ingest` run, the
quarantine-share guard, the summary), `inspect` (`shopsense inspect`), `atomic` (staged folder swap),
`correlation` (Pearson/Spearman, reduction candidates, CSV/JSON/PNG). See docs/ingest.md.
"""
