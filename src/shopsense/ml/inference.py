"""The inference API of the trained models (used by the app): load once, answer single requests fast.

Loading reads each saved PipelineModel once, plus lookups (each customer's latest profile and purchase
history, the popularity list, the ALS recommendations precomputed at training time), so that a request is the
fitted forest's single-row `predictProbability` on the vector its fitted feature stages give the profile
(promo, season; ml/scoring.py, no Spark job) or a lookup by customer id (recommend). The per-customer lookups
stay Arrow tables (`CustomerTable`): compact at millions of customers.
Predictions always come from Spark's own fitted models: ShopSense does not re-implement model evaluation.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from shopsense import schema
from shopsense.config import Config
from shopsense.errors import InvalidInput, ModelUnavailable, ShopSenseError
from shopsense.io import current_location, read_json, read_processed
from shopsense.ml import promo, recommender
from shopsense.ml import season as season_model
from shopsense.ml import tracking
from shopsense.ml.model_card import ModelCard, NotTrainedCard, read_card
from shopsense.ml.registry import MODELS
from shopsense.ml.scoring import RowScorer
from shopsense.ml.serving import label as serving_label

PROMO_INPUTS: tuple[str, ...] = promo.CANDIDATES
SEASON_INPUTS: tuple[str, ...] = tuple(c for c in season_model.FEATURES if c != "season")
PROFILE_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(PROMO_INPUTS + SEASON_INPUTS))
_TYPES = {c.name: c.dtype for c in schema.COLUMNS}
CUSTOMER = recommender.USER  # the key of every per-customer lookup
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


class CustomerTable:
    """Rows keyed by customer id, kept as one Arrow table sorted by id; a lookup is a binary search.

    As Python dicts, 250,000 customers' profiles and recommendations took 3.4 GB and 28 s to build (1M rows,
    docs/app.md); the Arrow table holds the same values in a fraction of it and converts one row per request.
    """

    def __init__(self, table: pa.Table | None = None):
        table = table if table is not None else pa.table({CUSTOMER: pa.array([], pa.int64())})
        self.table = table.sort_by(CUSTOMER)
        self.ids = self.table.column(CUSTOMER).to_numpy()  # sorted, unique (one row per customer)

    def __len__(self) -> int:
        return self.table.num_rows

    def get(self, customer_id: int) -> dict | None:
        i = int(np.searchsorted(self.ids, customer_id))
        if i == len(self.ids) or self.ids[i] != customer_id:
            return None
        return self.table.slice(i, 1).to_pylist()[0]


def _train_hint(name: str) -> str:
    return f"run `shopsense train {name}`"


def validate_value(column: str, value: Any) -> Any:
    """One profile value checked against the data contract, converted to the processed type."""
    if column in schema.VOCABULARIES:
        if value not in schema.VOCABULARIES[column]:
            raise InvalidInput(f"unknown {column} {value!r}; expected one of: {', '.join(schema.VOCABULARIES[column])}")
        return value
    if column in schema.BOOLEAN_COLUMNS:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in schema.TRUE_VALUES or text in schema.FALSE_VALUES:
            return text in schema.TRUE_VALUES
        raise InvalidInput(f"{column} must be yes/no (a boolean), got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{column} must be a number, got {value!r}") from None
    low, high = schema.NUMERIC_RANGES[column]
    if not (math.isfinite(number) and low <= number <= high):
        raise InvalidInput(f"{column} must be between {low:g} and {high:g}, got {value!r}")
    if _TYPES[column].typeName() in ("integer", "long"):
        if number != int(number):
            raise InvalidInput(f"{column} must be a whole number, got {value!r}")
        return int(number)
    return number


def validate_profile(profile: Any, inputs: tuple[str, ...]) -> dict:
    if not isinstance(profile, dict):
        raise InvalidInput(f"a profile must be a dict with keys {', '.join(inputs)}")
    missing = [c for c in inputs if c not in profile or profile[c] is None]
    if missing:
        raise InvalidInput(f"profile is missing: {', '.join(missing)}")
    return {c: validate_value(c, profile[c]) for c in inputs}


def _validate_k(k: Any, high: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= high:
        raise InvalidInput(f"k must be a whole number between 1 and {high}, got {k!r}")
    return k


def _validate_customer(customer_id: Any) -> int:
    if isinstance(customer_id, bool):
        raise InvalidInput(f"customer id must be a whole number, got {customer_id!r}")
    try:
        return int(validate_value("customer_id", customer_id))
    except InvalidInput:
        raise InvalidInput(f"customer id must be a positive whole number, got {customer_id!r}") from None


SCORE_MEANINGS = {
    ("season", "model"): "the model's probability that this is the item bought",
    ("season", "baseline"): "share of the season's training purchases that were this item",
    ("recommender", "baseline"): "share of customers who bought the item",
    ("recommender", "explicit"): "predicted review rating (1-5) of the item for this customer",
    ("recommender", "implicit"): "ALS preference (higher = more likely to buy; not a probability)",
}


class Predictor:
    """Serves, per model, what its `champion` alias says: the registered champion (`models:/<name>@champion`)
    when there is one, else the model's baseline (labelled, with the evidence). `status()` says which models
    are missing and how to train them."""

    def __init__(self, config: Config, spark=None, models: tuple[str, ...] = MODEL_NAMES,
                 customers: tuple[int, ...] | None = None) -> None:
        """`models`: the models to load (default all); a command answering with one model loads only it.
        `customers`: the customers whose profiles, histories and recommendations to load (default all); a
        command answering for one customer loads only its rows."""
        from shopsense.spark import get_spark

        self.config = config
        self.spark = spark or get_spark(config.spark)
        self.only_customers = None if customers is None else tuple(_validate_customer(c) for c in customers)
        self.models: dict[str, PipelineModel] = {}
        self.cards: dict[str, ModelCard] = {}  # every trained model's card, served or not
        self.labels: dict[str, str] = {}  # what is served and why, for the models with a card
        self._missing: dict[str, str] = {}
        self._not_trained: set[str] = set()  # models this data could not train (their card says why)
        for name in MODEL_NAMES:
            if name in models:
                self._load(name)
            else:
                self._missing[name] = f"model '{name}' is not loaded by this command"
        self._load_customers()
        self._load_recommendations()
        # A request is answered without a Spark job (ml/scoring.py); the vocabularies are encoded once, here.
        self._scorers = {name: RowScorer(self.spark, model) for name, model in self.models.items() if model is not None}

    # --- loading ------------------------------------------------------------------------------------
    def _load(self, name: str) -> None:
        model_dir = self.config.model_dir(name)
        card = read_card(self.spark, model_dir)
        if card is None:
            self._missing[name] = f"model '{name}' not found: {_train_hint(name)}"
            return
        if isinstance(card, NotTrainedCard):
            self._not_trained.add(name)
            self._missing[name] = f"model '{name}' was not trained on this data: {card.not_trained}"
            return
        self.cards[name] = card
        self.labels[name] = serving_label(card.serving)
        registered = MODELS[name].registered_name
        champion = tracking.champion_version(self.config, registered)
        if champion is None:
            return  # the baseline is served: the label says why
        saved = (card.mlflow or {}).get("version")
        if champion != saved:
            self.labels[name] = (f"{card.serving.baseline} — the champion of {registered} (version {champion}) is "
                                 f"not the model saved in {model_dir} (version {saved}): {_train_hint(name)}")
            return
        try:
            # The recommender answers from its precomputed recommendations; its pipeline is not needed.
            self.models[name] = None if name == recommender.NAME else tracking.load_champion(self.config, registered)
        except Exception as exc:  # an unreadable artifact: say so, serve the baseline, keep the other models
            self.labels[name] = (f"{card.serving.baseline} — the champion of {registered} could not be loaded "
                                 f"({type(exc).__name__}): {_train_hint(name)}")

    def serves_model(self, name: str) -> bool:
        """Whether the model itself answers (else its baseline, or nothing when it is missing)."""
        return name in self.models

    def served(self, name: str) -> str:
        return "model" if self.serves_model(name) else "baseline"

    def _load_customers(self) -> None:
        """Latest profile (most previous purchases) and bought items per customer, from the processed data."""
        self.customers = CustomerTable()
        try:
            df = read_processed(self.spark, self.config)
        except ShopSenseError:
            return  # no processed data: profiles unavailable, history comes from the recommender files
        if self.only_customers is not None:
            df = df.where(F.col(CUSTOMER).isin(list(self.only_customers)))
        # One aggregation: the latest profile (row with most previous purchases) and every bought item.
        self.customers = CustomerTable(df.groupBy(CUSTOMER).agg(
            F.max_by(F.struct(*PROFILE_COLUMNS), "previous_purchases").alias("profile"),
            F.sort_array(F.collect_set("item_purchased")).alias("items")).toArrow())

    def _load_recommendations(self) -> None:
        self.recommendations = CustomerTable()
        self.popularity: list[dict] = []
        self.popularity_customers = 0  # the customers the popularity list counted: its scores' denominator
        if recommender.NAME in self._not_trained:
            self._load_popularity_of_processed_data()
        if recommender.NAME not in self.cards:
            return
        model_dir = self.config.model_dir(recommender.NAME)
        popularity = read_json(self.spark, f"{model_dir}/{recommender.POPULARITY_FILE}")
        location = current_location(self.spark, f"{model_dir}/{recommender.RECOMMENDATIONS_DIR}")
        if popularity is None or location is None:  # training writes the card after both: removed since
            raise ShopSenseError(f"{model_dir} has a model card but no popularity list or recommendations: "
                                 f"{_train_hint(recommender.NAME)}")
        self.popularity = popularity
        # The recommendations hold one row per customer of the training pairs, as many as the card counted.
        self.popularity_customers = self.cards[recommender.NAME].split["customers"]
        # One row per customer: its bought items and ranked recommendations (the customer filter is pushed
        # down to the Parquet reader).
        df = self.spark.read.parquet(location)
        if self.only_customers is not None:
            df = df.where(F.col(CUSTOMER).isin(list(self.only_customers)))
        self.recommendations = CustomerTable(df.toArrow())

    def _load_popularity_of_processed_data(self) -> None:
        """This data cannot train ALS (e.g. one purchase per customer, as in the public file): the most popular
        items of the processed data are still worth serving, labelled as such."""
        try:
            processed = read_processed(self.spark, self.config)
        except ShopSenseError:
            return  # no processed data either
        self.popularity = recommender.popularity_list(processed)
        # Every customer of the processed data (`customers` holds them all unless only some were loaded).
        everyone = self.only_customers is None
        self.popularity_customers = len(self.customers) if everyone else processed.select(CUSTOMER).distinct().count()
        if self.popularity:
            self._missing[recommender.NAME] += "; recommendations are the most popular items instead"

    def status(self) -> dict[str, str | None]:
        return {name: self._missing.get(name) for name in MODEL_NAMES}

    def serves(self, name: str) -> bool:
        """Whether requests for model `name` get an answer: from the model, from its baseline, or
        (recommender) from the popularity list standing in for a model this data could not train."""
        return name in self.models or name in self.cards or (name == recommender.NAME and bool(self.popularity))

    def _model(self, name: str) -> PipelineModel:
        if name not in self.models:
            raise ModelUnavailable(self._missing.get(name) or f"model '{name}' is not served: {self.labels[name]}")
        return self.models[name]

    def _card(self, name: str) -> ModelCard:
        if name not in self.cards:
            raise ModelUnavailable(self._missing[name])
        return self.cards[name]

    def _probabilities(self, name: str, row: dict) -> list[float]:
        """The served model's class probabilities for one validated profile: its fitted feature stages and its
        classifier's single-row `predictProbability` (ml/scoring.py), equal to `transform` on the same row."""
        self._model(name)  # raises ModelUnavailable with the command to run
        return self._scorers[name].probabilities(row)

    # --- answers ------------------------------------------------------------------------------------
    def promo_probability(self, profile: dict) -> dict:
        """P(promo code) and the decision at the card's threshold; from the baseline, the training base rate
        for everyone and no decision (it ranks no one above anyone)."""
        row = validate_profile(profile, PROMO_INPUTS)
        card = self._card(promo.NAME)
        threshold = float(card.params["threshold"])
        if self.serves_model(promo.NAME):
            probability = float(self._probabilities(promo.NAME, row)[1])
            decision = probability >= threshold
        else:
            probability, decision = float(card.baseline_answer["probability"]), None
        return {"probability": probability, "decision": decision, "threshold": threshold,
                "objective": card.params["threshold_objective"], "served": self.served(promo.NAME),
                "label": self.labels[promo.NAME]}

    def top_items(self, profile: dict, season: str, k: int = 3) -> dict:
        """The k items most likely bought in `season`, best first, each with a score whose meaning is stated."""
        row = validate_profile(profile, SEASON_INPUTS)
        row["season"] = validate_value("season", season)
        card = self._card(season_model.NAME)
        if self.serves_model(season_model.NAME):
            names = season_model.item_names(self._model(season_model.NAME))
            k = _validate_k(k, len(names))
            probabilities = self._probabilities(season_model.NAME, row)[: len(names)]  # drop the "unseen" class
            ranked = sorted(zip(names, probabilities), key=lambda pair: (-pair[1], pair[0]))
        else:
            k = _validate_k(k, len(schema.ITEMS))
            ranked = [(x["item"], x["share"]) for x in card.baseline_answer["season_top"].get(row["season"], [])]
        served = self.served(season_model.NAME)
        return {"items": [{"item": item, "score": float(p)} for item, p in ranked[:k]], "served": served,
                "score_meaning": SCORE_MEANINGS[(season_model.NAME, served)], "label": self.labels[season_model.NAME]}

    def customer_profile(self, customer_id: int) -> dict | None:
        customer_id = self._customer(customer_id)
        row = self.customers.get(customer_id)
        return {CUSTOMER: customer_id, **row["profile"]} if row else None

    def _customer(self, customer_id: Any) -> int:
        customer_id = _validate_customer(customer_id)
        if self.only_customers is not None and customer_id not in self.only_customers:  # the caller's mistake
            raise ValueError(f"customer {customer_id} was not loaded (this predictor loaded {self.only_customers})")
        return customer_id

    def bought(self, customer_id: int) -> list[str]:
        """The items the customer bought: from the processed data, else from the recommender's files."""
        customer_id = self._customer(customer_id)
        for table, column in ((self.customers, "items"), (self.recommendations, "bought")):
            row = table.get(customer_id)
            if row:
                return list(row[column])
        return []

    def recommend(self, customer_id: int, k: int = 5) -> dict:
        customer_id = self._customer(customer_id)
        if not self.serves(recommender.NAME):
            raise ModelUnavailable(self._missing[recommender.NAME])  # the reason, or the command to run
        k = _validate_k(k, len(schema.ITEMS))
        bought = self.bought(customer_id)
        owned = set(bought)
        answer = {"customer_id": customer_id, "already_bought": bought}
        recommended = self.recommendations.get(customer_id) if self.serves_model(recommender.NAME) else None
        if recommended:
            params = self.cards[recommender.NAME].params
            variant = params["variant"]
            # Explicit ALS learnt ratings minus their mean: adding it back gives a predicted review rating.
            offset = params["rating_mean"] if variant == "explicit" else 0.0
            items = [{"item": x["item"], "score": float(x["score"]) + offset}
                     for x in recommended["items"] if x["item"] not in owned][:k]
            return {**answer, "items": items, "fallback": False, "served": "model",
                    "score_meaning": SCORE_MEANINGS[(recommender.NAME, variant)],
                    "label": f"personalised (ALS {variant}): {self.labels[recommender.NAME]}"}
        if self.serves_model(recommender.NAME):
            label = "popularity fallback: " + ("customer not in the trained model" if bought else "unknown customer")
        elif recommender.NAME in self.labels:
            label = self.labels[recommender.NAME]
        else:
            label = ("popularity fallback: the recommender was not trained on this data"
                     + ("" if bought else ", unknown customer"))
        items = [{"item": p["item"], "score": p["buyers"] / max(1, self.popularity_customers)}
                 for p in self.popularity if p["item"] not in owned][:k]
        return {**answer, "items": items, "fallback": True, "served": "baseline",
                "score_meaning": SCORE_MEANINGS[(recommender.NAME, "baseline")], "label": label}
