"""The inference API of the trained models (used by the app): load once, answer single requests fast.

Loading reads each saved PipelineModel once, plus lookups (each customer's latest profile and purchase
history, the popularity list, the ALS recommendations precomputed at training time), so that a request is one
one-row Spark `PipelineModel.transform` (promo, season) or a lookup by customer id (recommend). The
per-customer lookups stay Arrow tables (`CustomerTable`): compact at millions of customers.
Predictions always come from Spark's own fitted models: ShopSense does not re-implement model evaluation.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from shopsense import schema
from shopsense.config import Config
from shopsense.errors import InvalidInput, ModelUnavailable, ShopSenseError
from shopsense.io import read_processed
from shopsense.ml import promo, recommender
from shopsense.ml import season as season_model
from shopsense.ml.model_card import CARD_FILE, PIPELINE_DIR, read_card

PROMO_INPUTS: tuple[str, ...] = promo.CANDIDATES
SEASON_INPUTS: tuple[str, ...] = tuple(c for c in season_model.FEATURES if c != "season")
PROFILE_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(PROMO_INPUTS + SEASON_INPUTS))
_TYPES = {c.name: c.dtype for c in schema.COLUMNS}
CUSTOMER = recommender.USER  # the key of every per-customer lookup
MODEL_NAMES: tuple[str, ...] = (promo.NAME, season_model.NAME, recommender.NAME)


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


class Predictor:
    """Loads every available model once; `status()` says which are missing and how to train them."""

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
        self.cards: dict[str, dict] = {}
        self._missing: dict[str, str] = {}
        self._not_trained: set[str] = set()  # models this data could not train (their card says why)
        for name in MODEL_NAMES:
            if name in models:
                self._load(name)
            else:
                self._missing[name] = f"model '{name}' is not loaded by this command"
        self._load_customers()
        self._load_recommendations()

    # --- loading ------------------------------------------------------------------------------------
    def _load(self, name: str) -> None:
        model_dir = self.config.model_dir(name)
        if not (model_dir / CARD_FILE).exists() or not (model_dir / PIPELINE_DIR).exists():
            reason = read_card(model_dir).get("not_trained") if (model_dir / CARD_FILE).exists() else None
            if reason:
                self._not_trained.add(name)
            self._missing[name] = (f"model '{name}' was not trained on this data: {reason}" if reason
                                   else f"model '{name}' not found: {_train_hint(name)}")
            return
        try:
            self.models[name] = PipelineModel.load(str(model_dir / PIPELINE_DIR))
            self.cards[name] = read_card(model_dir)
        except Exception as exc:  # a half-written or incompatible folder: say so, keep the other models
            self._missing[name] = f"model '{name}' could not be loaded ({type(exc).__name__}): {_train_hint(name)}"

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
        if recommender.NAME not in self.models:
            if recommender.NAME in self._not_trained:
                self._load_popularity_of_processed_data()
            return
        model_dir = self.config.model_dir(recommender.NAME)
        self.popularity = json.loads((model_dir / recommender.POPULARITY_FILE).read_text())
        # Read with pyarrow (no Spark job): one row per customer, its bought items and ranked recommendations.
        folder = model_dir / recommender.RECOMMENDATIONS_DIR
        self.popularity_customers = sum(f.metadata.num_rows for f in pq.ParquetDataset(folder).fragments)
        self.recommendations = CustomerTable(pq.read_table(folder, filters=self._only_filter()))

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

    def _only_filter(self):
        """A pyarrow filter keeping the rows of the customers asked for (None: every row)."""
        return None if self.only_customers is None else pc.field(CUSTOMER).isin(list(self.only_customers))

    def status(self) -> dict[str, str | None]:
        return {name: self._missing.get(name) for name in MODEL_NAMES}

    def serves(self, name: str) -> bool:
        """Whether requests for model `name` get an answer: its model is loaded, or (recommender) the
        popularity list stands in for a model this data could not train."""
        return name in self.models or (name == recommender.NAME and bool(self.popularity))

    def _model(self, name: str) -> PipelineModel:
        if name not in self.models:
            raise ModelUnavailable(self._missing[name])
        return self.models[name]

    def _probabilities(self, name: str, row: dict) -> list[float]:
        model = self._model(name)  # raises ModelUnavailable with the command to run
        fields = [f for f in schema.PROCESSED_SCHEMA.fields if f.name in row]
        # From pandas, the row travels as one Arrow batch straight into the JVM; from a Python list it would
        # go through a Python worker process (measured once on an idle machine: p50 390 ms -> 58 ms per request).
        frame = self.spark.createDataFrame(pd.DataFrame([{f.name: row[f.name] for f in fields}]), StructType(fields))
        return model.transform(frame).select(vector_to_array("probability").alias("p")).first().p

    # --- answers ------------------------------------------------------------------------------------
    def promo_probability(self, profile: dict) -> dict:
        row = validate_profile(profile, PROMO_INPUTS)
        probability = float(self._probabilities(promo.NAME, row)[1])
        threshold = float(self.cards[promo.NAME]["params"]["threshold"])
        return {"probability": probability, "decision": probability >= threshold, "threshold": threshold}

    def top_items(self, profile: dict, season: str, k: int = 3) -> list[dict]:
        row = validate_profile(profile, SEASON_INPUTS)
        row["season"] = validate_value("season", season)
        names = season_model.item_names(self._model(season_model.NAME))
        k = _validate_k(k, len(names))
        probabilities = self._probabilities(season_model.NAME, row)[: len(names)]  # drop the "unseen item" class
        ranked = sorted(zip(names, probabilities), key=lambda pair: (-pair[1], pair[0]))
        return [{"item": item, "probability": float(p)} for item, p in ranked[:k]]

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
        recommended = self.recommendations.get(customer_id)
        if recommended:
            variant = self.cards[recommender.NAME]["params"]["variant"]
            items = [{"item": x["item"], "score": float(x["score"])}
                     for x in recommended["items"] if x["item"] not in owned][:k]
            return {"customer_id": customer_id, "items": items, "already_bought": bought, "fallback": False,
                    "label": f"personalised (ALS {variant})"}
        if recommender.NAME in self.models:
            reason = "customer not in the trained model" if bought else "unknown customer"
        else:
            reason = "the recommender was not trained on this data" + ("" if bought else ", unknown customer")
        items = [{"item": p["item"], "score": p["buyers"] / max(1, self.popularity_customers)}
                 for p in self.popularity if p["item"] not in owned][:k]
        return {"customer_id": customer_id, "items": items, "already_bought": bought, "fallback": True,
                "label": f"popularity fallback: {reason}"}
