"""Warm prediction latency of the web app, per tab: p50/p95 over a few hundred requests.

Views of the same work:
  direct     the tab's handler called in-process (Spark + model + formatting, no HTTP)
  client     gradio_client against a running `shopsense app` (what a Python API user sees; includes the
             client's own result polling, which sleeps 50 ms between looks at its message queue)
  http       Gradio's REST route, as curl or the browser's event stream use it: POST
             /gradio_api/call/<api_name>, then read the result from its server-sent event stream
  parallel   4 clients at once (threads, each its own gradio_client or HTTP connection) against the app on
             each tab, with ShopSense's concurrency setting, and on the promo tab also with Gradio's default
             concurrency of 1 per event (docs/app.md)

Usage:
  python benchmarks/app_latency.py --prepare 20000          # temporary home: generate, train, measure
  python benchmarks/app_latency.py --home PATH              # use the models already trained in PATH
  ... --requests 300 --write-docs          # also replace the 4-client table in docs/app.md
Inputs vary per request (random profiles, known and unknown customer ids), so no cache can answer them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shopsense import schema  # noqa: E402
from shopsense.app import handlers as h  # noqa: E402
from shopsense.app.app_process import AppProcess  # noqa: E402
from shopsense.app.profile import Field  # noqa: E402
from shopsense.config import load_config  # noqa: E402

DOC = ROOT / "docs" / "app.md"
RESULTS = ROOT / "benchmarks" / "results" / "app_latency.json"
START, END = "<!-- app-latency:start -->", "<!-- app-latency:end -->"
TABS = ("seasonal_items", "recommend", "promo")
THREADS = 4


def random_value(field: Field, rng: random.Random):
    if field.kind == "choice":
        return rng.choice(field.choices)
    if field.kind == "flag":
        return rng.random() < 0.5
    return rng.randint(18, 70) if field.column == "age" else rng.randint(1, 50)


class Inputs:
    """Request arguments per tab, drawn from a seeded generator (the same sequence every run)."""

    def __init__(self, ctx: h.AppContext, customers: list[int], seed: int = 1):
        self.ctx, self.customers, self.rng = ctx, customers, random.Random(seed)

    def customer(self) -> int:
        # One in ten requests asks for an unknown customer (the popularity fallback path).
        return self.rng.randint(10**9, 2 * 10**9) if self.rng.random() < 0.1 else self.rng.choice(self.customers)

    def args(self, tab: str) -> tuple:
        rng = self.rng
        if tab == "seasonal_items":
            by_customer = rng.random() < 0.5
            profile = [random_value(f, rng) for f in self.ctx.season_fields]
            return (rng.choice(schema.SEASONS), h.BY_CUSTOMER if by_customer else h.BY_PROFILE,
                    rng.choice(self.customers), *profile)
        if tab == "recommend":
            return self.customer(), rng.randint(1, 10)
        return tuple(random_value(f, rng) for f in self.ctx.promo_fields)


def percentiles(samples: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"n": len(ms), "p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "max_ms": round(ms[-1], 1)}


def timed(call, args_of, tab: str, requests: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call(tab, args_of(tab))
    samples = []
    for _ in range(requests):
        args = args_of(tab)
        start = time.perf_counter()
        answer = call(tab, args)
        samples.append(time.perf_counter() - start)
        if str(answer[0]).startswith("⚠️") and "unknown" not in str(answer[0]):
            raise RuntimeError(f"{tab} answered with a warning: {answer[0]}")
    return samples


def direct(ctx: h.AppContext, inputs: Inputs, requests: int, warmup: int) -> dict:
    handler = {"seasonal_items": h.seasonal_items, "recommend": h.recommendations, "promo": h.promo_propensity}
    call = lambda tab, args: handler[tab](ctx, *args)  # noqa: E731
    return {tab: percentiles(timed(call, inputs.args, tab, requests, warmup)) for tab in TABS}


def gradio_client_call(url: str):
    """A call(tab, args) -> outputs through its own gradio_client."""
    from gradio_client import Client

    client = Client(url, verbose=False, analytics_enabled=False)
    return lambda tab, args: client.predict(*args, api_name=f"/{tab}")


def http_call(url: str):
    """A call(tab, args) -> outputs through Gradio's REST route on its own HTTP connection."""
    import httpx

    session = httpx.Client(base_url=url, timeout=60)

    def call(tab: str, args: tuple) -> list:
        event = session.post(f"gradio_api/call/{tab}", json={"data": list(args)})
        event.raise_for_status()
        kind = None
        with session.stream("GET", f"gradio_api/call/{tab}/{event.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[len("event: "):]
                elif line.startswith("data: ") and kind in ("complete", "error"):
                    if kind == "error":
                        raise RuntimeError(f"{tab} failed: {line}")
                    return json.loads(line[len("data: "):])
        raise RuntimeError(f"{tab}: the event stream ended without a result")

    return call


CALLS = {"client": gradio_client_call, "http": http_call}


def one_client(url: str, kind: str, inputs: Inputs, requests: int, warmup: int) -> dict:
    call = CALLS[kind](url)
    return {tab: percentiles(timed(call, inputs.args, tab, requests, warmup)) for tab in TABS}


def parallel(url: str, kind: str, inputs: Inputs, requests: int, tab: str = "promo") -> dict:
    """THREADS clients of `kind` sending requests to one tab at once: latency per request and throughput."""
    argument_lists = [inputs.args(tab) for _ in range(requests)]
    samples: list[float] = []
    lock = threading.Lock()

    def worker(share: list[tuple]) -> None:
        call = CALLS[kind](url)
        call(tab, share[0])  # warm this client's connection
        for args in share:
            start = time.perf_counter()
            call(tab, args)
            with lock:
                samples.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker, args=(argument_lists[i::THREADS],)) for i in range(THREADS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {**percentiles(samples), "requests_per_s": round(len(samples) / elapsed, 1)}


def prepare(home: Path, rows: int) -> None:
    """Generate `rows` purchases, store them as processed data and train every model (default settings)."""
    from shopsense.generate import generate_frame, to_processed_frame
    from shopsense.ml.training import train_models
    from shopsense.schema import PROCESSED_SCHEMA
    from shopsense.spark import get_spark

    config = load_config(home=home)
    spark = get_spark(config.spark)
    frame = to_processed_frame(generate_frame(rows, seed=42))
    spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.mode("overwrite").parquet(str(config.processed_dir))
    train_models(config, spark=spark)


def known_customers(home: Path) -> list[int]:
    import pandas as pd

    config = load_config(home=home)
    return sorted(set(pd.read_parquet(config.processed_dir, columns=["customer_id"])["customer_id"].tolist()))


def one_client_table(results: dict) -> str:
    lines = ["| tab | path | requests | p50 (ms) | p95 (ms) | max (ms) |", "|---|---|---:|---:|---:|---:|"]
    for path in ("direct", *CALLS):
        for tab, r in results[path].items():
            lines.append(f"| {tab} | {path} | {r['n']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |")
    return "\n".join(lines)


def parallel_table(results: dict) -> str:
    lines = [f"| {THREADS} parallel clients: tab, event concurrency, client | requests | p50 (ms) | p95 (ms) | "
             "requests/s |", "|---|---:|---:|---:|---:|"]
    for label, r in results["parallel"].items():
        lines.append(f"| {label} | {r['n']} | {r['p50_ms']} | {r['p95_ms']} | {r['requests_per_s']} |")
    return "\n".join(lines)


def write_docs(table: str, meta: str) -> None:
    text = DOC.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} has no {START} ... {END} block to replace")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text(f"{head}{START}\n{meta}\n\n{table}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="project home with trained models [default: a temporary one]")
    parser.add_argument("--prepare", type=int, metavar="ROWS", help="generate ROWS rows and train models first")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per tab and path")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per tab first")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the results block in {DOC}")
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    home = args.home or Path(tempfile.mkdtemp(prefix="shopsense-bench-"))
    if args.prepare:
        started = time.perf_counter()
        prepare(home, args.prepare)
        print(f"prepared {args.prepare:,} rows and trained models in {time.perf_counter() - started:.0f} s")
    config = load_config(home=home)
    from shopsense.app.server import load_context

    ctx = load_context(config)
    missing = {m: p for m, p in ctx.status().items() if p}
    if missing:
        raise SystemExit(f"models missing in {home}: {missing} (use --prepare ROWS or `shopsense train`)")
    inputs = Inputs(ctx, known_customers(home))

    results: dict = {"direct": direct(ctx, inputs, args.requests, args.warmup)}
    ctx.predictor = None  # the app process below loads its own models; keep this process's Spark idle
    results["parallel"] = {}
    with AppProcess(home, master=config.spark.master) as app:
        for kind in CALLS:
            results[kind] = one_client(app.url, kind, inputs, args.requests, args.warmup)
        for kind in CALLS:
            for tab in TABS:
                label = f"{tab}, {config.app_concurrency} (ShopSense), {kind}"
                results["parallel"][label] = parallel(app.url, kind, inputs, args.requests, tab)
    with AppProcess(home, "--concurrency", "1", master=config.spark.master) as app:
        for kind in CALLS:
            results["parallel"][f"promo, 1 (Gradio default), {kind}"] = parallel(app.url, kind, inputs, args.requests)

    import gradio
    import pyspark

    load = os.getloadavg()[0]  # the machine is shared: say how busy it was while measuring
    meta = (f"Measured with `python benchmarks/app_latency.py {' '.join(sys.argv[1:])}` "
            f"({time.strftime('%Y-%m-%d')}, gradio {gradio.__version__}, pyspark {pyspark.__version__}, "
            f"Spark master {config.spark.master}, {os.cpu_count()} cores, 1-minute load average "
            f"{load_at_start:.1f} at the start and {load:.1f} at the end, warm-up {args.warmup} requests per tab).")
    table = parallel_table(results)  # the table docs/app.md keeps; the one-client views are printed and saved
    print(meta, one_client_table(results), table, sep="\n\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"meta": meta, **results}, indent=2) + "\n")
    if args.write_docs:
        write_docs(table, meta)


if __name__ == "__main__":
    main()
