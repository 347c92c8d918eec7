"""Shared fixtures: ONE local SparkSession for the whole test session, and small generated data."""
from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from shopsense.config import Config, MLSettings, SparkSettings, load_config

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_CSV = FIXTURES / "shopping_sample.csv"  # 100 real rows of the public file

TEST_SPARK = SparkSettings(master="local[2]", app_name="shopsense-tests", shuffle_partitions=2)


@pytest.fixture(scope="session")
def settings_kept(spark):
    """A context manager: the shared session's runtime settings after it are those before it, e.g. around
    a command run in-process (CliRunner), which passes through `get_spark` and applies that home's settings
    (e.g. 8 shuffle partitions) to the shared session."""
    from contextlib import contextmanager

    @contextmanager
    def kept():
        before = spark.conf.getAll
        try:
            yield
        finally:
            _restore(spark.conf, before)

    return kept


def _restore(conf, before: dict) -> None:
    """Set back every modifiable setting that changed since `before`; unset the ones that are new."""
    after = conf.getAll
    for key in {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}:
        if not conf.isModifiable(key):
            continue
        if key in before:
            conf.set(key, before[key])
        else:
            conf.unset(key)


@pytest.fixture(autouse=True)
def spark_settings_restored(request):
    """Every test leaves the shared session's settings as it found them: the next tests must not depend on
    which test ran before them (`settings_kept`)."""
    if "spark" not in request.fixturenames:
        yield
        return
    with request.getfixturevalue("settings_kept")():
        yield


@pytest.fixture(scope="session")
def spark():
    from shopsense.spark import get_spark

    session = get_spark(TEST_SPARK)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shopsense_in_process(spark, settings_kept):
    """Run a `shopsense` command in this process on the shared session, as the console script runs it
    (`shopsense.cli.run`: a user error is one `error:` line and exit code 2): a CompletedProcess with the
    exit code and the printed text. For tests of a command's behaviour; what needs a process of its own
    (a fresh JVM, Spark's console output kept out of the terminal, signals, the README commands) starts one.
    An unexpected exception is raised into the test (a traceback a user would see fails it)."""
    from shopsense.cli import run

    def invoke(*args) -> subprocess.CompletedProcess:
        argv = ["shopsense", *map(str, args)]
        out, err = io.StringIO(), io.StringIO()
        saved, sys.argv = sys.argv, argv
        try:
            with settings_kept(), redirect_stdout(out), redirect_stderr(err):
                run()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            sys.argv = saved
        return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture()
def config(tmp_path) -> Config:
    """A project home in a fresh temporary folder, with the test Spark settings."""
    return load_config(home=tmp_path).with_overrides(spark=TEST_SPARK)


@pytest.fixture(scope="session")
def processed_frame():
    """Factory: a clean generated log in the processed layout (pandas), e.g. processed_frame(2000, seed=1)."""
    from shopsense.generate import generate_frame, to_processed_frame

    def make(rows: int = 2000, seed: int = 7, customers: int | None = None):
        return to_processed_frame(generate_frame(rows, seed, customers))

    return make


@pytest.fixture(scope="session")
def processed_df(spark, processed_frame):
    """Factory: the same as a Spark DataFrame with the processed schema."""
    from shopsense.schema import PROCESSED_SCHEMA

    def make(rows: int = 2000, seed: int = 7, customers: int | None = None):
        return spark.createDataFrame(processed_frame(rows, seed, customers), schema=PROCESSED_SCHEMA)

    return make


# Few trees, shallow search, few ALS iterations: the suite stays fast on a shared 2-core machine.
SMALL = MLSettings(promo_num_trees=(8,), promo_max_depth=(3, 5), season_num_trees=8, season_max_depth=5,
                   als_max_iter=5)
SIGNAL_ROWS = 4000
# Tiny models: the pipeline, cluster and no-lift tests check orchestration, equality and the evaluation;
# the signal tests check what the models learn.
TINY_ML = MLSettings(promo_num_trees=(5,), promo_max_depth=(3,), season_num_trees=5, season_max_depth=3,
                     als_max_iter=3)
SHUFFLED_ROWS = 2000


def trained_home(tmp_path_factory, spark, frame, name, settings: MLSettings = SMALL):
    from shopsense.ml.training import train_models
    from shopsense.schema import PROCESSED_SCHEMA

    # The session-wide `spark` fixture is passed explicitly: no second session is built.
    config = load_config(home=tmp_path_factory.mktemp(name)).with_overrides(ml=settings)
    spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.parquet(str(config.processed_dir))
    return config, train_models(config, spark=spark)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, spark, processed_frame):
    """(config, {name: (model, card)}) of all three models trained ONCE on planted-signal data: used by the
    ML tests and served by the app in the app tests."""
    return trained_home(tmp_path_factory, spark, processed_frame(SIGNAL_ROWS, seed=11), "signal")


@pytest.fixture(scope="session")
def predictor(trained, spark):
    """The inference module on the trained models (the app's answers are compared with it)."""
    from shopsense.ml.inference import Predictor

    return Predictor(trained[0], spark=spark)


# --- one `shopsense run` of every stage, in-process on the shared session ----------------------------------
PIPELINE_ROWS = 2000
PIPELINE_DIRTY = 0.02  # bad rows of every kind: the quarantine runs end to end (and on the cluster)


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory, spark):
    """(config, stage results, printed text) of `run_stages` with every stage on generated default data.
    tests/test_run.py checks it; tests/integration compares with it a cluster run whose outputs go to a data root."""
    from rich.console import Console

    from shopsense.run import run_stages

    config = load_config(home=tmp_path_factory.mktemp("run")).with_overrides(
        spark=TEST_SPARK, run_rows=PIPELINE_ROWS, default_dirty_fraction=PIPELINE_DIRTY, ml=TINY_ML)
    out = io.StringIO()
    results = run_stages(config, console=Console(file=out, width=240))
    return config, results, out.getvalue()


# --- `make test` runs on two pytest-xdist workers (`pytest -n 2`, docs/testing.md) ----------------------------
# A session fixture is built once in each worker that uses it, so the files sharing an expensive one run in
# the same worker, as one unit of work: the trained home (`trained`: app and ML tests), the end-to-end run
# (`pipeline_run`: tests/test_run.py and the cluster and data-root tests), the analysis (`analysis`: analytics tests).
# Every other file is a unit of its own (its module fixtures are built once). Longest work first: these
# units, then the files with slow tests, then the rest (the short files fill the end of both workers).
SHARED_STATE_UNITS = (("trained", ("tests/app/", "tests/ml/")),
                      ("pipeline_run", ("tests/test_run.py", "tests/integration/")),
                      ("analysis", ("tests/analytics/",)))


def work_unit(nodeid: str) -> str:
    """The unit of work of a test: its shared-state unit, or its file."""
    file = nodeid.split("::")[0]
    return next((unit for unit, prefixes in SHARED_STATE_UNITS if file.startswith(prefixes)), file)


# The driver JVMs of the suite (the shared session, and every `shopsense` process, app and cluster driver a test
# starts, which inherit the environment) run small data for seconds to minutes: the C2 compiler's CPU is not won
# back. Compiling with C1 only, one `shopsense run` of every stage on the 100 sample rows in a fresh process took
# 112 -> 79 CPU s; the ML tests on one session 248 -> 240 CPU s. The code run is the same; Spark's launcher
# adds SPARK_SUBMIT_OPTS to the driver's command line.
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"


def pytest_configure(config):
    import __main__
    import os

    submit_options = os.environ.get("SPARK_SUBMIT_OPTS", "")
    if TEST_JVM_OPTIONS not in submit_options:  # an xdist worker inherits the controller's environment
        os.environ["SPARK_SUBMIT_OPTS"] = f"{submit_options} {TEST_JVM_OPTIONS}".strip()

    if hasattr(config, "workerinput") and __main__.__spec__ is None and not hasattr(__main__, "__file__"):
        # An xdist worker's __main__ is a `python -c` program; pyspark.sql.connect (imported by MLflow's Spark
        # flavour) takes such a __main__ for its doctest runner and exits. A spec named __main__ is what
        # `python -m` gives; multiprocessing ignores that name.
        from importlib.machinery import ModuleSpec

        __main__.__spec__ = ModuleSpec("__main__", None)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SharedStateScheduling(LoadScopeScheduling):
        """pytest-xdist's scheduling by scope (a scope runs in one worker), with `work_unit` as the scope."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False  # the units in collection order (below), not by test count
    return SharedStateScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    if not hasattr(config, "workerinput"):  # not an xdist worker: one process, collection order
        return
    units = [unit for unit, _ in SHARED_STATE_UNITS]
    slow_files = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}

    def rank(item) -> tuple[int, int]:
        unit = work_unit(item.nodeid)
        return (units.index(unit) if unit in units else len(units),
                0 if item.nodeid.split("::")[0] in slow_files else 1)

    items.sort(key=rank)  # stable: collection order within a rank
