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
from shopsense.io import write_text

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


def render_report(kpis: Kpis, plots: list[Plot], results: list[QueryResult],
                  baskets: dict[str, BasketStats], source: Path, max_rows: int,
                  skipped_plots: Sequence[Skipped] = ()) -> str:
    """The whole page as a string. `baskets` maps a market-basket query name to its basket statistics;
    `skipped_plots` are named, with their reason, above the plots."""
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
</main>
<script>{SORT_SCRIPT}</script>
</body></html>
"""


def write_report(page: str, path: Path) -> Path:
    return write_text(page, path)
