"""ML fixtures: small generated homes trained ONCE per test session with tiny models (few trees)."""
from __future__ import annotations

import numpy as np
import pytest

from shopsense.config import MLSettings, load_config
from shopsense.schema import PROCESSED_SCHEMA

# Few trees, shallow search, few ALS iterations: the suite stays fast on a shared 2-core machine.
SMALL = MLSettings(promo_num_trees=(8,), promo_max_depth=(3, 5), season_num_trees=8, season_max_depth=5,
                   als_max_iter=5)
SIGNAL_ROWS = 4000
SHUFFLED_ROWS = 2000


def _trained_home(tmp_path_factory, spark, frame, name):
    from shopsense.ml.training import train_models

    # The session-wide `spark` fixture is passed explicitly: no second session is built.
    config = load_config(home=tmp_path_factory.mktemp(name)).with_overrides(ml=SMALL)
    spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.parquet(str(config.processed_dir))
    return config, train_models(config, spark=spark)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, spark, processed_frame):
    """(config, {name: (model, card)}) of all three models trained on planted-signal data."""
    return _trained_home(tmp_path_factory, spark, processed_frame(SIGNAL_ROWS, seed=11), "signal")


@pytest.fixture(scope="session")
def trained_on_noise(tmp_path_factory, spark, processed_frame):
    """The same on data whose labels are independent of the features: promo and item are permuted."""
    frame = processed_frame(SHUFFLED_ROWS, seed=12)
    rng = np.random.default_rng(0)
    frame["promo_code_used"] = rng.permutation(frame["promo_code_used"].to_numpy())
    frame["item_purchased"] = rng.permutation(frame["item_purchased"].to_numpy())
    return _trained_home(tmp_path_factory, spark, frame, "noise")


@pytest.fixture(scope="session")
def predictor(trained, spark):
    from shopsense.ml.inference import Predictor

    return Predictor(trained[0], spark=spark)
