"""What loading the trained models costs, in one warm process (JVM started, first load not counted):

  app start-up    Predictor of every model and every customer (what `shopsense app` builds)
  recommend CLI   Predictor of the recommender and one customer (what `shopsense recommend` builds)
  recommend tab   the recommend tab's handler called in-process (as `direct` in app_latency.py)

Usage:
  python benchmarks/model_loading.py --prepare 20000       # temporary home: generate, train, measure
  python benchmarks/model_loading.py --home PATH           # models already trained in PATH
  ... --reps 7 --requests 300
The code measured is the `shopsense` package imported (e.g. PYTHONPATH=<another checkout>/src to compare).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(call, reps: int) -> float:
    call()  # warm-up: classes loaded, first jobs compiled
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="project home with trained models [default: a temporary one]")
    parser.add_argument("--prepare", type=int, metavar="ROWS", help="generate ROWS rows and train models first")
    parser.add_argument("--reps", type=int, default=7, help="timed loads of each kind (median reported)")
    parser.add_argument("--requests", type=int, default=300, help="timed recommend-tab requests")
    args = parser.parse_args()

    import shopsense
    from shopsense.app import handlers as h
    from shopsense.config import load_config
    from shopsense.ml import recommender
    from shopsense.ml.inference import Predictor
    from shopsense.spark import get_spark

    home = args.home or Path(tempfile.mkdtemp(prefix="shopsense-bench-"))
    config = load_config(home=home)
    spark = get_spark(config.spark)
    if args.prepare:
        from benchmarks.app_latency import prepare

        prepare(home, args.prepare)
    predictor = Predictor(config, spark=spark)
    missing = {m: p for m, p in predictor.status().items() if p}
    if missing:
        raise SystemExit(f"models missing in {home}: {missing} (use --prepare ROWS or `shopsense train`)")
    customers = predictor.customers.ids.tolist()
    rng = random.Random(1)

    def one_customer() -> None:
        customer = rng.choice(customers)
        Predictor(config, spark=spark, models=(recommender.NAME,), customers=(customer,)).recommend(customer, 5)

    results = {"app start-up (s)": median_seconds(lambda: Predictor(config, spark=spark), args.reps),
               "recommend CLI (s)": median_seconds(one_customer, args.reps)}
    ctx = h.AppContext(config=config, predictor=predictor)
    samples = []
    for i in range(args.requests + 20):  # 20 unmeasured first; one in ten an unknown customer (fallback)
        customer = rng.randint(10**9, 2 * 10**9) if rng.random() < 0.1 else rng.choice(customers)
        start = time.perf_counter()
        h.recommendations(ctx, customer, rng.randint(1, 10))
        if i >= 20:
            samples.append(time.perf_counter() - start)
    results["recommend tab p50 (ms)"] = statistics.median(samples) * 1000
    results = {k: round(v, 3) for k, v in results.items()}
    print(json.dumps({"code": str(Path(shopsense.__file__).parent), "home": str(home), "customers": len(customers),
                      "reps": args.reps, "requests": args.requests,
                      "load_average_1min": round(os.getloadavg()[0], 1), **results}, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.app_latency (prepare)
    main()
