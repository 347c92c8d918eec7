"""`data_root`: the data outputs and the models at any Hadoop URI (here a `file:` URI outside the home) give the
same results as the home's default folders; reports and the MLflow store stay in the home."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
from pyspark.testing import assertDataFrameEqual
from typer.testing import CliRunner

from shopsense import io
from shopsense.analytics.stage import analyze
from shopsense.app import overview
from shopsense.catalog.tables import DATABASE, Catalog
from shopsense.cli import app
from shopsense.config import Config, load_config
from shopsense.generate import generate, write_csv
from shopsense.ingest.stage import ingest
from shopsense.ml import tracking
from shopsense.ml.inference import Predictor
from shopsense.ml.model_card import PIPELINE_DIR, read_card
from shopsense.ml.registry import MODELS, NAMES
from shopsense.ml.training import train_models, train_one
from tests.conftest import TINY_ML

pytestmark = pytest.mark.slow


@dataclass
class Home:
    config: Config
    ingest_summary: dict
    trained: dict


@pytest.fixture(scope="module")
def homes(spark, tmp_path_factory) -> tuple[Home, Home, str]:
    """(default home, home whose data_root is a file: URI elsewhere, that URI): the same generated file
    ingested, analysed and trained (tiny models, served whatever their lift: the answers come from the
    models) in each. The moved home's data_root is in its settings file, so the CLI run on it uses it too."""
    tmp = tmp_path_factory.mktemp("data_root")
    raw = write_csv(generate(800, seed=4, dirty_fraction=0.05), tmp / "raw.csv")
    elsewhere = (tmp / "elsewhere" / "shopsense").as_uri()  # file:///...
    (tmp / "moved").mkdir()
    (tmp / "moved" / "shopsense.toml").write_text(f'data_root = "{elsewhere}"\n')
    homes = []
    for name in ("default", "moved"):
        config = load_config(home=tmp / name).with_overrides(ml=replace(TINY_ML, serve_model_anyway=True))
        summary = ingest(spark, config, raw).to_dict()
        analyze(spark, config)
        homes.append(Home(config, summary, train_models(config, spark=spark)))
    return homes[0], homes[1], elsewhere


def test_a_file_uri_data_root_gives_the_outputs_of_the_default(spark, homes):
    default, moved, elsewhere = homes
    assert moved.config.processed_dir == f"{elsewhere}/processed/shopping"
    assert io.current_location(spark, moved.config.processed_dir).startswith(
        f"{elsewhere}/processed/shopping/_snapshots/")
    assert not (moved.config.home / "data").exists()  # every data output went to the data root
    summaries = [{k: v for k, v in home.ingest_summary.items() if k not in ("seconds", "outputs")}
                 for home in (default, moved)]
    assert summaries[0] == summaries[1]
    assert json.loads(default.config.kpis_json.read_text()) == json.loads(moved.config.kpis_json.read_text())
    for csv in default.config.queries_dir.glob("*.csv"):
        assert (moved.config.queries_dir / csv.name).read_text() == csv.read_text(), csv.name

    tables = {}
    for home in (default, moved):
        catalog = Catalog(spark, home.config)
        catalog.sync()
        tables[home.config.home.name] = {name: spark.table(f"{DATABASE}.{name}").toPandas()
                                         for name in catalog.registered}
    assert sorted(tables["moved"]) == sorted(tables["default"])
    assert {"purchases", "quarantine", "kpis", "recommendations"} <= set(tables["moved"])
    for name, frame in tables["default"].items():
        assertDataFrameEqual(spark.createDataFrame(tables["moved"][name].astype(str)),
                             spark.createDataFrame(frame.astype(str)))


def test_models_under_the_data_root_are_served_as_in_the_default_home(spark, homes):
    default, moved, elsewhere = homes
    assert moved.config.model_dir("promo") == f"{elsewhere}/models/promo"
    assert default.config.model_dir("promo") == str(default.config.home / "models" / "promo")
    assert not (moved.config.home / "models").exists()  # nothing model-related in the home
    assert (moved.config.home / "mlflow.db").exists()  # the MLflow store stays in the home
    for name in NAMES:
        assert read_card(spark, moved.config.model_dir(name)) == moved.trained[name].card
        assert {PIPELINE_DIR, "metrics.json"} <= set(io.list_names(spark, moved.config.model_dir(name)))

    served = {home.config.home.name: Predictor(home.config, spark=spark) for home in (default, moved)}
    assert served["moved"].status() == served["default"].status() == {name: None for name in NAMES}
    assert all(served["moved"].serves_model(name) for name in NAMES)
    customers = sorted(r.customer_id for r in io.read_processed(spark, moved.config)
                       .select("customer_id").distinct().limit(20).collect())
    assert len(served["moved"].recommendations) == moved.trained["recommender"].card.split["customers"]
    for customer in (*customers, 10**9):  # known customers and an unknown one (the popularity fallback)
        answer = served["moved"].recommend(customer, k=5)
        assert answer == served["default"].recommend(customer, k=5)
        assert answer["fallback"] == (customer == 10**9)
    profile = served["default"].customer_profile(customers[0])
    for predictor_answer in (lambda p: p.promo_probability(profile), lambda p: p.top_items(profile, "Winter", k=3)):
        assert predictor_answer(served["moved"]) == predictor_answer(served["default"])
    pd.testing.assert_frame_equal(overview.metrics_table(moved.config), overview.metrics_table(default.config))
    pd.testing.assert_frame_equal(overview.serving_table(moved.config), overview.serving_table(default.config))

    printed = {}
    for home in (default, moved):
        out = CliRunner().invoke(app, ["--home", str(home.config.home), "recommend", "--customer",
                                       str(customers[0]), "-k", "3"])
        assert out.exit_code == 0, out.output
        printed[home.config.home.name] = out.output
    assert printed["moved"] == printed["default"] and "personalised (ALS" in printed["moved"]


def test_the_recommendations_table_reads_the_committed_snapshot(spark, homes, monkeypatch):
    """Training stages the recommendations and commits them after the model is saved: a training that fails
    in between leaves the committed snapshot current (for the app and the catalog) and no staged folder."""
    moved = homes[1].config
    output = f"{moved.model_dir('recommender')}/recommendations"
    committed = io.current_location(spark, output)
    assert committed.startswith(f"{output}/_snapshots/")
    catalog = Catalog(spark, moved)
    catalog.sync()
    assert catalog.registered["recommendations"].location == committed
    assert spark.table(f"{DATABASE}.recommendations").count() == homes[1].trained["recommender"].card.split["customers"]

    def tracking_down(*args, **kwargs):
        raise RuntimeError("tracking store down")

    monkeypatch.setattr(tracking, "log_training", tracking_down)
    # The model the fixture trained, handed to `train_one` again: its ALS fits need not run twice to check
    # what `train_one` does with the model's outputs (they are written again, staged).
    again = replace(MODELS["recommender"], train=lambda df, settings: homes[1].trained["recommender"])
    with pytest.raises(RuntimeError, match="tracking store down"):
        train_one(again, io.read_processed(spark, moved), moved)
    assert io.current_location(spark, output) == committed
    assert io.list_names(spark, f"{output}/_snapshots") == [Path(committed).name]
    assert catalog.sync() == []
