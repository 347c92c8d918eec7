"""ML fixtures: the same models trained on data without signal (the trained home is in tests/conftest.py)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SHUFFLED_ROWS, TINY_ML, trained_home


@pytest.fixture(scope="session")
def trained_on_noise(tmp_path_factory, spark, processed_frame):
    """The same on data whose labels are independent of the features: promo and item are permuted."""
    frame = processed_frame(SHUFFLED_ROWS, seed=12)
    rng = np.random.default_rng(0)
    frame["promo_code_used"] = rng.permutation(frame["promo_code_used"].to_numpy())
    frame["item_purchased"] = rng.permutation(frame["item_purchased"].to_numpy())
    return trained_home(tmp_path_factory, spark, frame, "noise", settings=TINY_ML)  # evaluation, not learning
