"""The app's Live view (shopsense.app.live): read from the stream's durable outputs; in the browser, new
windows appear while a stream runs, without reloading the page."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shopsense.app.live import live_page, load_live
from shopsense.config import load_config
from shopsense.streaming.runner import output_of

T0 = datetime(2025, 1, 1, 10, 0)


def _windows(spark, minutes: range, orders: int):
    rows = [(T0 + timedelta(minutes=m), T0 + timedelta(minutes=m + 1), orders, orders * 50.0, 50.0, orders)
            for m in minutes]
    return spark.createDataFrame(rows, "window_start timestamp, window_end timestamp, orders bigint, "
                                       "revenue double, avg_order_value double, distinct_customers_approx bigint")


def test_before_any_stream_it_says_how_to_start_one(spark, config):
    view = load_live(spark, config)
    assert "shopsense stream run" in view.status and view.windows.empty and view.alerts.empty


def test_it_shows_the_newest_windows_alerts_and_quality_counts(spark, config):
    output_of(spark, config, "sales_kpis").write(_windows(spark, range(0, 3), 10), 0)
    output_of(spark, config, "sales_kpis").write(_windows(spark, range(3, 5), 30), 4)
    output_of(spark, config, "anomalies").write(spark.createDataFrame(
        [("window_revenue", T0 + timedelta(minutes=3), None, None, 1500.0, 500.0, 9.9)],
        "kind string, window_start timestamp, event_id string, item_purchased string, value double, "
        "expected double, score double"), 4)
    dq = "rows_seen bigint, rows_valid bigint, rows_invalid bigint, rows_late bigint"
    output_of(spark, config, "data_quality").write(spark.createDataFrame([(12, 10, 2, 1), (5, 5, 0, 0)], dq), 1)
    view = load_live(spark, config)
    assert list(view.windows["orders"]) == [10, 10, 10, 30, 30]  # oldest first, for the charts
    assert view.windows["window_start"].is_monotonic_increasing
    assert "5 newest finalised windows" in view.status and "30 orders" in view.status
    assert list(view.alerts["kind"]) == ["window_revenue"]
    assert dict(zip(view.quality["measure"], view.quality["rows"])) == {
        "rows_seen": 17, "rows_valid": 15, "rows_invalid": 2, "rows_late": 1}
    status, *charts, table, alerts, quality = live_page(config, spark)
    assert len(table) == 5 and table["window_start"].iloc[0] == "2025-01-01 10:00"


@pytest.mark.slow
def test_new_windows_appear_in_the_browser_while_a_stream_runs(spark, pool, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from shopsense.app.app_process import AppProcess
    from shopsense.streaming.runner import start_pipeline
    from shopsense.streaming.simulator import Simulator

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(f"{chromium} is missing (`make browser` installs Debian chromium)")
    config = load_config(home=tmp_path)
    sim = Simulator(config, pool, batch_size=30, interval=60, seed=2, start_time=T0)
    with AppProcess(tmp_path) as app, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(120_000)
        expect.set_options(timeout=180_000)
        page.goto(app.url)
        page.get_by_role("tab", name="Live").click()
        expect(page.locator("#live-status")).to_contain_text("shopsense stream run")

        rows = page.locator("#live-windows [role=row][data-index]")
        pipeline = start_pipeline(spark, config, printer=None, console=False)
        try:
            for k in range(4):  # events 10:00-10:04: the watermark (2 min) passes the end of 10:00-10:01
                sim.write_batch(k)
            expect(page.locator("#live-status")).to_contain_text("newest finalised windows")
            expect(rows).to_have_count(1)
            for k in range(4, 6):  # 10:04-10:06: two more windows close; the page is not reloaded
                sim.write_batch(k)
            expect(rows).to_have_count(3)
            assert pipeline.failure() is None
        finally:
            pipeline.stop()
            browser.close()
