"""EDA plots as PNG files (matplotlib, headless Agg backend), drawn from the small profile frame."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from shopsense import schema  # noqa: E402
from shopsense.analytics.absent import Skipped, no_column, reason  # noqa: E402
from shopsense.analytics.eda import KPI_COLUMNS, Kpis  # noqa: E402
from shopsense.io import local_output  # noqa: E402

METRIC_LABELS = {
    "purchases": "Purchases (count)",
    "customers": "Customers (distinct count)",
    "revenue": "Revenue (USD)",
}
BOOLEAN_LABELS = {"true": "Yes", "false": "No"}
COLOR = "#3b6ea8"
SECOND_COLOR = "#e08a3c"


@dataclass(frozen=True)
class Plot:
    name: str
    title: str
    caption: str  # one line: what the plot shows
    path: Path


@dataclass(frozen=True)
class BarSpec:
    name: str
    dimension: str
    metrics: tuple[str, ...]  # one panel per metric
    title: str
    caption: str
    order: tuple[str, ...] | None = None  # natural order of values; None = by the first metric, largest first
    horizontal: bool = False

    @property
    def column(self) -> str:
        """The processed column the dimension is read from."""
        return "age" if self.dimension == "age_group" else self.dimension


BAR_SPECS: tuple[BarSpec, ...] = (
    BarSpec("age_groups", "age_group", ("customers", "revenue"), "Customers and revenue by age group",
            "Distinct customers and revenue in each age group of the data contract.",
            order=tuple(label for label, _, _ in schema.AGE_GROUPS)),
    BarSpec("gender", "gender", ("customers", "revenue"), "Customers and revenue by gender",
            "Distinct customers and revenue per gender."),
    BarSpec("category", "category", ("purchases", "revenue"), "Purchases and revenue by category",
            "How many purchases each category gets and how much revenue it brings."),
    BarSpec("season", "season", ("purchases", "revenue"), "Purchases and revenue by season",
            "Seasonal volume and revenue.", order=schema.SEASONS),
    BarSpec("item", "item_purchased", ("revenue",), "Revenue by item",
            "Revenue of every item, largest first.", horizontal=True),
    BarSpec("state", "location", ("revenue",), "Revenue by state",
            "Revenue of every state, largest first.", horizontal=True),
    BarSpec("payment_method", "payment_method", ("purchases", "revenue"), "Payment methods",
            "Purchases and revenue per payment method."),
    BarSpec("shipping_type", "shipping_type", ("purchases", "revenue"), "Shipping types",
            "Purchases and revenue per shipping type."),
    BarSpec("size", "size", ("purchases",), "Purchases by size", "Purchases per clothing size.",
            order=schema.SIZES),
    BarSpec("color", "color", ("purchases",), "Purchases by colour", "Purchases per colour, most popular first.",
            horizontal=True),
    BarSpec("review_rating", "review_rating", ("purchases",), "Review rating distribution",
            "Number of purchases per review rating (1-5 stars, 0.1 steps)."),
    BarSpec("subscription", "subscription_status", ("customers", "revenue"), "Subscribers vs non-subscribers",
            "Distinct customers and revenue by subscription status."),
    BarSpec("frequency", "frequency_of_purchases", ("customers",), "Stated purchase frequency",
            "Distinct customers per stated purchase frequency.", order=schema.FREQUENCIES),
)


def _values(profile: pd.DataFrame, spec: BarSpec) -> pd.DataFrame:
    rows = profile[profile["dimension"] == spec.dimension].copy()
    if spec.order:
        position = {v: i for i, v in enumerate(spec.order)}
        rows["_pos"] = rows["value"].map(lambda v: position.get(v, len(position)))
        rows = rows.sort_values(["_pos", "value"])
    elif spec.dimension == "review_rating":
        rows = rows.assign(_pos=rows["value"].astype(float)).sort_values("_pos")
    else:
        rows = rows.sort_values([spec.metrics[0], "value"], ascending=[False, True])
    rows["label"] = rows["value"].map(lambda v: BOOLEAN_LABELS.get(v, v))
    return rows


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    with local_output(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return path


def bar_plot(profile: pd.DataFrame, spec: BarSpec, folder: Path) -> Plot:
    rows = _values(profile, spec)
    panels = len(spec.metrics)
    if spec.horizontal:
        height = max(3.5, 0.24 * len(rows) + 1.2)
        fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, height), squeeze=False)
    else:
        fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.8), squeeze=False)
    for ax, metric, color in zip(axes[0], spec.metrics, (COLOR, SECOND_COLOR)):
        if spec.horizontal:
            ax.barh(rows["label"], rows[metric], color=color)
            ax.invert_yaxis()  # largest on top
            ax.set_xlabel(METRIC_LABELS[metric])
            ax.set_ylabel(spec.dimension.replace("_", " ").capitalize())
        else:
            ax.bar(rows["label"], rows[metric], color=color)
            ax.set_ylabel(METRIC_LABELS[metric])
            ax.set_xlabel(spec.dimension.replace("_", " ").capitalize())
            if len(rows) > 6:
                ax.tick_params(axis="x", labelrotation=60)
        ax.set_title(METRIC_LABELS[metric].split(" (")[0])
        ax.grid(axis="x" if spec.horizontal else "y", alpha=0.3)
    fig.suptitle(spec.title, fontweight="bold")
    return Plot(spec.name, spec.title, spec.caption, _save(fig, folder / f"{spec.name}.png"))


def age_histogram(profile: pd.DataFrame, folder: Path) -> Plot:
    ages = profile[profile["dimension"] == "age"]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.hist(ages["value"].astype(int), bins=range(15, 105, 5), weights=ages["customers"], color=COLOR,
            edgecolor="white")
    ax.set_xlabel("Age (years, 5-year bins)")
    ax.set_ylabel(METRIC_LABELS["customers"])
    ax.set_title("Customer age distribution", fontweight="bold")
    ax.grid(axis="y", alpha=0.3)
    return Plot("age_histogram", "Customer age distribution",
                "Distinct customers per 5-year age bin.", _save(fig, folder / "age_histogram.png"))


RATES = (("subscriber_share", "Subscribers\n(of customers)"), ("promo_code_rate", "Promo code used\n(of purchases)"),
         ("discount_rate", "Discount applied\n(of purchases)"))
RATES_CAPTION = "Share of distinct customers who subscribe, and of purchases with a promo code or a discount."


def rates_plot(kpis: Kpis, folder: Path) -> Plot:
    """The rates the input has columns for (at least one: see write_plots)."""
    shown = [(name, label) for name, label in RATES if getattr(kpis, name) is not None]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    bars = ax.bar([label for _, label in shown], [getattr(kpis, name) * 100 for name, _ in shown],
                  color=[COLOR, SECOND_COLOR, "#5a9e6f"][:len(shown)])
    ax.bar_label(bars, fmt="%.1f%%")
    ax.set_ylabel("Rate (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Subscription, promo code and discount rates", fontweight="bold")
    ax.grid(axis="y", alpha=0.3)
    missing = "; ".join(no_column(KPI_COLUMNS[name]) for name, _ in RATES if getattr(kpis, name) is None)
    return Plot("rates", "Subscription, promo code and discount rates",
                RATES_CAPTION + (f" Not drawn: {missing}." if missing else ""), _save(fig, folder / "rates.png"))


def write_plots(profile: pd.DataFrame, kpis: Kpis, folder: Path,
                absent: frozenset[str] = frozenset()) -> tuple[list[Plot], list[Skipped]]:
    """Every EDA plot the input has the columns for, in report order, and the plots skipped for lack of a
    column (their PNG of an earlier run removed: the app shows every PNG of the folder)."""
    plots: list[Plot] = []
    skipped: list[Skipped] = []

    def draw(name: str, columns: list[str], make) -> None:
        missing = [c for c in columns if c in absent]
        if len(missing) < len(columns):  # drawn from the columns that are there
            plots.append(make())
        else:
            skipped.append(Skipped("plot", name, reason(missing)))
            (folder / f"{name}.png").unlink(missing_ok=True)

    draw("age_histogram", ["age"], lambda: age_histogram(profile, folder))
    for spec in BAR_SPECS:
        draw(spec.name, [spec.column], lambda spec=spec: bar_plot(profile, spec, folder))
    draw("rates", [KPI_COLUMNS[name] for name, _ in RATES], lambda: rates_plot(kpis, folder))
    return plots, skipped
