"""`data_root`: the data outputs at any Hadoop URI (here a `file:` URI outside the home) give the same
results as the home's default folders; reports stay in the home."""
from __future__ import annotations

import json

import pytest
from pyspark.testing import assertDataFrameEqual

from shopsense import io
from shopsense.analytics.stage import analyze
from shopsense.catalog.tables import DATABASE, Catalog
from shopsense.config import load_config
from shopsense.generate import generate, write_csv
from shopsense.ingest.stage import ingest

pytestmark = pytest.mark.slow


def test_a_file_uri_data_root_gives_the_outputs_of_the_default(spark, tmp_path, settings_kept):
    raw = write_csv(generate(800, seed=4, dirty_fraction=0.05), tmp_path / "raw.csv")
    elsewhere = (tmp_path / "elsewhere" / "shopsense").as_uri()  # file:///...
    default = load_config(home=tmp_path / "default")
    moved = load_config(home=tmp_path / "moved").with_overrides(data_root=elsewhere)
    summaries = {}
    with settings_kept():
        for config in (default, moved):
            summaries[config.home.name] = ingest(spark, config, raw).to_dict()
            analyze(spark, config)

    assert moved.processed_dir == f"{elsewhere}/processed/shopping"
    assert io.current_location(spark, moved.processed_dir).startswith(f"{elsewhere}/processed/shopping/_snapshots/")
    assert not (moved.home / "data").exists()  # every data output went to the data root
    for config in (default, moved):
        summaries[config.home.name].pop("seconds")
        summaries[config.home.name].pop("outputs")
    assert summaries["default"] == summaries["moved"]
    assert json.loads(default.kpis_json.read_text()) == json.loads(moved.kpis_json.read_text())
    for csv in default.queries_dir.glob("*.csv"):
        assert (moved.queries_dir / csv.name).read_text() == csv.read_text(), csv.name

    tables = {}
    for config in (default, moved):
        catalog = Catalog(spark, config)
        catalog.sync()
        tables[config.home.name] = {name: spark.table(f"{DATABASE}.{name}").toPandas() for name in catalog.registered}
    assert sorted(tables["moved"]) == sorted(tables["default"])
    assert "purchases" in tables["moved"] and "quarantine" in tables["moved"] and "kpis" in tables["moved"]
    for name, frame in tables["default"].items():
        assertDataFrameEqual(spark.createDataFrame(tables["moved"][name].astype(str)),
                             spark.createDataFrame(frame.astype(str)))
