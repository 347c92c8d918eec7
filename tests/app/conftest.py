"""Fixtures of the app tests."""
from __future__ import annotations

import pytest

from fake_predictor import PROMO_INPUTS, SEASON_INPUTS, FakePredictor


@pytest.fixture()
def fake_ctx(config):
    """Factory: an AppContext around a FakePredictor (models listed in `missing` are reported absent)."""
    from shopsense.app.handlers import AppContext
    from shopsense.app.profile import profile_fields

    def make(missing: dict[str, str] | None = None, baseline: tuple[str, ...] = ()) -> AppContext:
        return AppContext(config=config, predictor=FakePredictor(missing, baseline),
                          season_fields=profile_fields(SEASON_INPUTS, exclude=("season",)),
                          promo_fields=profile_fields(PROMO_INPUTS))

    return make


# --- a real app serving the models trained once for the ML tests (tests/conftest.py) ---------------------
REPORT_ROWS = 1500  # the KPI file written below (the app only reads it)


def write_reports(config) -> None:
    """A KPI file and one plot in the layout `shopsense analyze` writes."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = config.reports_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    (config.reports_dir / "kpis.json").write_text(json.dumps({"rows": REPORT_ROWS, "distinct_customers": 300}))
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["a", "b"], [1, 2])
    ax.set_title("test plot")
    fig.savefig(plots / "test_plot.png")
    plt.close(fig)


@pytest.fixture(scope="session")
def trained_config(trained):
    """A project home with processed data, the three trained models, and reports."""
    config = trained[0]
    write_reports(config)
    return config


@pytest.fixture(scope="session")
def running_app(trained_config):
    """`shopsense app` in a subprocess on a free loopback port, serving the trained home."""
    from shopsense.app.app_process import AppProcess

    with AppProcess(trained_config.home) as app:
        yield app


@pytest.fixture(scope="session")
def empty_app(tmp_path_factory):
    """The app started on a home without models or reports."""
    from shopsense.app.app_process import AppProcess

    with AppProcess(tmp_path_factory.mktemp("empty-home")) as app:
        yield app


@pytest.fixture(scope="session")
def connect():
    """Factory: a gradio_client Client of a running AppProcess."""
    from gradio_client import Client

    return lambda app: Client(app.url, verbose=False, analytics_enabled=False, download_files=False)


@pytest.fixture(scope="session")
def client(running_app, connect):
    return connect(running_app)
