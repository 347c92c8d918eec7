"""Atomic folder outputs: Spark writes into a hidden sibling folder, which then replaces the target.

A run that fails while writing leaves the previous output untouched (the staging folder is removed); the
swap itself is two renames on the same file system, and the previous output is restored if the second one
fails. Paths are local (or a shared mount on a cluster), like every path of `shopsense.config`.
"""
from __future__ import annotations

import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pyspark.sql import DataFrame


def _sibling(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{tag}-{uuid.uuid4().hex[:12]}")


def stage_parquet(df: DataFrame, target: Path) -> Path:
    """Write `df` as Parquet next to `target` (not yet visible); return the staging folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.staging-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    staging = _sibling(target, "staging")
    try:
        df.write.mode("errorifexists").parquet(str(staging))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def commit(staging: Path, target: Path) -> Path:
    """Replace `target` by `staging` (rename old away, rename new in, delete old)."""
    previous = _sibling(target, "previous") if target.exists() else None
    if previous:
        target.rename(previous)
    try:
        staging.rename(target)
    except BaseException:
        if previous:
            previous.rename(target)
        raise
    if previous:
        shutil.rmtree(previous, ignore_errors=True)
    return target


@contextmanager
def staged_outputs() -> Iterator[list[tuple[Path, Path]]]:
    """Collect (staging, target) pairs; commit them all only if the block succeeds, else discard them."""
    pairs: list[tuple[Path, Path]] = []
    try:
        yield pairs
    except BaseException:
        for staging, _ in pairs:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    for staging, target in pairs:
        commit(staging, target)
