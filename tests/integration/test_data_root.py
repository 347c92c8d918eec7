"""`data_root`: the data outputs and the models at any Hadoop URI give the same results as the home's default
folders; reports and the MLflow store stay in the home. The run with a data root is the cluster run (a `file:`
URI outside its home, tests/integration/conftest.py); the default home is the session's local run of the same
CSV with the same settings (`pipeline_run`)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from pyspark.ml import PipelineModel
from pyspark.testing import assertDataFrameEqual
from typer.testing import CliRunner

from shopsense import io
from shopsense.app import overview
from shopsense.catalog.tables import DATABASE, Catalog
from shopsense.cli import app
from shopsense.config import load_config
from shopsense.ml import tracking
from shopsense.ml.inference import Predictor
from shopsense.ml.model_card import PIPELINE_DIR, TrainedModel, read_card
from shopsense.ml.registry import MODELS, NAMES
from shopsense.ml.training import train_one

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def homes(pipeline_run, cluster_run):
    """(config of the default home, config of the home whose data_root is elsewhere, that URI)."""
    return pipeline_run[0], load_config(home=cluster_run.home), cluster_run.data_root


def test_a_file_uri_data_root_gives_the_outputs_of_the_default(spark, homes):
    default, moved, elsewhere = homes
    assert moved.processed_dir == f"{elsewhere}/processed/shopping"
    assert io.current_location(spark, moved.processed_dir).startswith(f"{elsewhere}/processed/shopping/_snapshots/")
    assert not (moved.home / "data").exists()  # every data output went to the data root
    assert (moved.home / "reports" / "kpis.json").exists()  # the reports stay in the home

    tables = {}
    for home, config in (("default", default), ("moved", moved)):
        catalog = Catalog(spark, config)
        catalog.sync()
        tables[home] = {name: spark.table(f"{DATABASE}.{name}").toPandas() for name in catalog.registered}
    # the default home's run streamed too (the stream_* tables); the cluster run did not
    assert {name for name in tables["default"] if not name.startswith("stream_")} == set(tables["moved"])
    assert {"purchases", "quarantine", "kpis", "recommendations"} <= set(tables["moved"])
    for name, frame in tables["moved"].items():
        assertDataFrameEqual(spark.createDataFrame(frame.astype(str)),
                             spark.createDataFrame(tables["default"][name].astype(str)))


def test_models_under_the_data_root_are_served_as_in_the_default_home(spark, homes):
    default, moved, elsewhere = homes
    assert moved.model_dir("promo") == f"{elsewhere}/models/promo"
    assert default.model_dir("promo") == str(default.home / "models" / "promo")
    assert not (moved.home / "models").exists()  # nothing model-related in the home
    assert (moved.home / "mlflow.db").exists()  # the MLflow store stays in the home
    for name in NAMES:
        assert {PIPELINE_DIR, "metrics.json"} <= set(io.list_names(spark, moved.model_dir(name)))

    served = {"default": Predictor(default, spark=spark), "moved": Predictor(moved, spark=spark)}
    assert served["moved"].status() == served["default"].status() == {name: None for name in NAMES}
    # what is served (a model, or the baseline it did not beat) is decided alike
    assert [served["moved"].serves_model(name) for name in NAMES] == [
        served["default"].serves_model(name) for name in NAMES]
    rows = io.read_processed(spark, default).limit(50).localCheckpoint()
    for name in NAMES:  # each saved model, served or not, predicts the same from either place
        assertDataFrameEqual(*(PipelineModel.load(f"{config.model_dir(name)}/{PIPELINE_DIR}").transform(rows)
                               .select("prediction") for config in (moved, default)))
    customers = sorted(r.customer_id for r in io.read_processed(spark, moved)
                       .select("customer_id").distinct().limit(20).collect())
    assert len(served["moved"].recommendations) == read_card(spark, moved.model_dir("recommender")).split["customers"]
    for customer in (*customers, 10**9):  # known customers and an unknown one (the popularity fallback)
        answer = served["moved"].recommend(customer, k=5)
        assert answer == served["default"].recommend(customer, k=5)
        assert answer["fallback"] == (customer == 10**9)
    profile = served["default"].customer_profile(customers[0])
    for predictor_answer in (lambda p: p.promo_probability(profile), lambda p: p.top_items(profile, "Winter", k=3)):
        assert predictor_answer(served["moved"]) == predictor_answer(served["default"])
    pd.testing.assert_frame_equal(overview.metrics_table(moved), overview.metrics_table(default))
    pd.testing.assert_frame_equal(overview.serving_table(moved), overview.serving_table(default))

    printed = {}
    for name, config in (("default", default), ("moved", moved)):
        out = CliRunner().invoke(app, ["--home", str(config.home), "recommend", "--customer", str(customers[0]),
                                       "-k", "3"])
        assert out.exit_code == 0, out.output
        printed[name] = out.output
    assert printed["moved"] == printed["default"] and "personalised (ALS" in printed["moved"]


def test_the_recommendations_table_reads_the_committed_snapshot(spark, homes, monkeypatch):
    """Training stages the recommendations and commits them after the model is saved: a training that fails
    in between leaves the committed snapshot current (for the app and the catalog) and no staged folder."""
    moved = homes[1]
    model_dir = moved.model_dir("recommender")
    output = f"{model_dir}/recommendations"
    committed = io.current_location(spark, output)
    assert committed.startswith(f"{output}/_snapshots/")
    catalog = Catalog(spark, moved)
    catalog.sync()
    assert catalog.registered["recommendations"].location == committed
    card = read_card(spark, model_dir)
    assert spark.table(f"{DATABASE}.recommendations").count() == card.split["customers"]

    def tracking_down(*args, **kwargs):
        raise RuntimeError("tracking store down")

    monkeypatch.setattr(tracking, "log_training", tracking_down)
    # The saved model and its committed recommendations, handed to `train_one` again: its ALS fits need not run
    # twice to check what `train_one` does with the model's outputs (they are written again, staged).
    saved = TrainedModel(PipelineModel.load(f"{model_dir}/{PIPELINE_DIR}"), card,
                         lambda folder: [io.stage_parquet(spark.read.parquet(committed), output)])
    again = replace(MODELS["recommender"], train=lambda df, settings: saved)
    with pytest.raises(RuntimeError, match="tracking store down"):
        train_one(again, io.read_processed(spark, moved), moved)
    assert io.current_location(spark, output) == committed
    assert io.list_names(spark, f"{output}/_snapshots") == [Path(committed).name]
    assert catalog.sync() == []
