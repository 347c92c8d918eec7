"""Propensity norms of a probabilistic binary classifier (promo): Brier score, reliability table, decile
lift/gain, and the decision threshold. Pure NumPy on (score, label) arrays of the test split, which the
serving decision collects anyway (one row per test purchase: 3 numbers)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

BINS = 10
THRESHOLD_OBJECTIVE = "maximum F1 on the training split"


def brier(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared error of the probabilities (0 = perfect; a constant base rate p scores p(1 - p))."""
    return float(np.mean((scores - labels) ** 2))


def reliability(scores: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[dict]:
    """Predicted vs observed rate per equal-width probability bin (empty bins left out)."""
    index = np.minimum((scores * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append({"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "rows": int(mask.sum()),
                         "predicted": round(float(scores[mask].mean()), 4),
                         "observed": round(float(labels[mask].mean()), 4)})
    return rows


def deciles(scores: np.ndarray, labels: np.ndarray) -> list[dict]:
    """Rows ranked by score (best first) cut into 10 equal parts: each part's positive rate, its lift over
    the base rate, and the cumulative share of all positives found so far (gain)."""
    order = np.argsort(-scores, kind="stable")
    ranked = labels[order]
    base, positives = ranked.mean(), ranked.sum()
    rows, found = [], 0.0
    for d, part in enumerate(np.array_split(ranked, BINS), 1):
        found += part.sum()
        rate = float(part.mean()) if len(part) else 0.0
        rows.append({"decile": d, "rows": len(part), "positive_rate": round(rate, 4),
                     "lift": round(rate / base, 3) if base else 0.0,
                     "cumulative_gain": round(found / positives, 4) if positives else 0.0})
    return rows


def best_f1_threshold(scored: DataFrame, score: str = "score", label: str = "label") -> float:
    """The threshold maximising F1 of `score >= threshold`, among scores rounded to 3 decimals (label counts
    per rounded score are aggregated by Spark: at most 1,001 rows come back)."""
    counts = (scored.groupBy(F.round(score, 3).alias("s"))
              .agg(F.count_if(F.col(label) == 1.0).alias("pos"), F.count_if(F.col(label) != 1.0).alias("neg"))
              .orderBy(F.desc("s")).collect())
    thresholds = np.array([r.s for r in counts])
    tp = np.cumsum([r.pos for r in counts])  # predicted positive: every score at or above the threshold
    fp = np.cumsum([r.neg for r in counts])
    f1 = 2 * tp / np.maximum(tp + fp + tp[-1], 1)  # F1 = 2TP / (2TP + FP + FN), FN = positives - TP
    return float(thresholds[int(np.argmax(f1))])


def norms(scores: np.ndarray, labels: np.ndarray) -> dict:
    return {"brier": round(brier(scores, labels), 4),
            "brier_base_rate": round(float(labels.mean() * (1 - labels.mean())), 4),
            "reliability": reliability(scores, labels), "deciles": deciles(scores, labels)}


def reliability_plot(reports_dir: Path, name: str) -> Path:
    """Where model `name`'s reliability plot is written (the app's gallery and report.html show it)."""
    return reports_dir / "ml" / f"{name}_reliability.png"


def write_reliability_plot(calibration: dict, path: Path) -> Path:
    """Predicted vs observed rate per bin (dot size = rows), with the diagonal of perfect calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = calibration["reliability"]
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.scatter([r["predicted"] for r in rows], [r["observed"] for r in rows],
               s=[20 + 200 * r["rows"] / max(x["rows"] for x in rows) for r in rows], label="test rows per bin")
    ax.plot([r["predicted"] for r in rows], [r["observed"] for r in rows])
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted P(promo code)", ylabel="observed share using one",
           title=f"Promo propensity reliability (Brier {calibration['brier']:.3f})")
    ax.legend(loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
