"""The Live tab and the `/live` API endpoint: the newest finalised windows (orders, revenue, average order
value) as charts over event time, the newest anomaly alerts and the data-quality counts of `shopsense
stream run`, read from its durable outputs (any URI, through Spark) and refreshed every few seconds.

Only bounded results reach the app: the newest LIVE_WINDOWS windows, LIVE_ALERTS alerts, one row of sums.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from shopsense.config import Config
from shopsense.errors import ShopSenseError
from shopsense.spark import JavaError

LIVE_WINDOWS = 60  # newest windows on the charts and in the table
LIVE_ALERTS = 20
REFRESH_SECONDS = 5.0
WINDOW_COLUMNS = ("window_start", "window_end", "orders", "revenue", "avg_order_value")
ALERT_COLUMNS = ("kind", "window_start", "event_id", "item_purchased", "value", "expected", "score")
QUALITY_COLUMNS = ("rows_seen", "rows_valid", "rows_invalid", "rows_late")


@dataclass
class LiveView:
    status: str  # Markdown: what is shown, or how to start a stream
    windows: pd.DataFrame  # WINDOW_COLUMNS, oldest first
    alerts: pd.DataFrame  # ALERT_COLUMNS, newest first
    quality: pd.DataFrame  # measure, rows


def how_to_start(config: Config) -> str:
    return (f"No stream has written a window to `{config.stream_output_dir}` yet. Start one, e.g. "
            "`shopsense stream simulate` (files into the input folder) and, in another terminal, "
            "`shopsense stream run`; this page then shows each window once it is final.")


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def load_live(spark, config: Config) -> LiveView:
    """The newest windows, alerts and quality counts from the stream's durable outputs."""
    from pyspark.sql import functions as F

    from shopsense.streaming.runner import read_output

    sales = read_output(spark, config, "sales_kpis")
    if sales is None:
        return LiveView(how_to_start(config), _empty(WINDOW_COLUMNS), _empty(ALERT_COLUMNS),
                        _empty(("measure", "rows")))
    windows = (sales.select(*WINDOW_COLUMNS).orderBy(F.col("window_start").desc()).limit(LIVE_WINDOWS)
               .toPandas().sort_values("window_start").reset_index(drop=True))
    anomalies = read_output(spark, config, "anomalies")
    alerts = (anomalies.select(*ALERT_COLUMNS).orderBy(F.col("window_start").desc(), F.col("score").desc())
              .limit(LIVE_ALERTS).toPandas() if anomalies is not None else _empty(ALERT_COLUMNS))
    dq = read_output(spark, config, "data_quality")
    sums = dq.agg(*[F.sum(c).alias(c) for c in QUALITY_COLUMNS]).first().asDict() if dq is not None else {}
    quality = pd.DataFrame({"measure": list(QUALITY_COLUMNS),
                            "rows": [int(sums.get(c) or 0) for c in QUALITY_COLUMNS]})
    last = windows.iloc[-1]
    status = (f"{len(windows)} newest finalised windows; the last one {last.window_start:%Y-%m-%d %H:%M} - "
              f"{last.window_end:%H:%M}: {int(last.orders):,} orders, revenue {last.revenue:,.2f}, "
              f"average order {last.avg_order_value:,.2f}. Refreshed every {REFRESH_SECONDS:g} s.")
    return LiveView(status, windows, alerts, quality)


def live_page(config: Config, spark=None) -> tuple:
    """The Live tab's outputs: status, three charts' data, windows, alerts, quality. Never raises."""
    try:
        from pyspark.sql import SparkSession

        from shopsense.spark import get_spark

        view = load_live(spark or SparkSession.getActiveSession() or get_spark(config.spark), config)
    except (ShopSenseError, JavaError) as exc:
        view = LiveView(f"The stream's outputs cannot be read: {exc}", _empty(WINDOW_COLUMNS),
                        _empty(ALERT_COLUMNS), _empty(("measure", "rows")))
    table = view.windows.assign(window_start=view.windows["window_start"].astype(str).str[:16]).drop(
        columns="window_end")
    return view.status, view.windows, view.windows, view.windows, table, view.alerts, view.quality


def build_live_tab(config: Config) -> None:
    """The tab's widgets and wiring (call inside a gr.Tab)."""
    from functools import partial

    import gradio as gr

    status = gr.Markdown(how_to_start(config), elem_id="live-status")
    with gr.Row():
        charts = [gr.LinePlot(x="window_start", y=y, title=title, x_title="event time (window start, UTC)",
                              elem_id=f"live-{y}")
                  for y, title in (("orders", "Orders per window"), ("revenue", "Revenue per window"),
                                   ("avg_order_value", "Average order value"))]
    gr.Markdown("## Newest windows")
    windows = gr.Dataframe(interactive=False, elem_id="live-windows")
    gr.Markdown("## Newest anomaly alerts")
    alerts = gr.Dataframe(interactive=False, elem_id="live-alerts")
    gr.Markdown("## Data quality (all micro-batches)")
    quality = gr.Dataframe(interactive=False, elem_id="live-quality")
    refresh = gr.Button("Refresh", elem_id="live-refresh")
    outputs = [status, *charts, windows, alerts, quality]
    show = partial(live_page, config)
    refresh.click(show, None, outputs, api_name="live", concurrency_limit=None)
    gr.Timer(REFRESH_SECONDS).tick(show, None, outputs, api_visibility="private", concurrency_limit=None)
