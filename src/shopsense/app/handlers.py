"""What each tab does: widget values in, display values out. Plain functions, testable without a browser.

Every handler returns a tuple whose first element is a Markdown message. A user mistake (empty field,
out-of-range number, unknown category, missing model) never raises: it becomes a warning message and empty
results, so the page shows what to fix instead of a stack trace. An unexpected failure is logged with its
traceback on the server and shown in the page as one neutral line.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from shopsense import schema
from shopsense.app import overview
from shopsense.app.profile import Field, FormError, to_number, to_profile
from shopsense.config import Config
from shopsense.errors import ShopSenseError

log = logging.getLogger(__name__)

BY_CUSTOMER, BY_PROFILE = "Customer id", "Profile"
SOURCES = (BY_CUSTOMER, BY_PROFILE)
MAX_K = len(schema.ITEMS)
DIGITS = 4  # probabilities and scores are shown rounded to this many decimals

RANKED = ("rank", "item", "score")
BOUGHT = ("item",)
INTERNAL_ERROR = "Something went wrong on the server while answering; the details are in the server log."


@dataclass
class AppContext:
    """What the handlers need: the config, the one Predictor loaded at start-up, and its form fields."""

    config: Config
    predictor: Any = None  # shopsense.ml.inference.Predictor, or None when it could not be created
    load_error: str | None = None  # why there is no predictor at all (e.g. Java missing)
    season_fields: tuple[Field, ...] = ()
    promo_fields: tuple[Field, ...] = ()

    def status(self) -> dict[str, str | None]:
        """Model name -> None when loaded, else a message naming the command that fixes it."""
        if self.predictor is None:
            reason = self.load_error or "the models could not be loaded"
            return {name: reason for name in overview.MODEL_NAMES}
        return self.predictor.status()

    def serving(self, model: str) -> str | None:
        """What is served for `model` and why (model or baseline, with the test evidence), when it has a card."""
        return None if self.predictor is None else self.predictor.labels.get(model)

    def require(self, model: str):
        """The predictor, or a ShopSenseError carrying the status message when it cannot answer for `model`
        (not loaded, and for the recommender no popularity list standing in either)."""
        if self.predictor is not None and self.predictor.serves(model):
            return self.predictor
        raise ShopSenseError(self.status().get(model) or f"unknown model {model!r}")


def warning(text: str) -> str:
    return f"⚠️ {text}"


def empty_table(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def guarded(*empty: Callable[[], Any]):
    """Turn exceptions into (warning message, *empty outputs); `empty` are factories of blank outputs."""

    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except ShopSenseError as exc:  # includes InvalidInput and ModelUnavailable of the ML layer
                message = warning(str(exc))
            except Exception:  # noqa: BLE001 - the page must never show a stack trace
                log.exception("handler %s failed", handler.__name__)
                message = warning(INTERNAL_ERROR)
            return (message, *(make() for make in empty))

        return wrapper

    return decorate


def customer_id_of(value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise FormError("Customer ID is empty: please enter a customer id")
    customer_id = to_number(value, "Customer ID", integer=True)
    low, high = schema.NUMERIC_RANGES["customer_id"]
    if not low <= customer_id <= high:
        raise FormError(f"Customer ID must be between {int(low)} and {int(high):,}, got {customer_id}")
    return customer_id


def k_of(value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise FormError("Number of recommendations is empty: please enter a number")
    k = to_number(value, "Number of recommendations", integer=True)
    if not 1 <= k <= MAX_K:
        raise FormError(f"Number of recommendations must be between 1 and {MAX_K}, got {k}")
    return k


def season_of(value: Any) -> str:
    if value not in schema.SEASONS:
        raise FormError(f"Season must be one of {', '.join(schema.SEASONS)}, got {value!r}")
    return value


def model_banner(ctx: AppContext, model: str) -> str:
    """Shown at the top of a tab: what is served (the model, or its baseline and why), else what to run."""
    problem = ctx.status().get(model)
    if problem:
        return warning(problem)
    served = ctx.serving(model)
    if served is None:
        return ""
    return f"**Serving:** {served}" if ctx.predictor.serves_model(model) else warning(f"**Serving the baseline:** {served}")


def ranked_table(items: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([(rank, i["item"], round(float(i["score"]), DIGITS)) for rank, i in enumerate(items, 1)],
                        columns=list(RANKED))


# --- Seasonal Item Predictor ---------------------------------------------------------------------------
@guarded(lambda: empty_table(RANKED))
def seasonal_items(ctx: AppContext, season: Any, source: Any, customer_id: Any, *profile_values: Any):
    predictor = ctx.require("season")
    season = season_of(season)
    if source == BY_CUSTOMER:
        customer_id = customer_id_of(customer_id)
        profile = predictor.customer_profile(customer_id)
        if profile is None:
            raise FormError(f"customer {customer_id} is unknown: choose \"{BY_PROFILE}\" and describe them")
        who = f"customer {customer_id}"
    elif source == BY_PROFILE:
        profile = to_profile(ctx.season_fields, profile_values)
        who = "this profile"
    else:
        raise FormError(f"choose {BY_CUSTOMER!r} or {BY_PROFILE!r}, got {source!r}")
    answer = predictor.top_items(profile, season, k=3)
    best = answer["items"][0]["item"] if answer["items"] else "nothing"
    source = "" if answer["served"] == "model" else " (baseline: the season's most bought items)"
    return (f"Most likely purchase of {who} in {season}: **{best}**{source}. "
            f"Score = {answer['score_meaning']}.", ranked_table(answer["items"]))


# --- Product Recommendations ---------------------------------------------------------------------------
@guarded(lambda: empty_table(RANKED), lambda: empty_table(BOUGHT))
def recommendations(ctx: AppContext, customer_id: Any, k: Any):
    predictor = ctx.require("recommender")
    customer_id, k = customer_id_of(customer_id), k_of(k)
    result = predictor.recommend(customer_id, k=k)
    bought = pd.DataFrame([(item,) for item in result["already_bought"]], columns=list(BOUGHT))
    kind = "Popularity" if result["fallback"] else "Personalised"
    message = (f"**{kind}** for customer {customer_id}: {result['label']}. "
               f"Score = {result['score_meaning']}.")
    return message, ranked_table(result["items"]), bought


# --- Promo Code Propensity -----------------------------------------------------------------------------
@guarded(lambda: None, lambda: "")
def promo_propensity(ctx: AppContext, *profile_values: Any):
    predictor = ctx.require("promo")
    result = predictor.promo_probability(to_profile(ctx.promo_fields, profile_values))
    probability = round(float(result["probability"]), DIGITS)
    if result["decision"] is None:  # the baseline: the same base rate for everyone, no individual decision
        decision = "no decision: the model is not served (its baseline gives everyone the base rate)"
        message = f"Share of purchases with a promo code (baseline, the same for everyone): **{probability:.1%}**"
        return message, probability, decision
    decision = "likely to use a promo code" if result["decision"] else "unlikely to use a promo code"
    message = (f"Probability of using a promo code: **{probability:.1%}** → {decision} "
               f"(decision threshold {float(result['threshold']):.1%}, chosen for {result['objective']})")
    return message, probability, decision


# --- Overview ------------------------------------------------------------------------------------------
@guarded(lambda: "", list, lambda: empty_table(overview.METRIC_COLUMNS), lambda: empty_table(overview.SERVING_COLUMNS),
         lambda: "")
def overview_page(ctx: AppContext):
    reports = overview.load_reports(ctx.config)
    status_lines = [f"- **{name}**: {problem or ctx.serving(name) or 'loaded'}" for name, problem in ctx.status().items()]
    message = "\n".join(["**Models**", *status_lines, *(f"\n{warning(n)}" for n in reports.notes)])
    metrics = overview.metrics_table(ctx.config)
    return (message, overview.kpi_markdown(reports.kpis), [str(p) for p in reports.plots], metrics,
            overview.serving_table(ctx.config), overview.propensity_markdown(ctx.config))
