"""Start-up: load the saved models once (one Predictor), build the page, serve it on loopback by default.

The app only reads models; it never trains or overwrites one. Missing models do not stop it: each tab
then says which command produces them.
"""
from __future__ import annotations

import logging
import os

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


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
ENV_USER, ENV_PASSWORD = "SHOPSENSE_APP_USER", "SHOPSENSE_APP_PASSWORD"


def access(host: str, allow_remote: bool, environ=os.environ) -> tuple[tuple[str, str] | None, str | None]:
    """(Gradio `auth`, warning to print) for serving on `host`. Loopback: no login. Another interface: a login
    from SHOPSENSE_APP_USER / SHOPSENSE_APP_PASSWORD, else only with `--allow-remote` (open to the network),
    else a ShopSenseError before anything starts."""
    if host in LOOPBACK_HOSTS or host.startswith("127."):
        return None, None
    user, password = environ.get(ENV_USER), environ.get(ENV_PASSWORD)
    if user and password:
        return (user, password), (f"WARNING: the app listens on {host}, reachable from other machines; "
                                  f"a login ({ENV_USER}) is required. Traffic is not encrypted (plain HTTP).")
    if allow_remote:
        return None, (f"WARNING: the app listens on {host} WITHOUT a login (--allow-remote): anyone who can "
                      f"reach this machine can use it. Set {ENV_USER} and {ENV_PASSWORD} to require one.")
    raise ShopSenseError(f"--host {host} is reachable from other machines: set {ENV_USER} and {ENV_PASSWORD} to "
                         f"require a login, or pass --allow-remote to serve without one")


def serve(config: Config, host: str, port: int, concurrency: int, spark=None, allow_remote: bool = False) -> None:
    """Block serving the app until interrupted. Never creates a public share link."""
    auth, remote_warning = access(host, allow_remote)
    if remote_warning:
        print(remote_warning, flush=True)
    ctx = load_context(config, spark)
    for model, problem in ctx.status().items():
        print(f"  {model:<12} {problem or ctx.serving(model) or 'loaded'}")
    demo = create_app(ctx, concurrency)
    print(f"ShopSense app on http://{host}:{port} (Ctrl+C to stop)", flush=True)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,  # explicit: also overrides GRADIO_SHARE=True in the environment
        auth=auth,
        allowed_paths=[str(config.plots_dir), str(config.reports_dir / "ml")],  # the Overview gallery's plots
        footer_links=["api", "settings"],
        show_error=False,  # handlers turn errors into page messages; nothing else should leak
        ssr_mode=False,  # client-side rendering: no Node.js needed
        mcp_server=False,
        enable_monitoring=False,
        quiet=True,
    )
