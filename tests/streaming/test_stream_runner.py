"""Starting the pipeline: what it refuses before any query starts."""
from __future__ import annotations

import pytest

from shopsense.config import load_config
from shopsense.errors import ShopSenseError
from shopsense.streaming.runner import start_pipeline


def test_checkpoints_of_separate_window_queries_are_refused_with_the_way_out(spark, tmp_path):
    config = load_config(home=tmp_path)
    old = tmp_path / "stream" / "checkpoints" / "category_performance" / "offsets"
    old.mkdir(parents=True)
    with pytest.raises(ShopSenseError, match="earlier ShopSense version.*move .*checkpoints.* aside"):
        start_pipeline(spark, config, printer=None)
    assert not spark.streams.active
