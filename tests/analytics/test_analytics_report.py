"""KPIs and distributions against pandas, the plots, and report.html (self-contained, renders in Chromium)."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from shopsense.analytics import plots
from shopsense.analytics.plots import BAR_SPECS
from shopsense.analytics.queries import QUERIES, parse_header, render_sql

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def test_kpis_equal_pandas(analysis, analysis_frame):
    config, _ = analysis
    f = analysis_frame
    saved = json.loads(config.kpis_json.read_text())
    assert saved["rows"] == len(f)
    assert saved["distinct_customers"] == f["customer_id"].nunique()
    assert saved["total_revenue_usd"] == round(f["purchase_amount_usd"].sum(), 2)
    assert saved["avg_transaction_value_usd"] == pytest.approx(f["purchase_amount_usd"].mean(), abs=0.005)
    by_count = f["category"].value_counts()
    by_revenue = f.groupby("category")["purchase_amount_usd"].sum()
    assert saved["top_category_by_count"] == by_count.idxmax()
    assert saved["top_category_by_revenue"] == by_revenue.idxmax()
    customers_by_gender = f.groupby("gender")["customer_id"].nunique()  # distinct customers, not rows
    assert {g: v["customers"] for g, v in saved["gender_split"].items()} == customers_by_gender.to_dict()
    assert sum(v["share"] for v in saved["gender_split"].values()) == pytest.approx(1.0, abs=1e-3)
    subscribers = f.loc[f["subscription_status"], "customer_id"].nunique() / f["customer_id"].nunique()
    assert saved["subscriber_share"] == pytest.approx(subscribers, abs=1e-4)
    assert saved["promo_code_rate"] == pytest.approx(f["promo_code_used"].mean(), abs=1e-4)


@pytest.mark.parametrize("dimension", ["gender", "category", "item_purchased", "location", "season", "size"])
def test_distributions_equal_pandas(analysis, analysis_frame, dimension):
    config, _ = analysis
    dist = pd.read_csv(config.distributions_csv)
    ours = dist[dist["dimension"] == dimension].set_index("value").sort_index()
    g = analysis_frame.groupby(dimension)
    assert ours["purchases"].to_dict() == g.size().to_dict()
    assert ours["customers"].to_dict() == g["customer_id"].nunique().to_dict()
    assert ours["revenue"].to_dict() == g["purchase_amount_usd"].sum().round(2).to_dict()


def test_age_groups_count_distinct_customers(analysis, analysis_frame):
    config, _ = analysis
    dist = pd.read_csv(config.distributions_csv, dtype={"value": str})
    groups = dist[dist["dimension"] == "age_group"].set_index("value")["customers"]
    ages = dist[dist["dimension"] == "age"]
    assert groups.sum() == analysis_frame["customer_id"].nunique()  # customers keep one age
    assert ages["purchases"].sum() == len(analysis_frame)
    young = analysis_frame[analysis_frame["age"] <= 24]["customer_id"].nunique()
    assert groups["<25"] == young


def plot_files(config) -> list[Path]:
    return sorted(config.plots_dir.glob("*.png"))


def test_every_plot_is_a_png(analysis):
    config, _ = analysis
    plots = plot_files(config)
    assert len(plots) == len(BAR_SPECS) + 2  # + age histogram and rates
    for path in plots:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        assert path.stat().st_size > 5_000


def test_every_plot_has_titles_axis_labels_and_units(analysis, monkeypatch, tmp_path):
    """Redraw the plots from the saved distributions and KPIs and read every figure before it is saved."""
    config, _ = analysis
    profile = pd.read_csv(config.distributions_csv, dtype={"value": str})
    kpis = json.loads(config.kpis_json.read_text())
    figures = {}
    save = plots._save

    def capture(fig, path):
        figures[path.stem] = [(ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes]
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", capture)
    plots.write_plots(profile, kpis, tmp_path)
    assert len(figures) == len(BAR_SPECS) + 2
    units = ("(count)", "(distinct count)", "(USD)", "(%)", "(years")
    for name, axes in figures.items():
        for title, xlabel, ylabel in axes:
            assert title, name
            assert any(unit in xlabel + ylabel for unit in units), (name, xlabel, ylabel)  # the value axis
            if name != "rates":  # the rates plot's categories are spelled out on the bars
                assert xlabel and ylabel, name


def test_every_query_has_a_documented_csv(analysis):
    """One CSV with a header per query, and every output column is described in the SQL file's header."""
    config, _ = analysis
    for query in QUERIES:
        header = parse_header(render_sql(query, config))
        assert header["question"] and header["tie-break"], query.name
        columns = (config.queries_dir / f"{query.name}.csv").read_text().splitlines()[0].split(",")
        assert len(columns) >= 3
        for column in columns:
            assert column in header["columns"], (query.name, column)


def test_report_is_self_contained(analysis):
    config, _ = analysis
    page = config.report_html.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "no network references"
    assert "<script" not in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == len(plot_files(config)) and all(i.startswith("data:image/png;base64,") for i in images)
    assert page.count("<table>") == len(QUERIES)
    customers = json.loads(config.kpis_json.read_text())["distinct_customers"]  # rows of the CLV table
    assert f"Showing the first {config.report_max_table_rows} of {customers:,} rows" in page
    for query in QUERIES:
        question = parse_header(render_sql(query, config))["question"]
        assert f'id="{query.name}"' in page and html.escape(question) in page


def kpi_texts(kpis: dict) -> list[str]:
    return [f"{kpis['rows']:,}", f"{kpis['distinct_customers']:,}", f"${kpis['total_revenue_usd']:,.2f}",
            f"${kpis['avg_transaction_value_usd']:,.2f}", kpis["top_category_by_revenue"]]


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="!!! /usr/bin/chromium is MISSING: report.html was NOT rendered in a browser "
                           "(install Debian chromium, e.g. `make browser`) !!!")
def test_report_renders_in_headless_chromium(analysis, tmp_path):
    from playwright.sync_api import sync_playwright

    config, _ = analysis
    kpis = json.loads(config.kpis_json.read_text())
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(config.report_html.as_uri(), wait_until="load")
            widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
            tables = page.locator("table").count()
            text = page.inner_text("body")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert len(widths) == len(plot_files(config)) and min(widths) > 0, widths
    assert tables == len(QUERIES)
    for value in kpi_texts(kpis):
        assert value in text, value
    assert all(url.startswith(("file:", "data:")) for url in requests), "no network needed"
    assert shot.stat().st_size > 50_000
