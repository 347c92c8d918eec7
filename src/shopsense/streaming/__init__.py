"""Real-time layer: a file-stream simulator and a Structured Streaming pipeline of five queries.

simulator (files in) -> source (explicit schema, contract validation; parsed once into a Parquet stream)
-> queries (pure DataFrame functions) -> sinks (durable Parquet written by Spark + in-memory SQL tables +
console, exactly once); runner starts and stops them. Design notes: docs/streaming.md.
"""
