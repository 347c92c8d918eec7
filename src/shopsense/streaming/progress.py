"""Compact progress lines for a human: one per micro-batch of every query."""
from __future__ import annotations

from typing import Callable

from pyspark.sql.streaming import StreamingQueryListener


def format_progress(progress: dict) -> str:
    """One line from a StreamingQueryProgress (as a dict, like query.lastProgress)."""
    watermark = (progress.get("eventTime") or {}).get("watermark", "-")
    duration_ms = (progress.get("durationMs") or {}).get("triggerExecution", 0)
    dropped = sum(op.get("numRowsDroppedByWatermark", 0) for op in progress.get("stateOperators") or [])
    return (
        f"[progress] {progress.get('name')} batch {progress.get('batchId')}: "
        f"{progress.get('numInputRows', 0)} rows, "
        f"in {float(progress.get('inputRowsPerSecond') or 0):,.1f} rows/s, "
        f"processed {float(progress.get('processedRowsPerSecond') or 0):,.1f} rows/s, "
        f"batch {duration_ms / 1000:.2f} s, watermark {watermark}, dropped by watermark {dropped}"
    )


class ProgressPrinter(StreamingQueryListener):
    """Prints every progress event and query termination (errors included) through `printer`."""

    def __init__(self, printer: Callable[[str], None]):
        self.printer = printer

    def onQueryStarted(self, event) -> None:
        self.printer(f"[started] {event.name} ({event.id})")

    def onQueryProgress(self, event) -> None:
        import json

        self.printer(format_progress(json.loads(event.progress.json)))

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        from shopsense.streaming.sinks import STOP_MARKER

        failed = event.exception and STOP_MARKER not in event.exception
        status = f"failed: {event.exception.strip().splitlines()[0]}" if failed else "stopped"
        self.printer(f"[terminated] query {event.id} {status}")
