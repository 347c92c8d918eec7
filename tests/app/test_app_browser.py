"""Browser level: headless Debian Chromium driven by Playwright fills every tab, clicks, reads the page.

The answers read from the page must be the inference module's; a screenshot of each tab is saved.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
TIMEOUT_MS = 60_000  # generous: a prediction on a loaded 2-core machine can take seconds


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    if not CHROMIUM.exists():
        reason = f"BROWSER TESTS SKIPPED: {CHROMIUM} is missing (`make browser` installs Debian chromium)"
        warnings.warn(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


@pytest.fixture()
def page(browser, running_app):
    page = open_page(browser, running_app.url)
    yield page
    page.close()


def read_table(page, elem_id: str) -> list[list[str]]:
    rows = page.locator(f"#{elem_id} [role=row][data-index]")
    return [[cell.inner_text().strip() for cell in row.locator("[role=gridcell]").all()] for row in rows.all()]


def wait_rows(page, elem_id: str, count: int) -> list[list[str]]:
    from playwright.sync_api import expect

    expect(page.locator(f"#{elem_id} [role=row][data-index]")).to_have_count(count)
    return read_table(page, elem_id)


def expect_text(page, elem_id: str, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f"#{elem_id}")).to_contain_text(text)


def pick(page, elem_id: str, value: str) -> None:
    """Choose a dropdown value the way a user does: open it, type, click the option."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(value)
    page.get_by_role("option", name=value, exact=True).click()


def screenshot(page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not an empty image


def numbers(rows: list[list[str]]) -> list[float]:
    return [float(r[2]) for r in rows]  # rank, item, score


def test_seasonal_item_predictor_tab(page, predictor, shots):
    page.get_by_role("tab", name="Seasonal Item Predictor").click()
    pick(page, "season-season", "Fall")
    page.locator("#season-customer input").fill("5")
    page.locator("#season-run").click()
    expect_text(page, "season-message", "customer 5 in Fall")
    expected = predictor.top_items(predictor.customer_profile(5), "Fall", k=3)["items"]
    rows = wait_rows(page, "season-items", 3)
    assert [r[1] for r in rows] == [e["item"] for e in expected] and [r[0] for r in rows] == ["1", "2", "3"]
    assert numbers(rows) == pytest.approx([e["score"] for e in expected], abs=1e-4)
    expect_text(page, "season-banner", "Serving:")

    page.locator("#season-source").get_by_label("Profile").check()
    page.locator("#season-age input").fill("24")
    pick(page, "season-gender", "Female")
    page.locator("#season-run").click()
    expect_text(page, "season-message", "this profile in Fall")
    screenshot(page, shots, "seasonal")
    assert len(wait_rows(page, "season-items", 3)) == 3


def test_recommendations_tab(page, predictor, shots):
    page.get_by_role("tab", name="Product Recommendations").click()
    page.locator("#recommend-customer input").fill("17")
    page.locator("#recommend-k input").fill("4")
    page.locator("#recommend-run").click()
    expect_text(page, "recommend-message", "Personalised for customer 17")
    expected = predictor.recommend(17, k=4)
    rows = wait_rows(page, "recommend-items", 4)
    assert [r[1] for r in rows] == [e["item"] for e in expected["items"]]
    bought = wait_rows(page, "recommend-bought", len(expected["already_bought"]))
    assert [r[0] for r in bought] == expected["already_bought"]
    assert not {r[1] for r in rows} & {r[0] for r in bought}
    screenshot(page, shots, "recommendations")

    page.locator("#recommend-customer input").fill("999999999")
    page.locator("#recommend-run").click()
    expect_text(page, "recommend-message", "popularity fallback: unknown customer")

    page.locator("#recommend-customer input").fill("")
    page.locator("#recommend-run").click()
    expect_text(page, "recommend-message", "Customer ID is empty")


def test_promo_tab_offers_every_value_and_predicts(page, predictor, shots):
    from playwright.sync_api import expect

    from shopsense.app.profile import profile_fields
    from shopsense.app.ui import widget_id
    from shopsense.ml.inference import PROMO_INPUTS

    fields = profile_fields(PROMO_INPUTS)
    page.get_by_role("tab", name="Promo Code Propensity").click()
    for field in (f for f in fields if f.kind == "choice"):  # every value of every vocabulary is offered
        page.locator(f"#{widget_id('promo', field.column)} input").click()
        options = page.get_by_role("option")
        expect(options).to_have_count(len(field.choices))
        # the selected option carries a check mark line before its text
        assert [o.inner_text().strip().splitlines()[-1] for o in options.all()] == list(field.choices)
        page.keyboard.press("Escape")
    page.locator("#promo-age input").fill("22")
    page.locator("#promo-subscription-status input").check()
    page.locator("#promo-run").click()
    expect_text(page, "promo-message", "Probability of using a promo code")
    profile = {f.column: f.default for f in fields}
    expected = predictor.promo_probability({**profile, "age": 22, "subscription_status": True})
    shown = float(page.locator("#promo-probability input").input_value())
    assert shown == pytest.approx(expected["probability"], abs=1e-4)
    decision = page.locator("#promo-decision textarea").input_value()
    assert decision == ("likely to use a promo code" if expected["decision"] else "unlikely to use a promo code")
    screenshot(page, shots, "promo")

    page.locator("#promo-age input").fill("250")
    page.locator("#promo-run").click()
    expect_text(page, "promo-message", "⚠️")
    assert "Traceback" not in page.content()


def test_overview_tab(page, shots):
    page.get_by_role("tab", name="Overview").click()
    expect_text(page, "overview-kpis", "1,500")
    expect_text(page, "overview-metrics", "recommender")
    assert {"promo", "season", "recommender"} == {r[0] for r in read_table(page, "overview-metrics")}
    from playwright.sync_api import expect

    expect(page.locator("#overview-plots img")).to_have_count(2)
    expect_text(page, "overview-serving", "model")
    expect_text(page, "overview-propensity", "Brier score")
    screenshot(page, shots, "overview")


def test_missing_models_page_says_what_to_run(browser, empty_app, shots):
    page = open_page(browser, empty_app.url)
    try:
        for tab, banner in (("Seasonal Item Predictor", "season-banner"),
                            ("Product Recommendations", "recommend-banner"),
                            ("Promo Code Propensity", "promo-banner")):
            page.get_by_role("tab", name=tab).click()
            expect_text(page, banner, "shopsense train")
        page.get_by_role("tab", name="Overview").click()
        expect_text(page, "overview-status", "shopsense analyze")
        assert re.search(r"shopsense train \w+", page.locator("#overview-metrics").inner_text())
        screenshot(page, shots, "missing-models")
    finally:
        page.close()
