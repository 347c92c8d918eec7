"""Fixtures of the app tests."""
from __future__ import annotations

import pytest

from fake_predictor import PROMO_INPUTS, SEASON_INPUTS, FakePredictor


@pytest.fixture()
def fake_ctx(config):
    """Factory: an AppContext around a FakePredictor (models listed in `missing` are reported absent)."""
    from shopsense.app.handlers import AppContext
    from shopsense.app.profile import profile_fields

    def make(missing: dict[str, str] | None = None) -> AppContext:
        return AppContext(config=config, predictor=FakePredictor(missing),
                          season_fields=profile_fields(SEASON_INPUTS, exclude=("season",)),
                          promo_fields=profile_fields(PROMO_INPUTS))

    return make
