"""reports/report.html: ONE self-contained page (inline CSS and script, base64 images, no network).

The page fits a 1,280 px window: wide tables scroll inside their card. A click on a column heading sorts
that table (a small inline script; the cells' numbers are read back from their text)."""
from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from shopsense.analytics.absent import Skipped
from shopsense.analytics.basket import BasketStats
from shopsense.analytics.eda import Kpis
from shopsense.analytics.plots import Plot
from shopsense.analytics.queries import QueryResult
from shopsense.config import Config
from shopsense.io import write_text
from shopsense.ml.calibration import reliability_plot
from shopsense.ml.model_card import ModelCard, NotTrainedCard, read_card
from shopsense.ml.registry import NAMES as MODEL_NAMES
from shopsense.ml.serving import label as serving_label

MONEY_WORDS = ("revenue", "amount", "spend", "basket")
RATE_WORDS = ("share", "support", "confidence")  # fractions 0-1, shown as percentages

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 0;
       background: #f4f6f9; color: #1f2933; line-height: 1.45; }
header { background: #1f3a5f; color: white; padding: 28px 40px; }
header h1 { margin: 0 0 6px 0; font-size: 28px; }
header p { margin: 0; opacity: .85; }
header p, .meta, .kpi .value { overflow-wrap: anywhere; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 40px 60px; box-sizing: border-box; }
h2 { border-bottom: 2px solid #d5dde8; padding-bottom: 6px; margin: 40px 0 4px; }
.question { color: #52606d; font-style: italic; margin: 0 0 14px; }
nav a { margin-right: 14px; color: #1f3a5f; display: inline-block; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 14px; }
.kpi { background: white; border-radius: 10px; padding: 14px 18px; box-shadow: 0 1px 3px rgba(0,0,0,.08);
       min-width: 0; }
.kpi .label { font-size: 13px; color: #52606d; text-transform: uppercase; letter-spacing: .04em; }
.kpi .value { font-size: 24px; font-weight: 600; margin-top: 4px; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(520px, 100%), 1fr)); gap: 18px; }
figure { background: white; margin: 0; padding: 12px; border-radius: 10px; box-shadow: 0 1px 3px rgba(0,0,0,.08);
         min-width: 0; }
figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { font-size: 14px; color: #52606d; margin-top: 6px; }
section.query { background: white; border-radius: 10px; padding: 4px 20px 16px; margin: 18px 0;
                box-shadow: 0 1px 3px rgba(0,0,0,.08); min-width: 0; }
.scroll { overflow-x: auto; max-width: 100%; }
.explain { color: #323f4b; margin: 4px 0 8px; }
.meta { font-size: 13px; color: #616e7c; margin: 2px 0; }
table { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e4e7eb; text-align: right; white-space: nowrap; }
th { background: #eef2f7; position: sticky; top: 0; cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.text, th.text { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; }
.notice { background: #fff4e5; border-left: 4px solid #f0a33a; padding: 10px 14px; border-radius: 6px; }
.info { font-size: 13px; color: #52606d; }
"""

# Click a heading: sort its table's rows by that column, ascending, then descending on the next click.
# Numbers are compared as numbers (thousands separators, "%" and "$" dropped), other text as text; empty
# cells go last.
SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var column = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    function key(row) {
      var text = row.cells[column].textContent.trim();
      var number = Number(text.replace(/[,$%]/g, ""));
      return text === "" ? null : (isNaN(number) ? text : number);
    }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === null || y === null) { return (x === null) - (y === null); }
      var order = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""

# The report's sections: (anchor, title, the question the section answers).
KPI_SECTION = ("kpis", "Headline figures", "How much was sold, to how many customers, and what sells most?")
PLOT_SECTION = ("plots", "Who buys what", "How are purchases, customers and revenue spread over age, gender, "
                "categories, items, states, seasons and the ways people pay and ship?")
QUERY_SECTION = ("queries", "Questions answered by the SQL suite",
                 "Each card answers one business question; click a column heading to sort its table.")
MODEL_SECTION = ("models", "Models", "Which model is served, on what evidence from held-out test data, and how "
                 "far can the promo propensities be trusted?")
# The models section sits between these markers: `shopsense train` replaces it in an existing report.
MODELS_START, MODELS_END = "<!-- models:start -->", "<!-- models:end -->"


def _image_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _cell(column: str, value) -> tuple[str, str]:
    """(css class, formatted text) of one table cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "", ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "text", html.escape(str(value))
    if isinstance(value, int):
        return "", f"{value:,}"
    if any(word in column for word in RATE_WORDS):
        return "", f"{value:.1%}"
    if any(word in column for word in MONEY_WORDS):
        return "", f"{value:,.2f}"
    return "", f"{value:,.4f}"


def _table(frame: pd.DataFrame, rows: int, max_rows: int) -> str:
    shown = frame.head(max_rows)
    head = "".join(
        f'<th class="{"text" if shown[c].dtype == object or shown[c].dtype == bool else ""}">{html.escape(c)}</th>'
        for c in shown.columns
    )
    body = []
    for row in shown.itertuples(index=False):
        cells = (_cell(c, v.item() if hasattr(v, "item") else v) for c, v in zip(shown.columns, row))
        body.append("<tr>" + "".join(f'<td class="{cls}">{text}</td>' for cls, text in cells) + "</tr>")
    note = ""
    if rows > max_rows:
        note = f'<p class="info">Showing the first {max_rows} of {rows:,} rows; the CSV has them all.</p>'
    return (f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>{note}")


def _query_section(result: QueryResult, basket: BasketStats | None, max_rows: int) -> str:
    header = result.header
    parts = [f'<section class="query" id="{result.name}">', f"<h3>{html.escape(title_of(result))}</h3>",
             f'<p class="explain">{html.escape(header.get("question", ""))}</p>']
    if result.skipped is not None:
        parts += [f'<p class="notice">skipped: {html.escape(result.skipped)}</p>', "</section>"]
        return "\n".join(parts)
    if "tie-break" in header:
        parts.append(f'<p class="meta"><b>Ties:</b> {html.escape(header["tie-break"])}</p>')
    if result.path is not None:
        parts.append(f'<p class="meta"><b>CSV:</b> {html.escape(str(result.path))}</p>')
    if basket is not None:
        css = "notice" if basket.degenerate else "info"
        parts.append(f'<p class="{css}">{html.escape(basket.message)}</p>')
    if basket is None or not basket.degenerate:
        parts.append(_table(result.frame, result.rows, max_rows) if result.rows else '<p class="info">No rows.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def title_of(result: QueryResult) -> str:
    """The query's `-- title:` in words (its file name when it has none)."""
    title = result.header.get("title") or result.name.replace("_", " ")
    return title[:1].upper() + title[1:]


def _heading(section: tuple[str, str, str]) -> str:
    anchor, title, question = section
    return f'<h2 id="{anchor}">{html.escape(title)}</h2>\n<p class="question">{html.escape(question)}</p>'


def _serving_table(card: ModelCard) -> str:
    decision = card.serving
    frame = pd.DataFrame([{"serving": decision.serving, "metric": decision.metric, "model": decision.model_value,
                           "baseline": decision.baseline, "baseline value": decision.baseline_value,
                           "lift CI low": decision.lift_low, "lift CI high": decision.lift_high,
                           "min lift": decision.min_lift, "resamples": decision.resamples,
                           "customers": decision.customers}])
    return _table(frame, 1, 1)


def _calibration(calibration: dict, plot: Path | None) -> str:
    """The promo model's propensity norms: Brier score, reliability table and plot, decile lift/gain table."""
    reliability = pd.DataFrame([{"predicted bin": r["bin"], "rows": r["rows"], "mean predicted": r["predicted"],
                                 "observed": r["observed"]} for r in calibration["reliability"]])
    deciles = pd.DataFrame([{"decile (best first)": d["decile"], "rows": d["rows"], "promo rate": d["positive_rate"],
                             "lift": d["lift"], "cumulative gain": d["cumulative_gain"]} for d in calibration["deciles"]])
    parts = [f'<p class="explain"><b>Brier score</b> {calibration["brier"]:.4f} on test rows (a constant base rate '
             f'scores {calibration["brier_base_rate"]:.4f}; lower is better).</p>',
             "<h4>Reliability: predicted vs observed share using a promo code</h4>",
             _table(reliability, len(reliability), len(reliability))]
    if plot is not None and plot.exists():
        parts.append(f'<figure id="plot-promo-reliability"><img src="{_image_data_uri(plot)}" '
                     f'alt="promo reliability plot"><figcaption>Predicted vs observed rate per bin (dot size = '
                     f'test rows); the dashed diagonal is perfect calibration.</figcaption></figure>')
    parts += ["<h4>Lift and gain by decile of predicted propensity (top-decile lift vs the base rate)</h4>",
              _table(deciles, len(deciles), len(deciles))]
    return "\n".join(parts)


def _model_card_section(name: str, card: ModelCard | NotTrainedCard | None, plot: Path | None) -> str:
    parts = [f'<section class="query" id="model-{name}">', f"<h3>{html.escape(name)}</h3>"]
    if card is None:
        parts.append(f'<p class="notice">Not trained yet: run <code>shopsense train {name}</code>.</p>')
    elif isinstance(card, NotTrainedCard):
        parts.append(f'<p class="notice">Not trained on this data: {html.escape(card.not_trained)}</p>')
    else:
        css = "explain" if card.serving.serves_model else "notice"
        parts += [f'<p class="meta">{html.escape(card.task)} &middot; trained {html.escape(card.created_utc)} on '
                  f'{card.data_fingerprint.get("rows", 0):,} rows</p>',
                  f'<p class="{css}"><b>Serving the {card.serving.serving}:</b> '
                  f"{html.escape(serving_label(card.serving))}</p>", _serving_table(card)]
        calibration = card.details.get("calibration")
        if calibration:
            parts.append(_calibration(calibration, plot))
    parts.append("</section>")
    return "\n".join(parts)


def render_models(cards: dict[str, ModelCard | NotTrainedCard | None], plots: dict[str, Path]) -> str:
    """The models section, markers included: each model's serving decision and lift interval and, for the
    promo model, its propensity norms; `plots` maps a model to its reliability plot. A model without a card
    says which command trains it."""
    body = [MODELS_START, _heading(MODEL_SECTION)]
    if not any(cards.get(name) for name in MODEL_NAMES):
        body.append('<p class="notice">No model is trained yet: run <code>shopsense train</code> (or '
                    "<code>shopsense run</code>); training adds the models to this report.</p>")
    else:
        body += [_model_card_section(name, cards.get(name), plots.get(name)) for name in MODEL_NAMES]
    body.append(MODELS_END)
    return "\n".join(body)


def with_models(page: str, models: str) -> str:
    """`page` with its models section replaced by `models` (added at the end of the page's main part when an
    older report has none)."""
    if MODELS_START in page and MODELS_END in page:
        head, rest = page.split(MODELS_START, 1)
        return head + models + rest.split(MODELS_END, 1)[1]
    return page.replace("</main>", f"{models}\n</main>", 1)


def render_report(kpis: Kpis, plots: list[Plot], results: list[QueryResult],
                  baskets: dict[str, BasketStats], source: Path, max_rows: int,
                  skipped_plots: Sequence[Skipped] = (), models: str | None = None) -> str:
    """The whole page as a string. `baskets` maps a market-basket query name to its basket statistics;
    `skipped_plots` are named, with their reason, above the plots; `models` is the models section
    (`render_models`; default: the section saying how to train them)."""
    cards = "".join(
        f'<div class="kpi"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div></div>'
        for label, value in kpis.labelled()
    )
    figures = "".join(
        f'<figure id="plot-{p.name}"><img src="{_image_data_uri(p.path)}" alt="{html.escape(p.title)}">'
        f"<figcaption>{html.escape(p.caption)}</figcaption></figure>"
        for p in plots
    )
    not_drawn = "".join(f'<p class="notice">plot {html.escape(s.name)} skipped: {html.escape(s.reason)}</p>'
                        for s in skipped_plots)
    sections = "\n".join(_query_section(r, baskets.get(r.name), max_rows) for r in results)
    toc = "".join(f'<a href="#{r.name}">{html.escape(title_of(r))}</a>' for r in results)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ShopSense analytics report</title><style>{CSS}</style></head>
<body>
<header><h1>ShopSense analytics report</h1>
<p>{kpis.rows:,} purchases by {kpis.distinct_customers:,} customers &middot; source {html.escape(str(source))}
&middot; generated {generated}</p></header>
<main>
{_heading(KPI_SECTION)}
<div class="kpis">{cards}</div>
{_heading(PLOT_SECTION)}
<p class="info">Customer counts are distinct customers; purchase counts are rows of the log; money is USD.</p>
{not_drawn}<div class="plots">{figures}</div>
{_heading(QUERY_SECTION)}
<nav>{toc}</nav>
{sections}
{render_models({}, {}) if models is None else models}
</main>
<script>{SORT_SCRIPT}</script>
</body></html>
"""


def write_report(page: str, path: Path) -> Path:
    return write_text(page, path)


def models_section(spark, config: Config) -> str:
    """The models section from the cards `shopsense train` wrote (a model without a readable card: not trained)."""
    cards: dict[str, ModelCard | NotTrainedCard | None] = {}
    for name in MODEL_NAMES:
        try:
            cards[name] = read_card(spark, config.model_dir(name))
        except ValueError:  # a damaged card: training writes it anew
            cards[name] = None
    return render_models(cards, {name: reliability_plot(config.reports_dir, name) for name in MODEL_NAMES})


def refresh_models_section(spark, config: Config) -> Path | None:
    """Replace the models section of an existing report.html with the current cards (`shopsense train` calls
    this: `shopsense run` analyzes before it trains). No report yet: nothing to do, `analyze` renders it."""
    path = config.report_html
    if not path.exists():
        return None
    return write_report(with_models(path.read_text(encoding="utf-8"), models_section(spark, config)), path)
