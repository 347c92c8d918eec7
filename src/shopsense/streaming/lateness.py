"""Which rows the window queries drop as late, replayed by the data-quality query so it can count them.

The pipeline runs with `spark.sql.streaming.statefulOperator.allowMultiple=false` (each query has one
stateful operator, so nothing is lost): Spark then uses ONE watermark per micro-batch, both for dropping
late rows and for closing windows, and it equals

    watermark(N) = max(valid event time over micro-batches < N) - delay      (no rows yet: no watermark)

A window aggregation drops a row of batch N when its window end <= watermark(N). With one file per
micro-batch (Config.stream_max_files_per_trigger = 1) every query cuts the input into the same batches, so
the data-quality query, which is stateless and sees every row, can apply the same rule and count them.

The running maximum is kept in a small JSON file next to the query's checkpoint. It records the batch it
was last updated for together with the maximum *before* that batch, so a replay of that batch after a
crash (sink done, commit not) computes the same watermark again.
"""
from __future__ import annotations

import json
from pathlib import Path

from shopsense.io import write_json

SINGLE_WATERMARK_CONF = {"spark.sql.streaming.statefulOperator.allowMultiple": "false"}


class WatermarkTracker:
    def __init__(self, path: Path, delay_ms: int):
        self.path, self.delay_ms = Path(path), delay_ms
        self.state = json.loads(self.path.read_text()) if self.path.exists() else None

    def _max_before(self, batch_id: int) -> int | None:
        if self.state is None:
            return None
        if batch_id == self.state["batch_id"]:  # a replay of the last recorded batch
            return self.state["max_before_ms"]
        if batch_id < self.state["batch_id"]:
            raise RuntimeError(f"batch {batch_id} is older than the recorded batch {self.state['batch_id']}")
        return self.state["max_after_ms"]

    def watermark_ms(self, batch_id: int) -> int | None:
        """The watermark in force for micro-batch `batch_id` (epoch ms), None before any valid row."""
        before = self._max_before(batch_id)
        return None if before is None else before - self.delay_ms

    def record(self, batch_id: int, batch_max_ms: int | None) -> None:
        """Remember the largest valid event time of micro-batch `batch_id` (None: no valid row)."""
        before = self._max_before(batch_id)
        after = max((v for v in (before, batch_max_ms) if v is not None), default=None)
        self.state = {"batch_id": batch_id, "max_before_ms": before, "max_after_ms": after}
        write_json(self.state, self.path)
