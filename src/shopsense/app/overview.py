"""The Overview tab's data: headline KPIs and plots written by `shopsense analyze` (local reports), model
cards of `train` (on the data root).

Only reads files; whatever is missing is reported with the command that produces it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shopsense import io
from shopsense.config import Config
from shopsense.ml.model_card import CARD_FILE

MODEL_NAMES = ("promo", "season", "recommender")
METRIC_COLUMNS = ("model", "metric", "test", "baseline", "baseline name")
SERVING_COLUMNS = ("model", "serving", "metric", "model value", "baseline", "baseline value", "lift CI low",
                   "lift CI high", "reason")
ANALYZE = "run `shopsense analyze`"
# Counts and settings the model cards record next to the metrics: not a measure of quality.
NOT_METRICS = frozenset({"k", "rows", "users", "threshold", "positive_rate"})


@dataclass
class Reports:
    kpis: dict[str, Any] | None
    plots: list[Path]
    notes: list[str] = field(default_factory=list)  # what is missing and how to produce it


def read_json(path: Path) -> tuple[Any, str | None]:
    """(data, None) or (None, why not) — a damaged file is reported, not raised."""
    if not path.exists():
        return None, f"{path} is missing"
    try:
        return json.loads(path.read_text()), None
    except (OSError, ValueError) as exc:
        return None, f"{path} cannot be read ({exc})"


def load_reports(config: Config) -> Reports:
    kpis, problem = read_json(config.kpis_json)
    notes = [f"{problem}: {ANALYZE}"] if problem else []
    plots = sorted(config.plots_dir.glob("*.png")) + sorted((config.reports_dir / "ml").glob("*.png"))
    if not plots:
        notes.append(f"no plots in {config.plots_dir}: {ANALYZE}")
    return Reports(kpis if isinstance(kpis, dict) else None, plots, notes)


def pretty(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {pretty(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(pretty(v) for v in value)
    return str(value)


def kpi_markdown(kpis: dict[str, Any] | None) -> str:
    """The KPIs as a two-column Markdown table, worded as `shopsense analyze` prints them.

    A file of another layout (older or newer analytics) is still shown, key by key in the file's order.
    """
    from shopsense.analytics.eda import format_kpis

    if not kpis:
        return ""
    try:
        pairs = [line.split(": ", 1) for line in format_kpis(kpis)]
    except (KeyError, TypeError, ValueError, AttributeError):
        pairs = [(key.replace("_", " "), pretty(value)) for key, value in kpis.items()]
    return "\n".join(["| KPI | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in pairs)])


def model_card(config: Config, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the card of model `name`, None) or (None, why not and the command to run). Cards are on the data
    root, so they are read through the Hadoop FileSystem of the app's Spark session."""
    uri = f"{config.model_dir(name)}/{CARD_FILE}"
    try:
        card = io.read_json(_spark(config), uri)
        problem = None if card is not None else f"{uri} is missing"
    except ValueError as exc:
        card, problem = None, f"{uri} cannot be read ({exc})"
    if problem:
        return None, f"{problem}: run `shopsense train {name}`"
    if "not_trained" in card:  # written by `train all` when this data cannot train the model
        return None, f"not trained on this data: {card['not_trained']}"
    return card, None


def _spark(config: Config):
    """The app's Spark session (the Predictor's), created only when there is none yet."""
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    from shopsense.spark import get_spark

    try:
        return SparkSession.active()
    except PySparkRuntimeError:
        return get_spark(config.spark)


def metrics_table(config: Config) -> pd.DataFrame:
    """One row per (model, test metric, baseline): how far to trust each model, next to its baseline."""
    rows = []
    for name in MODEL_NAMES:
        card, problem = model_card(config, name)
        if card is None:
            rows.append((name, problem, None, None, ""))
            continue
        test, baselines = card_metrics(card)
        for metric, value in test.items():
            matching = [(b, m[metric]) for b, m in baselines.items() if is_metric(m.get(metric))]
            for baseline_name, baseline in matching or [("", None)]:
                rows.append((name, metric, number(value), number(baseline), baseline_name))
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def card_metrics(card: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(test metrics, {baseline name: its metrics}) of a model card.

    The ML layer's card holds `metrics.model` (held-out test metrics) and `metrics.baseline_<name>` (the same
    metrics of each baseline); other entries (e.g. the recommender's variants) are not baselines.
    """
    metrics = card.get("metrics") or {}
    test = metrics.get("model") or {}
    baselines = {key.removeprefix("baseline_").replace("_", " "): value for key, value in metrics.items()
                 if key.startswith("baseline_") and isinstance(value, dict)}
    return {k: v for k, v in test.items() if is_metric(v) and k not in NOT_METRICS}, baselines


def is_metric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)



def number(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def serving_table(config: Config) -> pd.DataFrame:
    """Each trained model's serving decision made at training: model or baseline, the 95% lift interval, why.
    (What the app serves also needs the `champion` alias: the Models status above says so.)"""
    rows = []
    for name in MODEL_NAMES:
        card, _ = model_card(config, name)
        decision = (card or {}).get("serving")
        if decision:
            rows.append((name, decision["serving"], decision["metric"], decision["model_value"], decision["baseline"],
                         decision["baseline_value"], decision["lift_low"], decision["lift_high"], decision["reason"]))
    return pd.DataFrame(rows, columns=list(SERVING_COLUMNS))


def propensity_markdown(config: Config) -> str:
    """The promo model's propensity norms: Brier score, reliability table, decile lift/gain table."""
    card, _ = model_card(config, "promo")
    calibration = ((card or {}).get("details") or {}).get("calibration")
    if not calibration:
        return ""
    reliability = ["| predicted bin | rows | mean predicted | observed |", "|---|---|---|---|",
                   *(f"| {r['bin']} | {r['rows']:,} | {r['predicted']:.3f} | {r['observed']:.3f} |"
                     for r in calibration["reliability"])]
    deciles = ["| decile (best first) | rows | promo rate | lift | cumulative gain |", "|---|---|---|---|---|",
               *(f"| {d['decile']} | {d['rows']:,} | {d['positive_rate']:.3f} | {d['lift']:.2f} | "
                 f"{d['cumulative_gain']:.1%} |" for d in calibration["deciles"])]
    return "\n".join([
        f"**Brier score** {calibration['brier']:.4f} on test rows (a constant base rate scores "
        f"{calibration['brier_base_rate']:.4f}; lower is better).", "",
        "**Reliability** (predicted vs observed share using a promo code)", "", *reliability, "",
        "**Lift and gain by decile of predicted propensity**", "", *deciles])
