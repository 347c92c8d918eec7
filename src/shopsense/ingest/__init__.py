"""Ingestion layer: raw CSV -> validated, de-duplicated Parquet, quarantine, correlation reports.

Modules: `read` (header check, explicit-schema read), `validate` (data contract -> reason codes, typed
columns), `split` (duplicates, clean/quarantined/duplicate counts), `atomic` (staged folder swap),
`correlation` (Pearson/Spearman, reduction candidates, CSV/JSON/PNG), `pipeline` (the `shopsense ingest` run).
See docs/ingest.md.
"""
