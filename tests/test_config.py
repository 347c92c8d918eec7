"""The typed configuration: defaults, the optional `<home>/shopsense.toml`, environment and arguments."""
from __future__ import annotations

import pytest

from shopsense.config import CONFIG_FILE, DEFAULT_ROWS, ENV_MASTER, load_config
from shopsense.errors import ShopSenseError

SETTINGS = """
default_rows = 1000
correlation_threshold = 1
[spark]
master = "local[1]"
shuffle_partitions = 4
[spark.extra]
"spark.executor.memory" = "1g"
[ml]
promo_num_trees = [5, 10]
season_num_trees = 5
"""


def test_defaults_without_a_settings_file(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_MASTER, raising=False)
    config = load_config(home=tmp_path)
    assert config.default_rows == DEFAULT_ROWS and config.spark.master == "local[*]"
    assert config.processed_dir == tmp_path / "data" / "processed" / "shopping"


def test_settings_file_values_are_typed_and_applied(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_MASTER, raising=False)
    (tmp_path / CONFIG_FILE).write_text(SETTINGS)
    config = load_config(home=tmp_path)
    assert config.default_rows == 1000
    assert config.correlation_threshold == 1.0 and isinstance(config.correlation_threshold, float)
    assert config.spark.shuffle_partitions == 4 and config.spark.master == "local[1]"
    assert config.spark.extra == {"spark.executor.memory": "1g"}
    assert config.ml.promo_num_trees == (5, 10) and config.ml.season_num_trees == 5
    assert config.ml.promo_max_depth == (4, 7)  # not in the file: the default


def test_environment_and_arguments_win_over_the_file(tmp_path, monkeypatch):
    (tmp_path / CONFIG_FILE).write_text(SETTINGS)
    monkeypatch.setenv(ENV_MASTER, "local[2]")
    assert load_config(home=tmp_path).spark.master == "local[2]"
    assert load_config(home=tmp_path, master="spark://h:7077").spark.master == "spark://h:7077"


@pytest.mark.parametrize("text, message", [
    ("rows = 5\n", "unknown setting 'rows'"),
    ("[ml]\nnum_trees = 3\n", r"\[ml\]: unknown setting 'num_trees'"),
    ('default_rows = "many"\n', "'default_rows' must be int"),
    ("default_rows = true\n", "'default_rows' must be int"),
    ("[spark]\nshuffle_partitions = 2.5\n", "'shuffle_partitions' must be int"),
    ("spark = 3\n", r"\[spark\] must be a table"),
    ("[spark.extra]\n\"spark.x\" = 1\n", "must map Spark settings to strings"),
    ("default_rows =\n", "not valid TOML"),
])
def test_settings_file_mistakes_are_one_clear_error(tmp_path, text, message):
    (tmp_path / CONFIG_FILE).write_text(text)
    with pytest.raises(ShopSenseError, match=message):
        load_config(home=tmp_path)
