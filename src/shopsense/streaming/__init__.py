"""Real-time layer: a file-stream simulator and a Structured Streaming pipeline of five queries.

simulator (files in) -> source (explicit schema, contract validation) -> queries (pure DataFrame
functions) -> sinks (durable Parquet + in-memory SQL tables + console, exactly once) ; runner starts and
stops them. Design notes: docs/streaming.md.
"""
