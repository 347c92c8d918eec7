"""Fixtures of the streaming tests."""
from __future__ import annotations

import pytest


@pytest.fixture()
def stream_config(config):
    """A fresh project home; every run --available-now reads all new files in one micro-batch."""
    return config.with_overrides(stream_max_files_per_trigger=0)


@pytest.fixture(scope="session")
def pool(tmp_path_factory):
    """The generator's purchases, in the simulator's raw string layout."""
    from shopsense.config import load_config
    from shopsense.streaming.simulator import load_pool

    return load_pool(load_config(home=tmp_path_factory.mktemp("pool")), "generator", seed=5)[0]
