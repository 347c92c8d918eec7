"""The `shopsense` command line. Commands are thin: they parse options, call a layer, print a summary."""
from __future__ import annotations

import sys
from datetime import datetime, timezone
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


# --- streaming: `shopsense stream simulate | run` (shopsense.streaming, docs/streaming.md) ----------------
SQL_ROWS_SHOWN = 50  # rows of `stream run --sql` printed per refresh
stream_app = typer.Typer(help="Real-time layer: a file-stream simulator and the Structured Streaming pipeline.",
                         no_args_is_help=True)
app.add_typer(stream_app, name="stream")


@stream_app.command("simulate")
def stream_simulate(
    ctx: typer.Context,
    batch_size: int = typer.Option(200, "--batch-size", min=1, help="Purchases per file."),
    interval: float = typer.Option(5.0, "--interval", min=0.001, metavar="SECONDS",
                                   help="Seconds between files, and the event-time span each file covers."),
    batches: Optional[int] = typer.Option(None, "--batches", min=1, metavar="N",
                                          help="Number of files (default: until Ctrl-C)."),
    seed: int = typer.Option(42, "--seed", help="Random seed: same seed + start time = same files."),
    late_fraction: float = typer.Option(0.05, "--late-fraction", min=0.0, max=1.0,
                                        help="Fraction of late events (half within the watermark, half beyond)."),
    dirty_fraction: float = typer.Option(0.02, "--dirty-fraction", min=0.0, max=1.0,
                                         help="Fraction of rows replaced by bad rows."),
    anomaly_fraction: float = typer.Option(0.005, "--anomaly-fraction", min=0.0, max=1.0,
                                           help="Fraction of purchases with an amount 6-10x the usual."),
    source: str = typer.Option("auto", "--source",
                               help="Rows from: auto (processed data if present, else generator), processed, "
                                    "generator."),
    start_time: Optional[datetime] = typer.Option(None, "--start-time", formats=["%Y-%m-%dT%H:%M:%S",
                                                                                "%Y-%m-%d %H:%M:%S"],
                                                  help="Event time of the first file, UTC (default: now)."),
    fast: bool = typer.Option(False, "--fast", help="Do not wait between files (event times are unchanged)."),
) -> None:
    """Write timestamped CSV mini-batches of purchases into stream/input/ (atomically, never overwriting)."""
    import threading

    from shopsense.streaming.runner import stop_on_signals
    from shopsense.streaming.simulator import Simulator, load_pool

    config = config_of(ctx)
    pool, origin = load_pool(config, source, seed)
    start = (start_time.replace(tzinfo=timezone.utc) if start_time
             else datetime.now(timezone.utc).replace(microsecond=0))
    sim = Simulator(config, pool, batch_size=batch_size, interval=interval, seed=seed, start_time=start,
                    late_fraction=late_fraction, dirty_fraction=dirty_fraction, anomaly_fraction=anomaly_fraction)
    typer.echo(f"simulating from {origin} into {config.stream_input_dir} "
               f"({'until Ctrl-C' if batches is None else f'{batches} file(s)'}, one every {interval:g} s)")
    stop = threading.Event()
    restore = stop_on_signals(stop)
    written = 0
    try:
        for info in sim.run(batches, pace=not fast, should_stop=stop.is_set):
            written += 1
            typer.echo(f"{info.path.name}: {info.rows} rows, late {info.late_within} within / "
                       f"{info.late_beyond} beyond the watermark, dirty {sum(info.dirty.values())}, "
                       f"anomalies {len(info.anomaly_event_ids)}")
    finally:
        restore()
    typer.echo(f"wrote {written} file(s)")


@stream_app.command("run")
def stream_run(
    ctx: typer.Context,
    available_now: bool = typer.Option(False, "--available-now",
                                       help="Process the files already there, then exit."),
    console: bool = typer.Option(True, "--console/--no-console", help="Print every finalised row."),
    max_files_per_trigger: Optional[int] = typer.Option(
        None, "--max-files-per-trigger", min=0, metavar="N",
        help="Files per micro-batch, 0 = all (default 1: exact late-row counts, see docs/streaming.md)."),
    sql: Optional[str] = typer.Option(None, "--sql",
                                      help="SQL over the in-memory tables, printed every trigger and at the end, "
                                           "e.g. \"SELECT * FROM sales_kpis ORDER BY window_start\"."),
) -> None:
    """Run the five streaming queries (sales, categories, customers, anomalies, data quality)."""
    import threading

    from shopsense.spark import get_spark
    from shopsense.streaming.clock import interval_seconds
    from shopsense.streaming.runner import await_pipeline, start_pipeline, stop_on_signals

    config = config_of(ctx)
    if max_files_per_trigger is not None:
        config = config.with_overrides(stream_max_files_per_trigger=max_files_per_trigger)
    spark = get_spark(config.spark)
    pipeline = start_pipeline(spark, config, available_now=available_now, printer=typer.echo, console=console)
    typer.echo(f"watching {config.stream_input_dir} (anomaly reference: {pipeline.reference_origin}); "
               f"{'processing what is there' if available_now else 'Ctrl-C to stop'}")

    def show_sql() -> None:
        if sql:
            result = spark.sql(sql)
            rows = result.limit(SQL_ROWS_SHOWN).collect()
            typer.echo("\n".join([" | ".join(result.columns)] + [" | ".join(map(str, r)) for r in rows]))

    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        await_pipeline(pipeline, stop, poll_seconds=interval_seconds(config.stream_trigger) if sql else 1.0,
                       on_tick=show_sql)
        show_sql()
    finally:
        restore()
    written = ", ".join(f"{name} {sink.rows_written}" for name, sink in pipeline.sinks.items())
    typer.echo(f"stopped cleanly; rows written to {config.stream_output_dir}: {written}")


def run() -> None:
    """Console-script entry point: user errors become one clear line and a non-zero exit code."""
    try:
        app()
    except (ShopSenseError, JavaError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    run()
