"""KPIs and distributions against pandas, the plots, and report.html (self-contained, renders in Chromium)."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from shopsense.analytics import plots
from shopsense.analytics.eda import Kpis
from shopsense.analytics.plots import BAR_SPECS
from shopsense.analytics.queries import QUERIES, QueryResult, parse_header, render_sql
from shopsense.analytics.report import render_report

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
    kpis = Kpis.from_json(json.loads(config.kpis_json.read_text()))
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
    assert re.findall(r"<script[^>]*>", page) == ["<script>"], "one inline script (table sorting), nothing loaded"
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == len(plot_files(config)) and all(i.startswith("data:image/png;base64,") for i in images)
    assert page.count('<table class="sortable">') == len(QUERIES)
    customers = json.loads(config.kpis_json.read_text())["distinct_customers"]  # rows of the CLV table
    assert f"Showing the first {config.report_max_table_rows} of {customers:,} rows" in page
    for query in QUERIES:
        header = parse_header(render_sql(query, config))
        title = header["title"][:1].upper() + header["title"][1:]
        assert f'id="{query.name}"' in page and html.escape(header["question"]) in page
        assert f"<h3>{html.escape(title)}</h3>" in page  # in words, not the file name


def test_the_kpi_json_keeps_its_layout(analysis):
    """kpis.json is read by the app and by other tools: the same keys and types as before KPIs were typed."""
    config, printed = analysis
    saved = json.loads(config.kpis_json.read_text())
    assert all(f"  {line}" in printed for line in Kpis.from_json(saved).lines())
    assert sorted(saved) == sorted(
        ["rows", "distinct_customers", "total_revenue_usd", "avg_transaction_value_usd",
         "avg_purchases_per_customer", "avg_review_rating", "top_category_by_count", "top_category_by_revenue",
         "gender_split", "subscriber_share", "promo_code_rate", "discount_rate"])
    assert all(set(v) == {"customers", "share"} for v in saved["gender_split"].values())


def kpi_texts(kpis: dict) -> list[str]:
    return [f"{kpis['rows']:,}", f"{kpis['distinct_customers']:,}", f"${kpis['total_revenue_usd']:,.2f}",
            f"${kpis['avg_transaction_value_usd']:,.2f}", kpis["top_category_by_revenue"]]


def wide_page(kpis: Kpis) -> str:
    """A report with a 40-column table and a long unbroken path: it must still fit the window."""
    frame = pd.DataFrame({f"a_rather_long_column_name_{i}": [i * 1000.5, i] for i in range(40)})
    result = QueryResult("wide", "", {"title": "a wide table", "question": "Does it fit?"}, frame,
                         path=Path("/" + "very-long-folder-name-" * 20 + "wide.csv"))
    return render_report(kpis, [], [result], {}, Path("/data/" + "x" * 300), max_rows=10)


def column_values(page, section: str, column: int) -> list[float]:
    texts = page.eval_on_selector_all(f"#{section} tbody tr", f"rows => rows.map(r => r.cells[{column}].textContent)")
    return [float(re.sub(r"[,$%]", "", text)) for text in texts if text.strip()]


@pytest.mark.slow
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
            page_width = page.evaluate("document.documentElement.scrollWidth")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            # a click on a numeric heading sorts that table ascending, a second click descending
            heading = page.locator("#customer_lifetime_value th:not(.text)").first
            column = heading.evaluate("th => th.cellIndex")
            before = column_values(page, "customer_lifetime_value", column)
            heading.click()
            ascending = column_values(page, "customer_lifetime_value", column)
            heading.click()
            descending = column_values(page, "customer_lifetime_value", column)
            wide = tmp_path / "wide.html"
            wide.write_text(wide_page(Kpis.from_json(kpis)), encoding="utf-8")
            page.goto(wide.as_uri(), wait_until="load")
            wide_width = page.evaluate("document.documentElement.scrollWidth")
            table_scrolls = page.eval_on_selector("#wide .scroll", "d => d.scrollWidth > d.clientWidth")
        finally:
            browser.close()
    assert len(widths) == len(plot_files(config)) and min(widths) > 0, widths
    assert tables == len(QUERIES)
    for value in kpi_texts(kpis):
        assert value in text, value
    assert all(url.startswith(("file:", "data:")) for url in requests), "no network needed"
    assert shot.stat().st_size > 50_000
    assert page_width <= 1280 and wide_width <= 1280, (page_width, wide_width)
    assert table_scrolls, "the wide table scrolls inside its card"
    assert len(set(before)) > 2
    assert ascending == sorted(before) and descending == sorted(before, reverse=True)
