"""The page: one gr.Blocks with four tabs. Layout and wiring only; the work is in `handlers`.

Element ids (`elem_id`) are stable names the browser tests use; API names (`api_name`) are the endpoints
`gradio_client` calls: /seasonal_items, /recommend, /promo, /overview.
"""
from __future__ import annotations

from functools import partial

import gradio as gr

from shopsense import schema
from shopsense.app import handlers as h
from shopsense.app.live import build_live_tab
from shopsense.app.overview import METRIC_COLUMNS, SERVING_COLUMNS
from shopsense.app.profile import Field

TITLE = "ShopSense"
PER_ROW = 4  # profile fields per row of the form
PREDICT_QUEUE = "predict"  # one concurrency group shared by the three prediction events (see docs/app.md)


def widget_id(prefix: str, column: str) -> str:
    """elem_id of a profile widget, e.g. promo-previous-purchases."""
    return f"{prefix}-{column.replace('_', '-')}"


def field_widget(field: Field, prefix: str):
    elem_id = widget_id(prefix, field.column)
    if field.kind == "choice":
        return gr.Dropdown(list(field.choices), value=field.default, label=field.label, elem_id=elem_id)
    if field.kind == "flag":
        return gr.Checkbox(value=field.default, label=field.label, elem_id=elem_id)
    bounds = f"{field.low:g} to {field.high:g}"
    return gr.Number(value=field.default, label=field.label, info=bounds, elem_id=elem_id)


def profile_widgets(fields: tuple[Field, ...], prefix: str) -> list:
    widgets = []
    for start in range(0, len(fields), PER_ROW):
        with gr.Row(equal_height=True):
            widgets += [field_widget(field, prefix) for field in fields[start:start + PER_ROW]]
    return widgets


def banner(ctx: h.AppContext, model: str, elem_id: str):
    """The tab's model status, fixed for the life of the server (models are loaded once)."""
    text = h.model_banner(ctx, model)
    return gr.Markdown(text, visible=bool(text), elem_id=elem_id)


def build_ui(ctx: h.AppContext, concurrency: int) -> gr.Blocks:
    predict = dict(concurrency_id=PREDICT_QUEUE, concurrency_limit=concurrency)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nRetail analytics on Apache Spark: predictions from the saved models.")
        with gr.Tabs():
            with gr.Tab("Seasonal Item Predictor", id="season"):
                banner(ctx, "season", "season-banner")
                with gr.Row():
                    season = gr.Dropdown(list(schema.SEASONS), value=schema.SEASONS[0], label="Season",
                                         elem_id="season-season")
                    source = gr.Radio(list(h.SOURCES), value=h.BY_CUSTOMER, label="Describe the customer by",
                                      elem_id="season-source")
                with gr.Column(visible=True) as by_customer:
                    season_customer = gr.Number(label="Customer ID", precision=0, elem_id="season-customer")
                with gr.Column(visible=False) as by_profile:
                    season_profile = profile_widgets(ctx.season_fields, "season")
                source.change(lambda s: (gr.Column(visible=s == h.BY_CUSTOMER), gr.Column(visible=s == h.BY_PROFILE)),
                              source, [by_customer, by_profile], api_visibility="private", queue=False)
                season_run = gr.Button("Predict top-3 items", variant="primary", elem_id="season-run")
                season_message = gr.Markdown(elem_id="season-message")
                season_items = gr.Dataframe(headers=list(h.RANKED), interactive=False,
                                            label="Top-3 items", elem_id="season-items")
                season_run.click(partial(h.seasonal_items, ctx), [season, source, season_customer, *season_profile],
                                 [season_message, season_items], api_name="seasonal_items", **predict)

            with gr.Tab("Product Recommendations", id="recommend"):
                banner(ctx, "recommender", "recommend-banner")
                with gr.Row():
                    rec_customer = gr.Number(label="Customer ID", precision=0, elem_id="recommend-customer")
                    rec_k = gr.Number(value=5, label="Number of recommendations (k)", precision=0,
                                      info=f"1 to {h.MAX_K}", elem_id="recommend-k")
                rec_run = gr.Button("Recommend", variant="primary", elem_id="recommend-run")
                rec_message = gr.Markdown(elem_id="recommend-message")
                with gr.Row():
                    rec_items = gr.Dataframe(headers=list(h.RANKED), interactive=False,
                                             label="Recommended items", elem_id="recommend-items")
                    rec_bought = gr.Dataframe(headers=list(h.BOUGHT), interactive=False,
                                              label="Already bought", elem_id="recommend-bought")
                rec_run.click(partial(h.recommendations, ctx), [rec_customer, rec_k],
                              [rec_message, rec_items, rec_bought], api_name="recommend", **predict)

            with gr.Tab("Promo Code Propensity", id="promo"):
                banner(ctx, "promo", "promo-banner")
                promo_profile = profile_widgets(ctx.promo_fields, "promo")
                promo_run = gr.Button("Estimate promo-code use", variant="primary", elem_id="promo-run")
                promo_message = gr.Markdown(elem_id="promo-message")
                with gr.Row():
                    promo_probability = gr.Number(label="Probability", interactive=False,
                                                  elem_id="promo-probability")
                    promo_decision = gr.Textbox(label="Decision", interactive=False, elem_id="promo-decision")
                promo_run.click(partial(h.promo_propensity, ctx), promo_profile,
                                [promo_message, promo_probability, promo_decision], api_name="promo", **predict)

            with gr.Tab("Overview", id="overview"):
                overview_status = gr.Markdown(elem_id="overview-status")
                overview_refresh = gr.Button("Refresh", elem_id="overview-refresh")
                gr.Markdown("## Serving decisions: model or baseline, by the 95% interval of the lift on test data")
                overview_serving = gr.Dataframe(headers=list(SERVING_COLUMNS), interactive=False,
                                                elem_id="overview-serving")
                gr.Markdown("## Model quality on held-out test data, next to the baseline")
                overview_metrics = gr.Dataframe(headers=list(METRIC_COLUMNS), interactive=False,
                                                elem_id="overview-metrics")
                gr.Markdown("## Promo propensity norms")
                overview_propensity = gr.Markdown(elem_id="overview-propensity")
                gr.Markdown("## Headline KPIs")
                overview_kpis = gr.Markdown(elem_id="overview-kpis")
                # object_fit="contain" and no fixed height: every plot is shown whole, never cropped.
                overview_plots = gr.Gallery(label="Plots from `shopsense analyze` and `shopsense train`", columns=2,
                                            object_fit="contain", height="auto", elem_id="overview-plots")
                outputs = [overview_status, overview_kpis, overview_plots, overview_metrics, overview_serving,
                           overview_propensity]
                show = partial(h.overview_page, ctx)
                overview_refresh.click(show, None, outputs, api_name="overview", concurrency_limit=None)
                demo.load(show, None, outputs, api_visibility="private", concurrency_limit=None)

            with gr.Tab("Live", id="live"):
                build_live_tab(ctx.config)
    return demo
