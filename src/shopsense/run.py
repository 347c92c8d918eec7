"""The end-to-end run (`shopsense run`): every stage in order, with visible progress and one final summary.

Each stage is a function `(RunContext) -> StageResult`. A failing stage stops the run with a message
naming the stage; outputs of earlier stages stay valid (every stage writes atomically).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from shopsense.config import Config
from shopsense.errors import ShopSenseError


@dataclass
class StageResult:
    rows_in: int | None = None
    rows_out: int | None = None
    notes: list[str] = field(default_factory=list)
    outputs: dict[str, str | Path] = field(default_factory=dict)  # what -> where; printed below the summary


@dataclass
class RunContext:
    config: Config
    input_csv: str | Path  # the user's file, folder, glob or URI (a str: Path would spoil "hdfs://"), or the default
    console: Console
    _spark: object = None

    @property
    def spark(self):
        if self._spark is None:
            from shopsense.spark import get_spark

            self._spark = get_spark(self.config.spark)
        return self._spark


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    run: Callable[[RunContext], StageResult]


class StageFailed(ShopSenseError):
    pass


def _generate(ctx: RunContext) -> StageResult:
    from shopsense.generate import generate, write_csv

    rows, seed, dirty = ctx.config.run_rows, ctx.config.default_seed, ctx.config.default_dirty_fraction
    generated = generate(rows, seed, dirty_fraction=dirty)
    path = write_csv(generated, ctx.input_csv)
    planted = f", {sum(generated.dirty_kinds.values()):,} of them bad" if dirty else ""
    return StageResult(rows_out=rows, notes=[f"{rows:,} rows (seed {seed}{planted})"], outputs={"generated CSV": path})


def _ingest(ctx: RunContext) -> StageResult:
    from shopsense.ingest.stage import ingest

    s = ingest(ctx.spark, ctx.config, ctx.input_csv)
    missing = [f"missing columns (null): {', '.join(s.missing_columns)}"] if s.missing_columns else []
    return StageResult(
        rows_in=s.rows_read, rows_out=s.rows_clean,
        notes=[f"{s.rows_quarantined:,} quarantined, {s.rows_duplicate:,} duplicates removed", *missing],
        outputs={"clean Parquet": s.outputs["processed"], "quarantine": s.outputs["quarantine"]},
    )


def _analyze(ctx: RunContext) -> StageResult:
    from shopsense.analytics.absent import skipped_lines
    from shopsense.analytics.stage import analyze

    a = analyze(ctx.spark, ctx.config)
    return StageResult(
        rows_in=a.kpis.rows, notes=[
            *a.kpis.lines(include_rows=False),
            f"{len(a.answered)} query results, {len(a.plots)} plots",
            *skipped_lines(a.skipped),
            *(f"basket: {b.message}" for b in a.baskets.values()),
        ], outputs={"report": a.report})


def _train(ctx: RunContext) -> StageResult:
    from shopsense.ml.training import headline, train_models

    trained = train_models(ctx.config, spark=ctx.spark)
    return StageResult(notes=[f"{name}: {headline(t.card)}" for name, t in trained.items()])


# The demo's six one-minute files are read three per micro-batch: two data batches (the second one's late
# rows are judged by the first one's watermark) and the closing no-data batch, instead of seven. Same
# windows and alerts; 30.2-31.4 -> 14.3-14.8 s warm (docs/streaming.md). Every query cuts an available-now
# run alike, so the late counts stay exact.
DEMO_FILES, DEMO_FILES_PER_TRIGGER = 6, 3


def _stream(ctx: RunContext) -> StageResult:
    """A short streaming demo: simulate a few batches, process them with --available-now.

    The demo owns the stream folders: it clears them first so that a re-run gives the same outputs.
    """
    import threading
    from datetime import datetime, timezone

    from shopsense.io import delete
    from shopsense.streaming.runner import await_pipeline, start_pipeline
    from shopsense.streaming.simulator import Simulator, load_pool

    config = ctx.config.with_overrides(stream_max_files_per_trigger=DEMO_FILES_PER_TRIGGER)
    for folder in (config.stream_input_dir, config.stream_tmp_dir, config.stream_checkpoint_dir,
                   config.stream_output_dir):
        delete(ctx.spark, folder)
    pool, origin = load_pool(config, "auto", config.default_seed)
    sim = Simulator(config, pool, batch_size=500, interval=60.0, seed=config.default_seed,
                    start_time=datetime(2026, 1, 1, tzinfo=timezone.utc),
                    late_fraction=0.02, dirty_fraction=0.01, anomaly_fraction=0.005)
    files = list(sim.run(DEMO_FILES, pace=False))
    pipeline = start_pipeline(ctx.spark, config, available_now=True, printer=lambda _: None)
    await_pipeline(pipeline, threading.Event())
    rows_in = sum(f.rows for f in files)
    written = ", ".join(f"{name} {sink.rows_written}" for name, sink in pipeline.sinks.items())
    return StageResult(rows_in=rows_in, notes=[f"{len(files)} files simulated from {origin}",
                                               f"rows written: {written}"],
                       outputs={"streaming outputs": config.stream_output_dir})


STAGES: tuple[Stage, ...] = (
    Stage("generate", "generate the embedded default data", _generate),
    Stage("ingest", "validate, quarantine, de-duplicate, write Parquet", _ingest),
    Stage("analyze", "EDA, KPIs, plots, SQL suite, HTML report", _analyze),
    Stage("train", "promo, season and recommender models with model cards", _train),
    Stage("stream", "streaming demo: simulate batches, five queries (--available-now)", _stream),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def select_stages(only: list[str] | None, skip: list[str] | None, user_input: bool) -> list[Stage]:
    for name in (only or []) + (skip or []):
        if name not in STAGE_NAMES:
            raise ShopSenseError(f"unknown stage '{name}': choose from {', '.join(STAGE_NAMES)}")
    chosen = [s for s in STAGES if (not only or s.name in only) and s.name not in (skip or [])]
    if user_input:
        # The user's CSV replaces the generated default data.
        chosen = [s for s in chosen if s.name != "generate"]
    return chosen


def run_stages(config: Config, input_csv: str | Path | None = None, only: list[str] | None = None,
                 skip: list[str] | None = None, console: Console | None = None) -> dict[str, StageResult]:
    from shopsense.ingest.read import check_local_input

    console = console or Console()
    if input_csv is not None:
        check_local_input(str(input_csv))  # before any stage (and Spark) starts; Spark checks the others
    ctx = RunContext(config=config, input_csv=input_csv if input_csv is not None else config.default_raw_csv,
                     console=console)
    stages = select_stages(only, skip, user_input=input_csv is not None)
    results: dict[str, StageResult] = {}
    timings: dict[str, float] = {}
    with stage_progress(console) as progress:
        for stage in stages:
            task = progress.add_task(f"{stage.name}: {stage.description}", total=1)
            start = time.monotonic()
            try:
                results[stage.name] = stage.run(ctx)
            except ShopSenseError as exc:
                raise StageFailed(f"stage '{stage.name}' failed: {exc}") from exc
            except Exception as exc:  # an unexpected failure still names the stage and the cause
                raise StageFailed(f"stage '{stage.name}' failed: {type(exc).__name__}: {exc}") from exc
            finally:
                timings[stage.name] = time.monotonic() - start
            progress.update(task, completed=1)
    console.print(summary_table(results, timings))
    for line in next_steps(config, results):
        console.print(line, soft_wrap=True, highlight=False)  # paths whole, never cut at the console's width
    return results


def stage_progress(console: Console):
    """A terminal gets rich's live progress; anything else (a log file, a pipe, CI) gets a plain line when a
    stage starts and one when it ends: a live display there prints only when the run ends, cut to the width."""
    if console.is_terminal:
        return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn(),
                        console=console, transient=False)
    return StageLines(console)


class StageLines:
    """The part of rich's `Progress` that `run_stages` uses, as plain lines."""

    def __init__(self, console: Console):
        self.console = console
        self.started: list[tuple[str, float]] = []

    def __enter__(self) -> "StageLines":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, description: str, total: float = 1) -> int:
        self.started.append((description, time.monotonic()))
        self.console.print(f"{description} ...", soft_wrap=True, highlight=False)
        return len(self.started) - 1

    def update(self, task: int, completed: float) -> None:
        description, started = self.started[task]
        self.console.print(f"{description}: done in {time.monotonic() - started:.1f} s", soft_wrap=True,
                           highlight=False)


def next_steps(config: Config, results: dict[str, StageResult]) -> list[str]:
    """Where the outputs are and what to do next, for the stages that ran."""
    home = f" --home {config.home}" if config.home != Path.cwd() else ""
    lines = [f"{what}: {where}" for result in results.values() for what, where in result.outputs.items()]
    if "train" in results:
        lines.append(f"models: {config.models_dir}  (each with metrics.json: test metrics next to a baseline)")
        lines.append(f"MLflow runs and registry: mlflow ui --backend-store-uri {config.tracking_uri}")
        lines.append(f"start the web app: shopsense{home} app   (then open http://{config.app_host}:{config.app_port})")
    return lines


def summary_table(results: dict[str, StageResult], timings: dict[str, float]) -> Table:
    table = Table(title="ShopSense run summary")
    for col in ("stage", "rows in", "rows out", "time"):
        table.add_column(col, no_wrap=True)
    table.add_column("details", overflow="fold")  # long values wrap, never cut with an ellipsis
    fmt = lambda n: "" if n is None else f"{n:,}"  # noqa: E731
    for name, res in results.items():
        table.add_row(name, fmt(res.rows_in), fmt(res.rows_out), f"{timings[name]:.1f} s", "\n".join(res.notes))
    return table
