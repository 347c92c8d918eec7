"""The `shopsense` command line. Commands are thin: they parse options, call a layer, print a summary."""
from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer

from shopsense.config import DEFAULT_ROWS, DEFAULT_SEED, Config, load_config
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
                                        help="Project home holding data/, reports/, models/, stream/ (default: .)"),
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
    rows: int = typer.Option(DEFAULT_ROWS, "--rows", min=0, help="Number of purchase rows."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Random seed: the same seed gives the same file."),
    customers: Optional[int] = typer.Option(None, "--customers", min=1,
                                            help="Number of distinct customers (default: rows / 4)."),
    dirty_fraction: float = typer.Option(0.0, "--dirty-fraction", min=0.0, max=1.0,
                                         help="Fraction of rows replaced by realistic bad rows (for tests)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="CSV to write (default: data/raw/shopping_trends.csv)."),
) -> None:
    """Generate a deterministic purchase log in the public CSV format."""
    from shopsense.generate import generate as gen, write_csv

    config = config_of(ctx)
    path = write_csv(gen(rows, seed, customers, dirty_fraction), output or config.default_raw_csv)
    typer.echo(f"wrote {rows:,} rows (seed {seed}, dirty fraction {dirty_fraction}) to {path}")


def _stage_list(values: Optional[list[str]]) -> list[str] | None:
    names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
    return names or None


# --- the input's format (shopsense.ingest.columns, docs/ingest.md): options of run, ingest and inspect --
MAP_HELP = ('Your column = ShopSense\'s, e.g. --map "item=Item Purchased" (repeatable; adds to [columns] '
            'in shopsense.toml).')
DELIMITER_HELP = "Field delimiter of the input (default: detected from the header: , ; tab or |)."
ENCODING_HELP = "Encoding of the input, e.g. latin-1 (default: UTF-8, with or without BOM)."


def with_input_format(config: Config, maps: Optional[list[str]], delimiter: Optional[str],
                      encoding: Optional[str]) -> Config:
    """The config with the input-format options of the command line (`--map` adds to `[columns]`)."""
    from shopsense.ingest.columns import parse_map_options

    overrides = {"columns": {**config.columns, **parse_map_options(maps)}}
    if delimiter is not None:
        overrides["input_delimiter"] = "\t" if delimiter in ("\\t", "tab") else delimiter
    if encoding is not None:
        overrides["input_encoding"] = encoding
    return config.with_overrides(**overrides)


@app.command("run")
def run_all(
    ctx: typer.Context,
    input: Optional[str] = typer.Option(
        None, "--input", "-i",
        help="Your CSV (public format: a file, a folder of CSV files, a glob or a URI) instead of the generated data."),
    only: Optional[list[str]] = typer.Option(None, "--only", help="Run only these stages (repeat or comma list)."),
    skip: Optional[list[str]] = typer.Option(None, "--skip", help="Skip these stages (repeat or comma list)."),
    rows: Optional[int] = typer.Option(None, "--rows", min=1,
                                       help=f"Rows of the generated default data (default: {DEFAULT_ROWS:,})."),
    seed: Optional[int] = typer.Option(None, "--seed",
                                       help=f"Seed of the generated data and of the models (default: {DEFAULT_SEED})."),
    maps: Optional[list[str]] = typer.Option(None, "--map", help=MAP_HELP),
    delimiter: Optional[str] = typer.Option(None, "--delimiter", help=DELIMITER_HELP),
    encoding: Optional[str] = typer.Option(None, "--encoding", help=ENCODING_HELP),
) -> None:
    """Run every stage: generate (or --input), ingest, analyze, train, stream demo; then a summary."""
    from shopsense.run import run_stages

    config = with_input_format(config_of(ctx), maps, delimiter, encoding)
    if rows is not None:
        config = config.with_overrides(run_rows=rows)
    if seed is not None:
        config = config.with_overrides(default_seed=seed, ml=replace(config.ml, seed=seed))
    run_stages(config, input, _stage_list(only), _stage_list(skip))


# --- ingestion (shopsense.ingest) -------------------------------------------------------------------------
@app.command()
def ingest(
    ctx: typer.Context,
    input_path: Optional[str] = typer.Option(
        None, "--input", "-i",
        help="CSV file, folder of CSV files or glob (any Spark path) (default: data/raw/shopping_trends.csv)."),
    maps: Optional[list[str]] = typer.Option(None, "--map", help=MAP_HELP),
    delimiter: Optional[str] = typer.Option(None, "--delimiter", help=DELIMITER_HELP),
    encoding: Optional[str] = typer.Option(None, "--encoding", help=ENCODING_HELP),
) -> None:
    """Validate the raw CSV: clean Parquet, quarantine with reasons, correlation reports, summary."""
    from shopsense.ingest.read import check_local_input
    from shopsense.ingest.stage import ingest as run_ingest
    from shopsense.spark import get_spark

    config = with_input_format(config_of(ctx), maps, delimiter, encoding)
    if input_path:
        check_local_input(input_path)
    summary = run_ingest(get_spark(config.spark), config, input_path)
    for line in ingest_report_lines(summary):
        typer.echo(line)


@app.command()
def inspect(
    ctx: typer.Context,
    input_path: str = typer.Argument(..., metavar="FILE", help="CSV file, folder of CSV files, glob or URI."),
    rows: int = typer.Option(10_000, "--rows", min=1, help="Read at most this many rows."),
    maps: Optional[list[str]] = typer.Option(None, "--map", help=MAP_HELP),
    delimiter: Optional[str] = typer.Option(None, "--delimiter", help=DELIMITER_HELP),
    encoding: Optional[str] = typer.Option(None, "--encoding", help=ENCODING_HELP),
) -> None:
    """Show what ingest would make of a file (column matching, normalisations, quarantine); writes nothing."""
    from shopsense.ingest.inspect import inspect as run_inspect
    from shopsense.ingest.read import check_local_input
    from shopsense.spark import get_spark

    config = with_input_format(config_of(ctx), maps, delimiter, encoding)
    check_local_input(input_path)
    for line in run_inspect(get_spark(config.spark), config, input_path, rows).lines():
        typer.echo(line)


def ingest_report_lines(summary) -> list[str]:
    """The short human summary of an ingest run (an ingest.stage.IngestSummary; the JSON holds everything)."""
    lines = [
        f"ingested {summary.input} in {summary.seconds} s",
        f"  rows read {summary.rows_read:,} = clean {summary.rows_clean:,}"
        f" + quarantined {summary.rows_quarantined:,} + duplicate {summary.rows_duplicate:,}",
    ]
    if summary.reasons:
        top = sorted(summary.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        lines.append("  quarantine reasons: " + ", ".join(f"{code} {n:,}" for code, n in top))
    if summary.normalised:
        lines.append("  normalised: " + ", ".join(f"{code} {n:,}" for code, n in summary.normalised.items()))
    for column, values in summary.new_values.items():
        lines.append(f"  new values of {column}: " + ", ".join(f"{v} {n:,}" for v, n in values.items()))
    if summary.ignored_columns:
        lines.append("  ignored extra columns: " + ", ".join(summary.ignored_columns))
    if summary.missing_columns:
        from shopsense.ingest.columns import mapping_lines

        lines.append("  missing columns (null): " + ", ".join(summary.missing_columns))
        hints = mapping_lines(summary.missing_columns, summary.ignored_columns, guessed_only=True)
        if hints:
            lines += ["  if an extra column holds one, add to shopsense.toml:", "  [columns]",
                      *(f"  {line}" for line in hints)]
    corr = summary.correlation
    candidates = corr["candidates"]
    lines.append(
        f"  correlation (|r| > {corr['threshold']}): "
        + ("; ".join(f"{c['method']} {c['feature_a']}~{c['feature_b']} r={c['r']:.2f} -> drop {c['drop']}"
                     for c in candidates) if candidates else "no feature-reduction candidates")
        + (f" ({corr['note']})" if corr["note"] else "")
    )
    outputs = summary.outputs
    lines.append(f"  clean data -> {outputs['processed']}; quarantine -> {outputs['quarantine']}")
    lines.append(f"  reports -> {outputs['correlation_png']}, {outputs['summary']}")
    return lines


# --- analytics & BI -------------------------------------------------------------------------------------
@app.command()
def analyze(
    ctx: typer.Context,
    min_support: Optional[float] = typer.Option(
        None, "--min-support", min=0.0, max=1.0,
        help="Market basket: minimum share of baskets holding a pair (default: config basket_min_support)."),
) -> None:
    """EDA, KPIs, plots, the analytical SQL suite and reports/report.html from the processed data."""
    from shopsense.analytics.absent import skipped_lines
    from shopsense.analytics.stage import analyze as run_analysis
    from shopsense.io import require_processed
    from shopsense.spark import get_spark

    config = config_of(ctx)
    if min_support is not None:
        config = config.with_overrides(basket_min_support=min_support)
    require_processed(config)  # fail fast, before starting Spark
    analysis = run_analysis(get_spark(config.spark), config)
    for line in analysis.kpis.lines():
        typer.echo(f"  {line}")
    for stats in analysis.baskets.values():
        typer.echo(f"market basket: {stats.message}")
    for line in skipped_lines(analysis.skipped):
        typer.echo(line)
    typer.echo(f"KPIs: {config.kpis_json}")
    typer.echo(f"distributions: {config.distributions_csv}")
    typer.echo(f"plots ({len(analysis.plots)}): {config.plots_dir}")
    typer.echo(f"query results ({len(analysis.answered)} CSV files): {config.queries_dir}")
    typer.echo(f"basket summary: {config.basket_summary_json}")
    typer.echo(f"report: {analysis.report}")


# --- machine learning (shopsense.ml) ------------------------------------------------------------------
@app.command()
def train(
    ctx: typer.Context,
    model: str = typer.Argument("all", help="Model to train: promo, season, recommender or all."),
) -> None:
    """Train ML models on the processed data; save them with a metrics.json model card under models/."""
    from shopsense.ml.registry import NAMES
    from shopsense.ml.training import headline, train_models

    if model != "all" and model not in NAMES:
        raise ShopSenseError(f"unknown model {model!r}: choose one of {', '.join(NAMES)} or all")
    config = config_of(ctx)
    trained = train_models(config, NAMES if model == "all" else (model,))
    for name, result in trained.items():
        where = (f"; {result.card.training_seconds:.0f} s -> {config.model_dir(name)}, MLflow version "
                 f"{result.card.mlflow['version']}" if result.model is not None else "")
        typer.echo(f"{name}: {headline(result.card)}{where}")
    typer.echo(f"MLflow runs and registry: mlflow ui --backend-store-uri {config.tracking_uri}")


@app.command()
def recommend(
    ctx: typer.Context,
    customer: int = typer.Option(..., "--customer", help="Customer id."),
    k: int = typer.Option(5, "-k", "--top", min=1, help="Number of items."),
) -> None:
    """Print top-k product recommendations for a customer (never an item they already bought)."""
    from shopsense.ml import recommender
    from shopsense.ml.inference import Predictor

    # Only the recommender, and only this customer's rows: loading the promo and season models too tripled the
    # command's time, and every customer's profile and recommendations doubled it at 1M rows (docs/ml.md).
    result = Predictor(config_of(ctx), models=(recommender.NAME,), customers=(customer,)).recommend(customer, k)
    typer.echo(f"customer {result['customer_id']}: {result['label']}")
    typer.echo(f"score = {result['score_meaning']}")
    for rank, item in enumerate(result["items"], 1):
        typer.echo(f"  {rank}. {item['item']} (score {item['score']:.3f})")
    typer.echo(f"already bought: {', '.join(result['already_bought']) or 'nothing'}")


# --- application layer: the web app ---------------------------------------------------------------------
@app.command("app")
def app_command(
    ctx: typer.Context,
    host: Optional[str] = typer.Option(None, "--host", help="Interface to listen on (0.0.0.0 = every interface) "
                                                           f"(default: the config's app_host, {Config.app_host})."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535,
                                       help=f"TCP port (default: the config's app_port, {Config.app_port})."),
    concurrency: Optional[int] = typer.Option(
        None, "--concurrency", min=1,
        help="Prediction requests served at once; default: the config's app_concurrency."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote",
        help="Serve a non-loopback --host without a login (else SHOPSENSE_APP_USER/SHOPSENSE_APP_PASSWORD are needed)."),
) -> None:
    """Start the web app serving the saved models (never trains; no public share link)."""
    from shopsense.app.server import serve

    config = config_of(ctx)
    serve(config, host=host or config.app_host, port=port or config.app_port,
          concurrency=concurrency or config.app_concurrency, allow_remote=allow_remote)

# --- the JVM's class archive (shopsense.class_archive) ------------------------------------------------------
@app.command("class-archive")
def class_archive_command(
    if_missing: bool = typer.Option(False, "--if-missing", help="Do nothing when the archive already exists."),
) -> None:
    """Record the JVM class archive of this Java and Spark install (about half a minute, once). With
    `[spark] class_archive = true` in shopsense.toml a cold Spark session then starts in about 0.6x the time."""
    import time

    from shopsense import class_archive
    from shopsense.spark import check_java

    java = check_java()
    path = class_archive.archive_path(java)
    if if_missing and path.is_file():
        typer.echo(f"class archive present: {path}")
        return
    started = time.monotonic()
    path = class_archive.build(java)
    typer.echo(f"wrote the class archive {path} ({path.stat().st_size / 2**20:,.0f} MiB) "
               f"in {time.monotonic() - started:.0f} s; sessions use it with `[spark] class_archive = true` "
               "in shopsense.toml")


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
        help="Files per micro-batch (default: by size, setting stream_max_bytes_per_trigger; 0 = no file limit)."),
    sql: Optional[str] = typer.Option(None, "--sql",
                                      help="SQL over the in-memory tables, printed every trigger and at the end, "
                                           "e.g. \"SELECT * FROM sales_kpis ORDER BY window_start\"."),
) -> None:
    """Run the five streaming queries (sales, categories, customers, anomalies, data quality)."""
    import threading

    from shopsense.spark import get_spark
    from shopsense.streaming.intervals import interval_seconds
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
    from shopsense.streaming.source import unreadable_input

    unreadable = unreadable_input(spark, str(config.stream_input_dir), config.columns, config.input_delimiter)
    if unreadable:
        raise ShopSenseError(unreadable)
    written = ", ".join(f"{name} {sink.rows_written}" for name, sink in pipeline.sinks.items())
    typer.echo(f"stopped cleanly; rows written to {config.stream_output_dir}: {written}")


# --- the SQL layer: `shopsense sql`, `shopsense serve-sql` (shopsense.catalog, docs/sql.md) ---------------
@app.command("sql")
def sql_command(
    ctx: typer.Context,
    query: Optional[str] = typer.Argument(None, help="SQL over the tables of database shopsense."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Run the statements of this .sql file."),
    output_format: str = typer.Option("table", "--format", help="table, csv or json (one object per line)."),
    max_rows: int = typer.Option(100, "--max-rows", min=1, help="Rows shown by --format table."),
) -> None:
    """Run Spark SQL over the outputs (tables purchases, quarantine, the query results, kpis, ...)."""
    from shopsense.catalog.query import FORMATS, catalog_session, run_statements, split_statements

    if output_format not in FORMATS:
        raise ShopSenseError(f"unknown format {output_format!r}: choose one of {', '.join(FORMATS)}")
    if (query is None) == (file is None):
        raise ShopSenseError("give either a query or --file FILE.sql")
    if file is not None and not file.is_file():
        raise ShopSenseError(f"no such file: {file}")
    statements = split_statements(query if file is None else file.read_text(encoding="utf-8"))
    if not statements:
        raise ShopSenseError("no SQL statement given")
    spark, catalog = catalog_session(config_of(ctx))
    run_statements(spark, catalog, statements, output_format, max_rows)


@app.command("serve-sql")
def serve_sql(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(10000, "--port", min=1, max=65535, help="TCP port of the Thrift JDBC/ODBC server."),
    allow_remote: bool = typer.Option(False, "--allow-remote",
                                      help="Allow a non-loopback --host (no authentication unless configured)."),
) -> None:
    """Serve the tables over JDBC/ODBC (Spark's Thrift server) for beeline, BI tools, PyHive and dbt."""
    from shopsense.catalog.server import serve

    serve(config_of(ctx), host, port, allow_remote, echo=typer.echo)


def run() -> None:
    """Console-script entry point: user errors become one clear line and a non-zero exit code."""
    try:
        app()
    except (ShopSenseError, JavaError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    run()
