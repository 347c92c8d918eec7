"""The models section of report.html: serving decisions with their intervals, the promo propensity norms."""
from __future__ import annotations

import re

import pytest

from shopsense.analytics.report import (
    MODELS_END, MODELS_START, models_section, refresh_models_section, render_models, with_models,
)

PAGE = "<html><body><main>\n<h2>Queries</h2>\n{models}\n</main></body></html>"


def section(page: str) -> str:
    return page.split(MODELS_START, 1)[1].split(MODELS_END, 1)[0]


def test_without_models_the_section_says_how_to_train():
    text = section(render_models({}, {}))
    assert "No model is trained yet" in text and "shopsense train" in text


def test_with_models_replaces_only_the_section_and_adds_one_to_an_older_report():
    page = PAGE.format(models=render_models({}, {}))
    new = f"{MODELS_START}NEW{MODELS_END}"
    assert with_models(page, new) == PAGE.format(models=new)
    refreshed = with_models(PAGE.format(models=""), new)
    assert refreshed.count(new) == 1 and refreshed.index(new) < refreshed.index("</main>")


def test_refresh_without_a_report_leaves_it_to_analyze(spark, config):
    assert refresh_models_section(spark, config) is None and not config.report_html.exists()


@pytest.mark.slow
def test_the_section_shows_each_decision_and_the_promo_norms(spark, trained):
    config, models = trained
    text = section(models_section(spark, config))
    for name, model in models.items():
        decision = model.card.serving
        assert f'id="model-{name}"' in text and f"Serving the {decision.serving}:" in text
        # The interval, as the serving table formats it.
        assert f"{decision.lift_low:,.4f}" in text and f"{decision.lift_high:,.4f}" in text
    calibration = models["promo"].card.details["calibration"]
    assert f"{calibration['brier']:.4f}" in text
    tables = re.findall(r"<tbody>(.*?)</tbody>", text.split('id="model-promo"', 1)[1].split("</section>", 1)[0])
    serving, reliability, deciles = tables
    assert reliability.count("<tr>") == len(calibration["reliability"]) and deciles.count("<tr>") == 10
    assert 'id="plot-promo-reliability"><img src="data:image/png;base64,' in text
