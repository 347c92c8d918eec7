import csv

import pandas as pd
import pytest

from shopsense import schema
from shopsense.generate import (
    DIRTY_KINDS, SEASON_ITEMS, STYLE_ITEMS, generate, generate_frame, write_csv,
)


def test_same_seed_same_file_other_seed_other_file(tmp_path):
    a = write_csv(generate(500, seed=3), tmp_path / "a.csv").read_bytes()
    b = write_csv(generate(500, seed=3), tmp_path / "b.csv").read_bytes()
    c = write_csv(generate(500, seed=4), tmp_path / "c.csv").read_bytes()
    assert a == b
    assert a != c


def test_header_and_values_follow_the_contract(tmp_path):
    path = write_csv(generate(2000, seed=1), tmp_path / "g.csv")
    with open(path, newline="") as f:
        reader = csv.reader(f)
        assert tuple(next(reader)) == schema.RAW_COLUMNS
        rows = list(reader)
    assert len(rows) == 2000
    frame = pd.DataFrame(rows, columns=schema.RAW_COLUMNS)
    for col in schema.COLUMNS:
        if col.name in schema.VOCABULARIES:
            assert set(frame[col.raw]) <= set(schema.VOCABULARIES[col.name]), col.raw
    assert all(schema.CATEGORY_OF_ITEM[i] == c for i, c in zip(frame["Item Purchased"], frame["Category"]))
    assert frame["Age"].astype(int).between(18, 70).all()
    assert frame["Purchase Amount (USD)"].astype(float).between(20, 100).all()
    assert frame["Review Rating"].astype(float).between(2.5, 5.0).all()


def test_customers_repeat_with_constant_demographics():
    frame = generate_frame(4000, seed=2, customers=800)
    per_customer = frame.groupby("Customer ID")
    assert frame["Customer ID"].nunique() == 800
    assert per_customer.size().mean() == pytest.approx(5.0)
    for col in ("Age", "Gender", "Location", "Subscription Status", "Frequency of Purchases"):
        assert (per_customer[col].nunique() == 1).all(), col


def test_season_favoured_items_are_over_represented():
    frame = generate_frame(40_000, seed=5)
    for season, items in SEASON_ITEMS.items():
        in_season = frame[frame["Season"] == season]["Item Purchased"].isin(items).mean()
        elsewhere = frame[frame["Season"] != season]["Item Purchased"].isin(items).mean()
        assert in_season > 1.5 * elsewhere, season


def test_style_items_are_bought_together():
    """Lift of a planted pair: P(A and B) / (P(A) P(B)) over customers' baskets is well above 1."""
    frame = generate_frame(40_000, seed=6, customers=5000)
    baskets = frame.groupby("Customer ID")["Item Purchased"].apply(set)
    a, b = STYLE_ITEMS["chic"][1], STYLE_ITEMS["chic"][2]  # Handbag, Jewelry
    p_a = baskets.apply(lambda s: a in s).mean()
    p_b = baskets.apply(lambda s: b in s).mean()
    p_ab = baskets.apply(lambda s: a in s and b in s).mean()
    assert p_ab / (p_a * p_b) > 1.3


def test_demographics_predict_the_item_beyond_the_season():
    """What the season model can learn: a top-3 list per (season, gender, age group) learnt on half of the
    rows hits the other half clearly more often than the season's own top-3 list."""
    frame = generate_frame(40_000, seed=9)
    frame["group"] = frame["Gender"] + pd.cut(frame["Age"], [0, 29, 44, 54, 100]).astype(str)
    learn, check = frame.iloc[::2], frame.iloc[1::2]

    def top3_hit_rate(keys: list[str]) -> float:
        top3 = learn.groupby(keys)["Item Purchased"].agg(lambda items: set(items.value_counts().index[:3]))
        lists = check.join(top3.rename("top3"), on=keys)["top3"]
        return sum(item in top for item, top in zip(check["Item Purchased"], lists)) / len(check)

    assert top3_hit_rate(["Season", "group"]) > top3_hit_rate(["Season"]) + 0.05


def test_promo_depends_on_subscription_and_discount_does_not_copy_promo():
    frame = generate_frame(20_000, seed=8)
    promo = frame["Promo Code Used"] == "Yes"
    subscribed = frame["Subscription Status"] == "Yes"
    assert promo[subscribed].mean() > promo[~subscribed].mean() + 0.2
    agreement = (frame["Discount Applied"] == frame["Promo Code Used"]).mean()
    assert 0.55 < agreement < 0.9


def test_item_prices_have_levels():
    frame = generate_frame(20_000, seed=9)
    mean_price = frame.groupby("Item Purchased")["Purchase Amount (USD)"].mean()
    assert mean_price["Coat"] > mean_price["Socks"] + 30


def test_dirty_fraction_injects_every_kind():
    gen = generate(900, seed=1, dirty_fraction=0.1)
    assert sum(gen.dirty_kinds.values()) == 90
    assert set(k for k, v in gen.dirty_kinds.items() if v) == set(DIRTY_KINDS)
    widths = {len(line.split(",")) for line in gen.lines}
    assert widths == {17, 18, 19}


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        generate(10, dirty_fraction=1.5)
