"""The `shopsense` command line. Commands are thin: they parse options, call a layer, print a summary."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from shopsense.config import Config, load_config
from shopsense.errors import ShopSenseError
from shopsense.spark import JavaError

app = typer.Typer(
    help="ShopSense: retail analytics on Apache Spark (ingest, analyze, stream, train, serve).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(None, "--home", envvar="SHOPSENSE_HOME",
                                        help="Project home holding data/, reports/, models/, stream/ [default: .]"),
    master: Optional[str] = typer.Option(None, "--master", envvar="SHOPSENSE_SPARK_MASTER",
                                         help="Spark master URL, e.g. local[*] or spark://host:7077."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Spark's own log output."),
) -> None:
    ctx.obj = load_config(home=home, master=master, verbose=verbose)


def config_of(ctx: typer.Context) -> Config:
    return ctx.obj


@app.command()
def generate(
    ctx: typer.Context,
    rows: int = typer.Option(50_000, "--rows", min=0, help="Number of purchase rows."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed gives the same file."),
    customers: Optional[int] = typer.Option(None, "--customers", min=1,
                                            help="Number of distinct customers [default: rows / 4]."),
    dirty_fraction: float = typer.Option(0.0, "--dirty-fraction", min=0.0, max=1.0,
                                         help="Fraction of rows replaced by realistic bad rows (for tests)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="CSV to write [default: data/raw/shopping_trends.csv]."),
) -> None:
    """Generate a deterministic purchase log in the public CSV format."""
    from shopsense.generate import generate as gen, write_csv

    config = config_of(ctx)
    path = write_csv(gen(rows, seed, customers, dirty_fraction), output or config.default_raw_csv)
    typer.echo(f"wrote {rows:,} rows (seed {seed}, dirty fraction {dirty_fraction}) to {path}")


# --- machine learning (shopsense.ml) ------------------------------------------------------------------
def _headline(card: dict) -> str:
    """One line per model: its main held-out metric next to the baseline's."""
    m = card["metrics"]
    if card["model"] == "promo":
        return (f"test AUC {m['model']['auc_roc']:.3f} vs {m['baseline_majority_class']['auc_roc']:.3f} (majority), "
                f"excluded as leaky: {', '.join(card['excluded_features']) or 'none'}")
    if card["model"] == "season":
        return (f"test top-3 hit rate {m['model']['top3_hit_rate']:.3f} vs "
                f"{m['baseline_season_top3']['top3_hit_rate']:.3f} (season top-3), "
                f"{m['baseline_overall_top3']['top3_hit_rate']:.3f} (overall top-3)")
    return (f"{card['params']['variant']} ALS, test NDCG@{m['model']['k']} {m['model']['ndcg_at_k']:.3f} vs "
            f"{m['baseline_popularity']['ndcg_at_k']:.3f} (popularity)")


@app.command()
def train(
    ctx: typer.Context,
    model: str = typer.Argument("all", help="Model to train: promo, season, recommender or all."),
) -> None:
    """Train ML models on the processed data; save them with a metrics.json model card under models/."""
    from shopsense.ml.training import MODELS, train_models

    if model != "all" and model not in MODELS:
        raise ShopSenseError(f"unknown model {model!r}: choose one of {', '.join(MODELS)} or all")
    config = config_of(ctx)
    trained = train_models(config, MODELS if model == "all" else (model,))
    for name, (_, card) in trained.items():
        typer.echo(f"{name}: {_headline(card)}; {card['training_seconds']:.0f} s -> {config.model_dir(name)}")


@app.command()
def recommend(
    ctx: typer.Context,
    customer: int = typer.Option(..., "--customer", help="Customer id."),
    k: int = typer.Option(5, "-k", "--top", min=1, help="Number of items."),
) -> None:
    """Print top-k product recommendations for a customer (never an item they already bought)."""
    from shopsense.ml.inference import Predictor

    result = Predictor(config_of(ctx)).recommend(customer, k)
    typer.echo(f"customer {result['customer_id']}: {result['label']}")
    for rank, item in enumerate(result["items"], 1):
        typer.echo(f"  {rank}. {item['item']} (score {item['score']:.3f})")
    typer.echo(f"already bought: {', '.join(result['already_bought']) or 'nothing'}")


# --- application layer: the web app ---------------------------------------------------------------------
@app.command("app")
def app_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 = every interface)."),
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="TCP port."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1,
                                              help="Prediction requests served at once; default: the config's app_concurrency."),
) -> None:
    """Start the web app serving the saved models (never trains; no public share link)."""
    from shopsense.app.server import serve

    config = config_of(ctx)
    serve(config, host=host, port=port, concurrency=concurrency or config.app_concurrency)


def run() -> None:
    """Console-script entry point: user errors become one clear line and a non-zero exit code."""
    try:
        app()
    except (ShopSenseError, JavaError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    run()
