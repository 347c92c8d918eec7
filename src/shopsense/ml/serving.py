"""The serving decision: is a model served, or its baseline? Decided once, at training, on the test split.

The lift (model - baseline) on the model's primary metric is recomputed on customer resamples of the test
split (a bootstrap that resamples CUSTOMERS, since a customer's purchases are not independent). The model is
served only when the 95% percentile interval of the lift lies above `min_lift`: a model that merely ties
its baseline, or wins by a margin that a different draw of customers would erase, is not served.

The inputs are small per-customer (promo: per-row) NumPy arrays collected from Spark once; each resample
is a vector of customer multiplicities, so a metric is a few weighted sums.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from shopsense.config import MLSettings

LEVEL = 0.95
MODEL, BASELINE = "model", "baseline"


@dataclass(frozen=True)
class ServingDecision:
    serving: str  # MODEL or BASELINE
    subject: str  # what was judged, e.g. "recommender"
    metric: str  # e.g. "NDCG@5"
    model_value: float  # on the whole test split
    baseline: str  # what is served instead, e.g. "popularity"
    baseline_value: float
    lift_low: float  # the 95% bootstrap interval of model - baseline
    lift_high: float
    min_lift: float
    resamples: int
    customers: int  # resampled units
    forced: bool  # served by the operator's `serve_model_anyway` although the evidence says baseline
    reason: str

    @property
    def serves_model(self) -> bool:
        return self.serving == MODEL

    def evidence(self) -> str:
        """e.g. 'NDCG@5 0.151 vs 0.159, lift CI [-0.020, 0.010]'."""
        return (f"{self.metric} {self.model_value:.3f} vs {self.baseline_value:.3f}, "
                f"lift CI [{self.lift_low:+.3f}, {self.lift_high:+.3f}]")


def resample_weights(customers: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Customer multiplicities of each resample (`customers` draws with replacement), one at a time: all at
    once would be resamples x customers numbers."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield np.bincount(rng.integers(0, customers, size=customers), minlength=customers).astype(np.float64)


def percentile_interval(lifts: np.ndarray) -> tuple[float, float]:
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(lifts, [tail, 100 - tail])
    return float(low), float(high)


def ratio_lift_interval(model_sum: np.ndarray, baseline_sum: np.ndarray, count: np.ndarray,
                        resamples: int, seed: int) -> tuple[float, float]:
    """Interval of sum(model)/sum(count) - sum(baseline)/sum(count) over customer resamples (per-customer
    sums: hits and rows for a hit rate, NDCG and 1 for a mean NDCG)."""
    lifts = [(w @ model_sum - w @ baseline_sum) / (w @ count)
             for w in resample_weights(len(count), resamples, seed)]
    return percentile_interval(np.array(lifts))


def weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """AUC-ROC with row weights (ties count half): the Mann-Whitney statistic of the weighted rows."""
    _, group = np.unique(scores, return_inverse=True)
    return _grouped_auc(group, labels == 1, weights)


def _grouped_auc(group: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> float:
    """`group`: each row's rank among the distinct scores (ascending)."""
    size = int(group.max()) + 1
    pos = np.bincount(group, weights * positive, minlength=size)
    neg = np.bincount(group, weights * ~positive, minlength=size)
    below = np.cumsum(neg) - neg
    total = pos.sum() * neg.sum()
    return float((pos * (below + 0.5 * neg)).sum() / total) if total else 0.5


def auc_lift_interval(customer: np.ndarray, scores: np.ndarray, labels: np.ndarray, chance: float,
                      resamples: int, seed: int) -> tuple[float, float]:
    """Interval of AUC - `chance` over customer resamples; `customer` is each row's customer index 0..n-1."""
    _, group = np.unique(scores, return_inverse=True)
    positive = labels == 1
    aucs = [_grouped_auc(group, positive, w[customer])
            for w in resample_weights(int(customer.max()) + 1, resamples, seed)]
    return percentile_interval(np.array(aucs) - chance)


def decide(subject: str, metric: str, model_value: float, baseline: str, baseline_value: float,
           interval: tuple[float, float], customers: int, settings: MLSettings) -> ServingDecision:
    low, high = interval
    wins = low > settings.min_lift
    forced = not wins and settings.serve_model_anyway
    bound = f"min_lift {settings.min_lift:g}"
    if wins:
        reason = f"the {subject} beat {baseline} on test data: the lift interval lies above {bound}"
    elif forced:
        reason = (f"served by the operator's setting serve_model_anyway: the {subject} did NOT beat {baseline} on "
                  f"test data (the lift interval does not lie above {bound})")
    else:
        reason = f"the {subject} did not beat {baseline} on test data (the lift interval does not lie above {bound})"
    return ServingDecision(
        serving=MODEL if wins or forced else BASELINE, subject=subject, metric=metric, model_value=round(model_value, 4),
        baseline=baseline, baseline_value=round(baseline_value, 4), lift_low=round(low, 4),
        lift_high=round(high, 4), min_lift=settings.min_lift, resamples=settings.bootstrap_resamples,
        customers=customers, forced=forced, reason=reason)


def label(decision: ServingDecision) -> str:
    """What is served and why, in one line (the CLI, the app and the run summary print it)."""
    if decision.forced:
        return (f"{decision.subject} (operator override: serve_model_anyway) — it did NOT beat {decision.baseline} "
                f"on test data: {decision.evidence()}")
    if decision.serves_model:
        return f"{decision.subject} — it beat {decision.baseline} on test data: {decision.evidence()}"
    return f"{decision.baseline} — the {decision.subject} did not beat it on test data: {decision.evidence()}"

