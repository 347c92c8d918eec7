"""MLflow tracking and registry, local and offline: one run per trained model in experiment `shopsense`,
one registered version per run, and the `champion` alias as the one source of truth for what is served.

The tracking store defaults to `sqlite:///<home>/mlflow.db` with artifacts under `<home>/mlruns`
(Config.tracking_uri; MLFLOW_TRACKING_URI wins). Telemetry is switched off before mlflow is imported.
"""
from __future__ import annotations

import io
import logging
import os
from contextlib import contextmanager, redirect_stderr
from typing import TYPE_CHECKING

from shopsense.config import Config
from shopsense.errors import ShopSenseError

if TYPE_CHECKING:
    from shopsense.ml.model_card import TrainedModel
    from shopsense.ml.registry import ModelSpec

EXPERIMENT = "shopsense"
CHAMPION = "champion"
MODEL_ARTIFACT = "model"
CARD_ARTIFACT = "card.json"

log = logging.getLogger(__name__)


def _mlflow():
    """mlflow, imported with its usage telemetry off (nothing leaves the machine)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its INFO lines, also outside `_quiet`
    return mlflow


@contextmanager
def _quiet():
    """MLflow's own console lines ("Successfully registered model ...", "Created version ...", store
    migrations, download progress) kept off the console: its `eprint` and its loggers write to whatever
    `sys.stderr` is at the time, so they are captured here and passed on at DEBUG level. (`mlflow.utils.
    logging_utils.disable_logging` does not hold: `log_model` re-enables the stream on its way out.)
    Failures still reach the user, as an MlflowException turned into a ShopSenseError."""
    captured = io.StringIO()
    try:
        with redirect_stderr(captured):
            yield
    finally:
        if captured.getvalue().strip():
            log.debug("mlflow: %s", captured.getvalue().strip())


@contextmanager
def _fluent(config: Config):
    """mlflow's fluent API (runs, `log_model`, `load_model`) on this config's store. `mlflow.set_tracking_uri`
    also exports MLFLOW_TRACKING_URI to the whole process, which would then override every later config's
    store (Config.tracking_uri reads it): the previous value is restored on exit."""
    mlflow = _mlflow()
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(config.tracking_uri)
    try:
        yield mlflow
    finally:
        mlflow.set_tracking_uri(previous)  # None also removes the variable


def client(config: Config):
    return _mlflow().MlflowClient(tracking_uri=config.tracking_uri)


def _experiment_id(config: Config) -> str:
    tracker = client(config)
    experiment = tracker.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    local = config.tracking_uri.startswith(("sqlite:", "file:")) or "://" not in config.tracking_uri
    # A local store keeps its artifacts in the home (MLflow's default is ./mlruns of the working directory).
    location = (config.home / "mlruns").as_uri() if local else None
    return tracker.create_experiment(EXPERIMENT, artifact_location=location)


def _flat(prefix: str, value, out: dict) -> dict:
    """Nested dicts as dotted keys (MLflow params and metrics are flat)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value
    return out


def log_training(config: Config, spec: "ModelSpec", trained: "TrainedModel") -> dict:
    """Log one run (params, metrics, the card, the data fingerprint, the PipelineModel), register a version of
    the model, and point `champion` at it when the card serves the model, else remove `champion`.
    Returns the card's `mlflow` section."""
    import pyspark

    mlflow = _mlflow()
    card = trained.card
    with _quiet():
        try:
            experiment_id = _experiment_id(config)
            with _fluent(config), mlflow.start_run(experiment_id=experiment_id, run_name=spec.name) as run:
                params = {k: v for k, v in _flat("", card.params, {}).items() if k != "search.grid"}
                mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
                metrics = {k: float(v) for k, v in _flat("", card.metrics, {}).items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool)}
                # The headline metric and its baseline under fixed names: runs of one model compare at a glance.
                metrics |= {f"test_{spec.metric}": float(card.metrics["model"][spec.metric]),
                            f"baseline_{spec.metric}": float(card.metrics[spec.baseline][spec.metric]),
                            "lift_ci_low": card.serving.lift_low, "lift_ci_high": card.serving.lift_high}
                mlflow.log_metrics(metrics)
                mlflow.set_tags({"model": spec.name, "serving": card.serving.serving,
                                 "data_fingerprint.rows": card.data_fingerprint["rows"],
                                 "data_fingerprint.hash": card.data_fingerprint["hash"]})
                mlflow.log_dict(card.to_json(), CARD_ARTIFACT)
                # Requirements stated, not inferred: inference would load the model again in a subprocess.
                info = mlflow.spark.log_model(trained.model, MODEL_ARTIFACT, registered_model_name=spec.registered_name,
                                              pip_requirements=[f"pyspark=={pyspark.__version__}"])
            version = str(info.registered_model_version)
            tracker = client(config)
            if card.serving.serves_model:
                tracker.set_registered_model_alias(spec.registered_name, CHAMPION, version)
            else:
                remove_champion(config, spec.registered_name)
        except mlflow.exceptions.MlflowException as exc:
            raise ShopSenseError(f"MLflow tracking at {config.tracking_uri} failed: {exc}") from None
    return {"run_id": run.info.run_id, "registered_model": spec.registered_name, "version": version,
            "champion": card.serving.serves_model, "tracking_uri": config.tracking_uri}


def remove_champion(config: Config, registered_name: str) -> None:
    """No `champion` for this model: its baseline is served (also when it could not be trained on this data)."""
    mlflow = _mlflow()
    tracker = client(config)
    try:
        tracker.delete_registered_model_alias(registered_name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        pass  # no such model or alias: nothing to remove


def champion_version(config: Config, registered_name: str) -> str | None:
    """The version the `champion` alias points to, or None (no alias, no model, no tracking store yet)."""
    if config.tracking_uri.startswith("sqlite:///") and not os.path.exists(config.tracking_uri[len("sqlite:///"):]):
        return None  # nothing trained here yet; and opening a SQLite URI would create an empty store
    mlflow = _mlflow()
    try:
        return str(client(config).get_model_version_by_alias(registered_name, CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return None


def load_champion(config: Config, registered_name: str):
    """The champion's Spark PipelineModel (`models:/<name>@champion`)."""
    with _quiet(), _fluent(config) as mlflow:
        return mlflow.spark.load_model(f"models:/{registered_name}@{CHAMPION}")
