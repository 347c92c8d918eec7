"""Warm single-request latency of the inference API (the app aims at p95 < 300 ms).

    PYTHONPATH=src python benchmarks/ml_inference_latency.py [--home benchmarks/data/ml] [--requests 50]

Needs trained models in the home (run benchmarks/ml_train.py first).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

from shopsense.config import load_config
from shopsense.ml.inference import Predictor


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", default="benchmarks/data/ml")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    start = time.perf_counter()
    predictor = Predictor(load_config(home=args.home))
    # Peak resident memory of this Python process (the lookups live here; the JVM is a separate process).
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"load {time.perf_counter() - start:.1f} s (incl. the Spark session), Python peak {peak_mib:,.0f} MiB, "
          f"status {predictor.status()}")
    customers = predictor.customers.ids[: args.requests].tolist()
    calls = {
        "promo_probability": lambda c: predictor.promo_probability(predictor.customer_profile(c)),
        "top_items": lambda c: predictor.top_items(predictor.customer_profile(c), "Winter", 3),
        "recommend": lambda c: predictor.recommend(c, 5),
    }
    for name, call in calls.items():
        call(customers[0])  # warm-up
        times = []
        for customer in customers:
            t = time.perf_counter()
            call(customer)
            times.append((time.perf_counter() - t) * 1000)
        print(f"{name}: median {statistics.median(times):.1f} ms, p95 {percentile(times, 0.95):.1f} ms "
              f"({len(times)} requests)")


if __name__ == "__main__":
    main()
