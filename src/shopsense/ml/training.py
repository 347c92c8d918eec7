"""`shopsense train`: read the processed data once, fit the requested models, decide what each serves,
log each to MLflow, and save model + card under models/<name>/."""
from __future__ import annotations

from pyspark.sql import DataFrame

from shopsense import io
from shopsense.analytics.report import refresh_models_section
from shopsense.config import Config
from shopsense.errors import NotLearnable
from shopsense.ml.calibration import reliability_plot, write_reliability_plot
from shopsense.ml import tracking
from shopsense.ml.model_card import ModelCard, NotTrainedCard, TrainedModel, save_pipeline, write_card
from shopsense.ml.registry import MODELS, NAMES, ModelSpec
from shopsense.ml.serving import label


def train_one(spec: ModelSpec, df: DataFrame, config: Config) -> TrainedModel:
    """Fit one model on `df`, log it to MLflow (moving or removing `champion`), save it under models/<name>/.
    Its folder outputs (the recommendations) are staged, then committed once the model is saved: until then
    readers keep the previous ones, and a failure leaves them as they were. The card is written last."""
    spark = df.sparkSession
    trained = spec.train(df, config.ml)
    model_dir = config.model_dir(spec.name)
    with io.staged_outputs(spark) as staged:
        if trained.write_outputs is not None:
            staged += trained.write_outputs(model_dir)
        trained.card.mlflow = tracking.log_training(config, spec, trained)
        calibration = trained.card.details.get("calibration")
        if calibration:  # a propensity model: its reliability plot and tables go to the reports
            write_reliability_plot(calibration, reliability_plot(config.reports_dir, spec.name))
            io.write_json(calibration, config.reports_dir / "ml" / f"{spec.name}_calibration.json")
        save_pipeline(trained.model, model_dir)
    write_card(spark, trained.card, model_dir)  # last: its presence means "complete"
    return trained


def train_models(config: Config, names: tuple[str, ...] = NAMES, spark=None) -> dict[str, TrainedModel]:
    """Fit each model in `names`. When several are asked for, one that this data cannot train (NotLearnable,
    e.g. a constant label) is skipped with its reason as its card (NotTrainedCard, no model), its earlier
    model is removed and its `champion` alias too: a model of other data must not be served next to models of
    this data (the app shows the reason instead). Asked for alone, the error reaches the caller (the earlier
    model then stays, as after any failed command)."""
    from shopsense.spark import get_spark

    spark = spark or get_spark(config.spark)
    df = io.read_processed(spark, config).cache()
    trained = {}
    try:
        for name in names:
            try:
                trained[name] = train_one(MODELS[name], df, config)
            except NotLearnable as exc:
                if len(names) == 1:
                    raise NotLearnable(f"model '{name}' cannot be trained: {exc}") from None
                trained[name] = TrainedModel(None, record_not_trained(spark, config, name, str(exc)))
        refresh_models_section(spark, config)  # report.html (when `analyze` wrote one) shows these models now
        return trained
    finally:
        df.unpersist()


def record_not_trained(spark, config: Config, name: str, reason: str) -> NotTrainedCard:
    """Replace model `name` (and anything it saved) by a card holding only why this data cannot train it:
    no pipeline/ = no model; the app and `headline` show the reason."""
    card = NotTrainedCard(name, reason)
    io.delete(spark, config.model_dir(name))
    tracking.remove_champion(config, MODELS[name].registered_name)
    write_card(spark, card, config.model_dir(name))
    return card


def headline(card: ModelCard | NotTrainedCard) -> str:
    """One line per model: what is served, and the held-out evidence for it."""
    if isinstance(card, NotTrainedCard):
        return f"not trained: {card.not_trained}"
    leaky = f"; excluded as leaky: {', '.join(card.excluded_features)}" if card.excluded_features else ""
    return f"serving {label(card.serving)}{leaky}"
