"""Benchmark inputs: generated purchase logs, cached under benchmarks/data/ (git-ignored).

The generator is deterministic (seed), so a cached file is reused as long as size, seed and dirty fraction
match (they are in the file name). 1% dirty rows make validation, quarantine and dedupe do real work.
"""
from __future__ import annotations

from pathlib import Path

from shopsense.generate import generate, write_csv

DATA_DIR = Path(__file__).parent / "data"
SEED = 42
DIRTY_FRACTION = 0.01


def input_csv(rows: int, seed: int = SEED, dirty_fraction: float = DIRTY_FRACTION, folder: Path = DATA_DIR) -> Path:
    """The cached CSV of `rows` purchases, generated on first use."""
    path = folder / f"shopping_{rows}_seed{seed}_dirty{dirty_fraction:g}.csv"
    if not path.exists():
        # Generated in chunks of distinct seeds would change the data; one call keeps it the generator's own.
        write_csv(generate(rows, seed, dirty_fraction=dirty_fraction), path)
    return path
