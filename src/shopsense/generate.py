"""Deterministic generator of purchase logs in the public "customer shopping trends" CSV format.

Not uniform noise: customers repeat (several purchases each, constant demographics) and the data carries
planted signals that the later layers must find. They are part of the contract, tested in
tests/test_generate.py, and documented in docs/architecture.md:

1. Styles and co-purchases. Every customer has one latent *style*; each style favours a group of items
   (STYLE_ITEMS, weight x STYLE_BOOST), so items of one group are bought together by the same customers
   (market-basket lift well above 1 for pairs inside a group). The style depends strongly on gender and
   age (STYLE_AFFINITY), so demographics carry information about the item bought beyond the season: a
   model that knows them beats the season's top-3 list (the season model's test, docs/ml.md).
2. Seasonal items. Each season favours three items (SEASON_ITEMS, weight x SEASON_BOOST).
3. Price levels. Each item has a base price (BASE_PRICE); amounts scatter around it (integer dollars,
   clipped to the public range 20-100).
4. Promo-code propensity. `Promo Code Used` follows a logistic model of customer features (subscription,
   purchase frequency, previous purchases, age, payment method); see PROMO_* below.
   `Discount Applied` is correlated with it but does not copy it (P(discount | promo) = 0.7, else 0.2).
5. Ratings. Items of the customer's own style are rated higher (explicit-feedback signal for ALS).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shopsense import schema

STYLE_ITEMS: dict[str, tuple[str, ...]] = {
    "street": ("Sneakers", "Hoodie", "T-shirt", "Backpack"),
    "classic": ("Shoes", "Shirt", "Pants", "Belt"),
    "chic": ("Dress", "Handbag", "Jewelry", "Blouse"),
    "outdoor": ("Boots", "Jacket", "Gloves", "Hat"),
    "casual": ("Jeans", "Sweater", "Socks", "Scarf"),
}
STYLE_BOOST = 12.0
# Extra weight of a style (base weight 1 each) for: under 30 (street), men 45+ (classic), women (chic),
# 30-54 (outdoor); casual has none.
STYLE_AFFINITY = {"street": 9.0, "classic": 7.5, "chic": 9.0, "outdoor": 4.5}
SEASON_ITEMS: dict[str, tuple[str, ...]] = {
    "Winter": ("Coat", "Gloves", "Sweater"),
    "Spring": ("Jacket", "Skirt", "Sneakers"),
    "Summer": ("Sandals", "Shorts", "Sunglasses"),
    "Fall": ("Boots", "Hoodie", "Scarf"),
}
SEASON_BOOST = 4.0
BASE_PRICE: dict[str, float] = {
    "Blouse": 55, "Dress": 75, "Hoodie": 55, "Jeans": 65, "Pants": 60, "Shirt": 50, "Shorts": 40,
    "Skirt": 50, "Socks": 25, "Sweater": 60, "T-shirt": 30, "Boots": 85, "Sandals": 45, "Shoes": 75,
    "Sneakers": 70, "Coat": 90, "Jacket": 80, "Backpack": 60, "Belt": 35, "Gloves": 30, "Handbag": 80,
    "Hat": 35, "Jewelry": 85, "Scarf": 35, "Sunglasses": 50,
}
# Logistic model of promo-code use: intercept + subscription + frequency + loyalty + age + payment.
PROMO_INTERCEPT = -1.6
PROMO_SUBSCRIBER = 1.6
PROMO_FREQUENCY = {"Weekly": 0.8, "Bi-Weekly": 0.5, "Fortnightly": 0.5, "Monthly": 0.0,
                   "Quarterly": -0.4, "Every 3 Months": -0.4, "Annually": -0.8}
PROMO_PER_PREVIOUS_PURCHASE = 0.03  # per purchase above 25
PROMO_UNDER_30 = 0.5
PROMO_PAYMENT = {"PayPal": 0.4, "Venmo": 0.4, "Cash": -0.4}
DISCOUNT_IF_PROMO, DISCOUNT_IF_NO_PROMO = 0.7, 0.2

DIRTY_KINDS: tuple[str, ...] = (
    "non_numeric_amount", "missing_field", "unknown_category", "item_category_mismatch",
    "age_out_of_range", "rating_out_of_range", "extra_column", "missing_column", "duplicate_row",
)


@dataclass(frozen=True)
class Generated:
    lines: list[str]  # CSV lines without the header
    dirty_kinds: dict[str, int]  # how many rows of each dirty kind were injected


def _style_probabilities(gender: np.ndarray, age: np.ndarray) -> np.ndarray:
    """P(style | gender, age): rows of len(STYLE_ITEMS) probabilities."""
    n = len(gender)
    w = np.ones((n, len(STYLE_ITEMS)))
    styles = list(STYLE_ITEMS)
    w[:, styles.index("street")] += STYLE_AFFINITY["street"] * (age < 30)
    w[:, styles.index("classic")] += STYLE_AFFINITY["classic"] * ((age >= 45) & (gender == "Male"))
    w[:, styles.index("chic")] += STYLE_AFFINITY["chic"] * (gender == "Female")
    w[:, styles.index("outdoor")] += STYLE_AFFINITY["outdoor"] * ((age >= 30) & (age < 55))
    return w / w.sum(axis=1, keepdims=True)


def _item_weights(style: str, season: str) -> np.ndarray:
    w = np.ones(len(schema.ITEMS))
    for item in STYLE_ITEMS[style]:
        w[schema.ITEMS.index(item)] *= STYLE_BOOST
    for item in SEASON_ITEMS[season]:
        w[schema.ITEMS.index(item)] *= SEASON_BOOST
    return w / w.sum()


def generate_frame(rows: int, seed: int = 42, customers: int | None = None) -> pd.DataFrame:
    """A clean purchase log as a pandas DataFrame with the raw CSV column names and typed values."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    customers = customers or max(1, rows // 4)
    if customers < 1:
        raise ValueError("customers must be >= 1")
    rng = np.random.default_rng(seed)

    # Customers: constant demographics and habits.
    c_age = rng.integers(18, 71, customers)
    c_gender = rng.choice(schema.GENDERS, customers, p=[0.68, 0.32])
    c_state = rng.choice(schema.US_STATES, customers)
    c_sub = rng.random(customers) < 0.27
    c_freq = rng.choice(schema.FREQUENCIES, customers)
    c_pay = rng.choice(schema.PAYMENT_METHODS, customers)
    c_size = rng.choice(schema.SIZES, customers, p=[0.17, 0.45, 0.27, 0.11])
    c_prev = rng.integers(1, 46, customers)
    style_p = _style_probabilities(c_gender, c_age)
    c_style = (style_p.cumsum(axis=1) > rng.random((customers, 1))).argmax(axis=1)

    # Rows: every customer has at least one purchase, the rest are spread at random (several each).
    cust = np.concatenate([np.arange(customers), rng.integers(0, customers, max(0, rows - customers))])[:rows]
    cust.sort()
    n = len(cust)
    order_in_customer = np.arange(n) - np.searchsorted(cust, cust)
    season = rng.choice(schema.SEASONS, n)

    item = np.empty(n, dtype=object)
    styles = list(STYLE_ITEMS)
    for s_idx, style in enumerate(styles):
        for season_name in schema.SEASONS:
            mask = (c_style[cust] == s_idx) & (season == season_name)
            k = int(mask.sum())
            if k:
                item[mask] = rng.choice(schema.ITEMS, k, p=_item_weights(style, season_name))
    item = item.astype(str)
    item_idx = np.searchsorted(schema.ITEMS, item)
    category = np.array([schema.CATEGORY_OF_ITEM[i] for i in schema.ITEMS])[item_idx]
    base = np.array([BASE_PRICE[i] for i in schema.ITEMS])[item_idx]
    amount = np.clip(np.rint(base * rng.lognormal(0.0, 0.18, n)), 20, 100).astype(int)

    style_has_item = np.array([[i in STYLE_ITEMS[s] for i in schema.ITEMS] for s in styles])
    in_style = style_has_item[c_style[cust], item_idx]
    rating = np.clip(np.round(3.4 + 0.7 * in_style + rng.normal(0, 0.45, n), 1), 2.5, 5.0)

    age, sub, freq, pay = c_age[cust], c_sub[cust], c_freq[cust], c_pay[cust]
    prev = np.minimum(c_prev[cust] + order_in_customer, 50)
    logit = (
        PROMO_INTERCEPT
        + PROMO_SUBSCRIBER * sub
        + pd.Series(freq).map(PROMO_FREQUENCY).to_numpy()
        + PROMO_PER_PREVIOUS_PURCHASE * (prev - 25)
        + PROMO_UNDER_30 * (age < 30)
        + pd.Series(pay).map(PROMO_PAYMENT).fillna(0.0).to_numpy()
    )
    promo = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    discount = rng.random(n) < np.where(promo, DISCOUNT_IF_PROMO, DISCOUNT_IF_NO_PROMO)

    habitual_pay = rng.random(n) < 0.75
    payment = np.where(habitual_pay, pay, rng.choice(schema.PAYMENT_METHODS, n))
    size = np.where(rng.random(n) < 0.85, c_size[cust], rng.choice(schema.SIZES, n))
    express_p = np.where(amount > 70, 0.3, 0.12)
    shipping = np.where(rng.random(n) < express_p, "Express", rng.choice(schema.SHIPPING_TYPES, n))
    yes_no = np.array(["No", "Yes"])

    return pd.DataFrame({
        "Customer ID": cust + 1,
        "Age": age,
        "Gender": c_gender[cust],
        "Item Purchased": item,
        "Category": category,
        "Purchase Amount (USD)": amount,
        "Location": c_state[cust],
        "Size": size,
        "Color": rng.choice(schema.COLORS, n),
        "Season": season,
        "Review Rating": rating,
        "Subscription Status": yes_no[sub.astype(int)],
        "Shipping Type": shipping,
        "Discount Applied": yes_no[discount.astype(int)],
        "Promo Code Used": yes_no[promo.astype(int)],
        "Previous Purchases": prev,
        "Payment Method": payment,
        "Frequency of Purchases": freq,
    })[list(schema.RAW_COLUMNS)]


def _to_lines(frame: pd.DataFrame) -> pd.Series:
    cols = [frame[c].astype(str) for c in frame.columns]
    line = cols[0]
    for col in cols[1:]:
        line = line + "," + col
    return line


def _dirty_line(fields: list[str], kind: str) -> str:
    idx = {name: i for i, name in enumerate(schema.RAW_COLUMNS)}
    f = list(fields)
    if kind == "non_numeric_amount":
        f[idx["Purchase Amount (USD)"]] = "forty-two"
    elif kind == "missing_field":
        f[idx["Gender"]] = ""
    elif kind == "unknown_category":
        f[idx["Category"]] = "Electronics"
    elif kind == "item_category_mismatch":
        item = f[idx["Item Purchased"]]
        f[idx["Category"]] = next(c for c in schema.CATEGORIES if c != schema.CATEGORY_OF_ITEM[item])
    elif kind == "age_out_of_range":
        f[idx["Age"]] = "250"
    elif kind == "rating_out_of_range":
        f[idx["Review Rating"]] = "7.5"
    elif kind == "extra_column":
        f.append("unexpected")
    elif kind == "missing_column":
        f.pop()
    return ",".join(f)


def generate(rows: int, seed: int = 42, customers: int | None = None, dirty_fraction: float = 0.0) -> Generated:
    """CSV lines (no header) of `rows` purchases; a `dirty_fraction` of them replaced by bad rows."""
    if not 0.0 <= dirty_fraction <= 1.0:
        raise ValueError("dirty fraction must be between 0 and 1")
    lines = _to_lines(generate_frame(rows, seed, customers)).tolist()
    n_dirty = int(round(rows * dirty_fraction))
    counts = {kind: 0 for kind in DIRTY_KINDS}
    if n_dirty:
        rng = np.random.default_rng(seed + 1)
        positions = np.sort(rng.choice(len(lines), n_dirty, replace=False))
        for j, pos in enumerate(positions):
            kind = DIRTY_KINDS[j % len(DIRTY_KINDS)]
            if kind == "duplicate_row":
                # An exact copy of the previous line (a double-submitted order).
                lines[pos] = lines[pos - 1] if pos > 0 else lines[pos + 1]
            else:
                lines[pos] = _dirty_line(lines[pos].split(","), kind)
            counts[kind] += 1
    return Generated(lines=lines, dirty_kinds=counts)


def write_csv(generated: Generated, path: Path) -> Path:
    """Write header + lines atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(schema.RAW_COLUMNS) + "\n")
        if generated.lines:
            out.write("\n".join(generated.lines) + "\n")
    tmp.replace(path)
    return path


def to_processed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A clean generated frame in the processed layout (snake_case names, booleans), for tests and demos."""
    out = frame.rename(columns=schema.RAW_TO_PROCESSED)
    for col in schema.BOOLEAN_COLUMNS:
        out[col] = out[col] == "Yes"
    return out.astype({"customer_id": "int64", "age": "int32", "purchase_amount_usd": "float64",
                       "review_rating": "float64", "previous_purchases": "int32"})
