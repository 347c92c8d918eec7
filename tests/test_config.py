"""The typed configuration: defaults, the optional `<home>/shopsense.toml`, environment and arguments."""
from __future__ import annotations

import re

import pytest

from shopsense.config import CONFIG_FILE, DEFAULT_ROWS, ENV_MASTER, Config, MLSettings, load_config
from shopsense.errors import ShopSenseError

SETTINGS = """
run_rows = 1000
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
    assert config.run_rows == DEFAULT_ROWS and config.spark.master == "local[*]"
    assert config.processed_dir == str(tmp_path / "data" / "processed" / "shopping")
    assert config.model_dir("promo") == str(tmp_path / "models" / "promo")


def test_data_root_moves_every_data_output_but_not_the_reports(tmp_path):
    config = Config(home=tmp_path, data_root="hdfs://nn:8020/shopsense/")
    assert config.processed_dir == "hdfs://nn:8020/shopsense/processed/shopping"
    assert config.quarantine_rows_dir == "hdfs://nn:8020/shopsense/quarantine/shopping"
    assert config.model_dir("promo") == "hdfs://nn:8020/shopsense/models/promo"
    assert config.stream_output_dir == "hdfs://nn:8020/shopsense/stream/output"
    assert config.analytics_dir == "hdfs://nn:8020/shopsense/analytics"
    assert config.kpis_json == tmp_path / "reports" / "kpis.json"
    with pytest.raises(ShopSenseError, match="'data_root' must be a URI"):
        Config(home=tmp_path, data_root="relative/folder")


def test_settings_file_values_are_typed_and_applied(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_MASTER, raising=False)
    (tmp_path / CONFIG_FILE).write_text(SETTINGS)
    config = load_config(home=tmp_path)
    assert config.run_rows == 1000
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
    ('run_rows = "many"\n', "'run_rows' must be int"),
    ("run_rows = true\n", "'run_rows' must be int"),
    ("[spark]\nshuffle_partitions = 2.5\n", "'shuffle_partitions' must be int"),
    ("spark = 3\n", r"\[spark\] must be a table"),
    ("[spark.extra]\n\"spark.x\" = 1\n", "must map Spark settings to strings"),
    ("run_rows =\n", "not valid TOML"),
])
def test_settings_file_mistakes_are_one_clear_error(tmp_path, text, message):
    (tmp_path / CONFIG_FILE).write_text(text)
    with pytest.raises(ShopSenseError, match=message):
        load_config(home=tmp_path)


@pytest.mark.parametrize("text, message", [
    ("default_dirty_fraction = 2\n", r"'default_dirty_fraction' must be between 0 and 1, got 2.0"),
    ("run_rows = 0\n", "'run_rows' must be at least 1, got 0"),
    ("correlation_threshold = -0.1\n", "'correlation_threshold' must be between 0 and 1"),
    ("app_port = 70000\n", "'app_port' must be between 1 and 65535"),
    ("stream_anomaly_z = 0\n", "'stream_anomaly_z' must be above 0"),
    ("stream_revenue_min_history = 11\n", "'stream_revenue_min_history' must be between 1 and 10"),
    ('stream_window = "one minute"\n', "'stream_window': not an interval like '2 minutes'"),
    ('stream_trigger = "0 seconds"\n', "'stream_trigger' must be longer than 0"),
    ("[spark]\nshuffle_partitions = 0\n", r"\[spark\] 'shuffle_partitions' must be at least 1"),
    ('[spark]\ndriver_memory = "lots"\n', r"\[spark\] 'driver_memory' must be a size like '2g'"),
    ('[spark]\nlog_level = "loud"\n', r"\[spark\] 'log_level' must be one of ALL, TRACE"),
    ("[ml]\ntest_fraction = 1\n", r"\[ml\] 'test_fraction' must be between 0 and 1 \(both excluded\)"),
    ("[ml]\ncv_folds = 1\n", r"\[ml\] 'cv_folds' must be at least 2"),
    ("[ml]\npromo_max_depth = [4, 40]\n", r"'promo_max_depth' must be between 1 and 30 \(each value\)"),
    ("[ml]\npromo_num_trees = []\n", r"'promo_num_trees' must be at least 1 \(each value\), got \(\)"),
])
def test_settings_out_of_range_name_the_file_and_the_setting(tmp_path, text, message):
    """A value of the right type but out of range fails when the config is loaded, not inside a stage."""
    (tmp_path / CONFIG_FILE).write_text(text)
    with pytest.raises(ShopSenseError, match=f"^{re.escape(str(tmp_path / CONFIG_FILE))}: setting .*{message}"):
        load_config(home=tmp_path)


def test_values_at_the_edges_of_their_ranges_are_accepted(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(
        "default_dirty_fraction = 1\ncorrelation_threshold = 0\nstream_revenue_min_history = 10\n"
        'stream_watermark = "0 seconds"\napp_port = 65535\n[spark]\ndriver_memory = "4096M"\n'
        '[ml]\nleakage_auc_threshold = 1\npromo_max_depth = [1, 30]\n')
    config = load_config(home=tmp_path)
    assert config.default_dirty_fraction == 1.0 and config.ml.promo_max_depth == (1, 30)


def test_settings_built_in_code_are_checked_too(tmp_path):
    with pytest.raises(ShopSenseError, match=r"^setting \[ml\] 'als_rank' must be at least 1, got 0$"):
        MLSettings(als_rank=0)
    with pytest.raises(ShopSenseError, match="^setting 'analyze_concurrent_queries' must be at least 1"):
        Config(home=tmp_path).with_overrides(analyze_concurrent_queries=0)


def test_the_old_name_of_run_rows_is_read_with_a_warning(tmp_path, capsys):
    (tmp_path / CONFIG_FILE).write_text("default_rows = 300\n")
    assert load_config(home=tmp_path).run_rows == 300
    assert "setting 'default_rows' is now called 'run_rows'" in capsys.readouterr().err
    (tmp_path / CONFIG_FILE).write_text("default_rows = 300\nrun_rows = 400\n")
    with pytest.raises(ShopSenseError, match="'default_rows' is the old name of 'run_rows': keep only 'run_rows'"):
        load_config(home=tmp_path)
