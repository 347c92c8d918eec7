"""Spark interval strings ("2 minutes", "1 minute", "5 seconds") as numbers, for the few places that need
arithmetic on the configured watermark and window (the simulator, the data-quality query)."""
from __future__ import annotations

import re

from shopsense.errors import ShopSenseError

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def interval_seconds(text: str) -> float:
    """'2 minutes' -> 120.0. Accepts '<number> <second|minute|hour|day>[s]'."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day)s?\s*", text.lower())
    if not match:
        raise ShopSenseError(f"not an interval like '2 minutes': {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
