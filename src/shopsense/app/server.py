"""Start-up: load the saved models once (one Predictor), build the page, serve it on loopback by default.

The app only reads models; it never trains or overwrites one. Missing models do not stop it: each tab
then says which command produces them.
"""
from __future__ import annotations

import logging

from shopsense.app.handlers import AppContext
from shopsense.app.profile import profile_fields
from shopsense.config import Config
from shopsense.errors import ShopSenseError
from shopsense.spark import JavaError

log = logging.getLogger(__name__)


def load_context(config: Config, spark=None) -> AppContext:
    """Load every available model once. A start-up failure (e.g. no Java) is kept as the tabs' message."""
    from shopsense.ml.inference import PROMO_INPUTS, SEASON_INPUTS, Predictor

    ctx = AppContext(config=config,
                     season_fields=profile_fields(SEASON_INPUTS, exclude=("season",)),
                     promo_fields=profile_fields(PROMO_INPUTS))
    try:
        ctx.predictor = Predictor(config, spark=spark)
    except (ShopSenseError, JavaError) as exc:
        ctx.load_error = f"the models could not be loaded: {exc}"
    return ctx


def create_app(ctx: AppContext, concurrency: int):
    """The queued gr.Blocks, ready to launch."""
    from shopsense.app.ui import build_ui

    demo = build_ui(ctx, concurrency)
    # Concurrency is set on each event (ui.py); the queue bounds the backlog so a flood of requests gets
    # "queue full" instead of unbounded memory growth.
    return demo.queue(max_size=ctx.config.app_queue_size)


def serve(config: Config, host: str, port: int, concurrency: int, spark=None) -> None:
    """Block serving the app until interrupted. Never creates a public share link."""
    ctx = load_context(config, spark)
    for model, problem in ctx.status().items():
        print(f"  {model:<12} {problem or 'loaded'}")
    demo = create_app(ctx, concurrency)
    print(f"ShopSense app on http://{host}:{port} (Ctrl+C to stop)", flush=True)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,  # explicit: also overrides GRADIO_SHARE=True in the environment
        allowed_paths=[str(config.plots_dir)],  # the Overview gallery serves the analysis plots
        footer_links=["api", "settings"],
        show_error=False,  # handlers turn errors into page messages; nothing else should leak
        ssr_mode=False,  # client-side rendering: no Node.js needed
        mcp_server=False,
        enable_monitoring=False,
        quiet=True,
    )
