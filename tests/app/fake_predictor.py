"""A stand-in Predictor with the inference contract, for handler tests that need no Spark or models.

Its answers are simple functions of the input, so the tests can check that the handlers pass inputs
through and display outputs faithfully; model quality is tested by the ML layer and the API tests.
"""
from __future__ import annotations

from shopsense import schema
from shopsense.errors import InvalidInput

PROMO_INPUTS = ("age", "gender", "location", "subscription_status", "previous_purchases",
                "payment_method", "frequency_of_purchases")
SEASON_INPUTS = ("season", "age", "gender", "location", "size", "subscription_status")
KNOWN_CUSTOMER = 7
BOUGHT = ("Socks", "Hat")


class FakePredictor:
    def __init__(self, missing: dict[str, str] | None = None, baseline: tuple[str, ...] = ()):
        """`missing`: models reported absent; `baseline`: models whose baseline is served."""
        self.missing = missing or {}
        self.baseline = baseline
        self.labels = {name: f"{'baseline' if name in baseline else 'model'} of {name} — evidence"
                       for name in ("promo", "season", "recommender") if name not in self.missing}
        self.calls: list[tuple] = []

    def status(self) -> dict[str, str | None]:
        return {name: self.missing.get(name) for name in ("promo", "season", "recommender")}

    def serves(self, name: str) -> bool:
        return name not in self.missing

    def serves_model(self, name: str) -> bool:
        return name not in self.missing and name not in self.baseline

    def promo_probability(self, profile: dict) -> dict:
        self.calls.append(("promo", profile))
        if not 15 <= profile["age"] <= 100:
            raise InvalidInput(f"age must be between 15 and 100, got {profile['age']}")
        if not self.serves_model("promo"):
            return {"probability": 0.4, "decision": None, "threshold": 0.5, "objective": "best F1",
                    "served": "baseline", "label": self.labels["promo"]}
        probability = profile["age"] / 100
        return {"probability": probability, "decision": probability >= 0.5, "threshold": 0.5, "objective": "best F1",
                "served": "model", "label": self.labels["promo"]}

    def top_items(self, profile: dict, season: str, k: int = 3) -> dict:
        self.calls.append(("season", profile, season, k))
        served = "model" if self.serves_model("season") else "baseline"
        return {"items": [{"item": item, "score": 0.5 / (rank + 1)} for rank, item in enumerate(schema.ITEMS[:k])],
                "served": served, "score_meaning": f"{served} score", "label": self.labels["season"]}

    def customer_profile(self, customer_id: int) -> dict | None:
        if customer_id != KNOWN_CUSTOMER:
            return None
        return {"age": 30, "gender": "Female", "location": "Ohio", "size": "M", "subscription_status": True}

    def recommend(self, customer_id: int, k: int = 5) -> dict:
        known = customer_id == KNOWN_CUSTOMER
        items = [i for i in schema.ITEMS if not known or i not in BOUGHT][:k]
        return {"customer_id": customer_id, "items": [{"item": i, "score": 1.0 / (n + 1)} for n, i in enumerate(items)],
                "already_bought": list(BOUGHT) if known else [], "fallback": not known,
                "served": "model" if known else "baseline", "score_meaning": "fake score",
                "label": "ALS (implicit)" if known else "most popular items (unknown customer)"}

