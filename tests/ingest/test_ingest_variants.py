"""The copies of the data users actually have: each variant of the real sample rows (tests/fixtures) gives
the same processed rows as the canonical file, read by the one ingest code path (`read_input`)."""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from shopsense import schema
from shopsense.config import load_config
from shopsense.errors import ShopSenseError
from shopsense.ingest.split import count_outcomes
from shopsense.ingest.stage import clean_rows, read_input
from shopsense.io import current_location

SAMPLE_CSV = Path(__file__).parents[1] / "fixtures" / "shopping_sample.csv"
pytestmark = pytest.mark.slow  # a dozen reads of the sample through Spark


def sample() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(SAMPLE_CSV.read_text())))
    rows[1][schema.RAW_COLUMNS.index("Location")] = "Québec"  # a new location, and a non-ASCII one
    return rows[0], rows[1:]


def write(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8",
          compress: bool = False) -> str:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\n").writerows([header, *rows])
    data = text.getvalue().encode(encoding)
    path.write_bytes(gzip.compress(data) if compress else data)
    return str(path)


def processed(spark, config, path: str):
    header, classified = read_input(spark, config, path)
    counts = count_outcomes(classified)
    assert counts.rows_read == counts.rows_clean + counts.rows_quarantined + counts.rows_duplicate
    return header, counts, clean_rows(classified)


@pytest.fixture(scope="module")
def canonical(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("variants")
    config = load_config(home=home)
    header, rows = sample()
    _, counts, clean = processed(spark, config, write(home / "canonical.csv", header, rows))
    assert (counts.rows_read, counts.rows_clean) == (100, 100) and counts.normalised == {}
    return config, header, rows, clean.cache()


def column(name: str) -> int:
    return schema.RAW_COLUMNS.index(name)


def snake_case(header):
    return [schema.RAW_TO_PROCESSED[h] + ("_" if h == "Purchase Amount (USD)" else "") for h in header]


def upper_hyphen(header):
    return [h.upper().replace(" ", "-") for h in header]


def unit_less(header):
    return [h.replace(" (USD)", "") for h in header]


def money(rows):
    """Amounts as text: `$53.00`, `USD 53`, ` 53 `, `53 USD`, `€53` in turn."""
    forms = (lambda v: f"${float(v):,.2f}", lambda v: f"USD {v}", lambda v: f" {v} ", lambda v: f"{v} USD",
             lambda v: f"€{v}")
    amount = column("Purchase Amount (USD)")
    return [[forms[i % len(forms)](v) if j == amount else v for j, v in enumerate(r)] for i, r in enumerate(rows)]


def other_casing(rows):
    changed = {column(c) for c in ("Gender", "Item Purchased", "Category", "Size", "Color", "Season",
                                   "Shipping Type", "Payment Method", "Frequency of Purchases")}
    booleans = {column(c): {"Yes": ("y", "TRUE", "1"), "No": ("n", "false", "0")}
                for c in ("Subscription Status", "Discount Applied", "Promo Code Used")}
    integers = {column(c) for c in ("Age", "Previous Purchases", "Customer ID")}
    out = []
    for i, row in enumerate(rows):
        new = []
        for j, v in enumerate(row):
            if j in changed:
                v = (v.lower().replace(" ", "-") if i % 2 else v.upper().replace("-", " "))
            elif j in booleans:
                v = booleans[j][v][i % 3]
            elif j in integers:
                v = f"{v}.0"
            new.append(v)
        out.append(new)
    return out


VARIANTS = {
    "snake_case": lambda h, r: (snake_case(h), r, {}),
    "upper_hyphen": lambda h, r: (upper_hyphen(h), r, {}),
    "unit_less": lambda h, r: (unit_less(h), r, {}),
    "renamed_with_mapping": lambda h, r: (
        [{"Item Purchased": "item", "Purchase Amount (USD)": "amount",
          "Frequency of Purchases": "purchase_frequency"}.get(n, n) for n in h], r,
        {"item": "Item Purchased", "amount": "purchase_amount_usd", "purchase_frequency": "Frequency of Purchases"}),
    "currency_strings": lambda h, r: (h, money(r), {}),
    "other_casing": lambda h, r: (h, other_casing(r), {}),
    "extra_columns_and_order": lambda h, r: (
        ["Notes", *reversed(h), "Preferred Payment Method"], [["n/a", *reversed(x), "Cash"] for x in r], {}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_gives_the_canonical_rows(spark, canonical, tmp_path, variant):
    config, header, rows, expected = canonical
    new_header, new_rows, mapping = VARIANTS[variant](header, rows)
    path = write(tmp_path / f"{variant}.csv", new_header, new_rows)
    _, counts, clean = processed(spark, config.with_overrides(columns=mapping), path)
    assert counts.rows_quarantined == 0, counts.reasons
    assertDataFrameEqual(clean, expected)


@pytest.mark.parametrize("delimiter, encoding, compress", [
    (";", "utf-8", False), ("\t", "utf-8", False), (",", "utf-8", True), (";", "latin-1", True),
    (",", "utf-8-sig", False),
])
def test_delimiter_encoding_and_gzip(spark, canonical, tmp_path, delimiter, encoding, compress):
    config, header, rows, expected = canonical
    path = write(tmp_path / ("in.csv.gz" if compress else "in.csv"), header, rows, delimiter, encoding, compress)
    found, counts, clean = processed(spark, config.with_overrides(input_encoding=encoding), path)
    assert found.delimiter == delimiter and counts.rows_quarantined == 0
    assertDataFrameEqual(clean, expected)


def test_normalisations_are_counted_per_rule(spark, canonical, tmp_path):
    config, header, rows, _ = canonical
    _, counts, _ = processed(spark, config, write(tmp_path / "casing.csv", header, other_casing(rows)))
    assert counts.normalised["integer_age"] == 100 and counts.normalised["boolean_promo_code_used"] == 100
    assert counts.normalised["spelling_gender"] == 100  # every value upper- or lower-cased
    _, counts, _ = processed(spark, config, write(tmp_path / "money.csv", header, money(rows)))
    assert counts.normalised == {"money_purchase_amount_usd": 80}  # " 53 " is only trimmed (1 row in 5)


def test_missing_optional_columns_are_null(spark, canonical, tmp_path):
    config, header, rows, expected = canonical
    dropped = [column("Promo Code Used"), column("Review Rating")]
    keep = [j for j in range(len(header)) if j not in dropped]
    path = write(tmp_path / "no_promo.csv", [header[j] for j in keep], [[r[j] for j in keep] for r in rows])
    found, counts, clean = processed(spark, config, path)
    assert found.absent == {"promo_code_used", "review_rating"} and counts.rows_quarantined == 0
    nulls = {"promo_code_used": "boolean", "review_rating": "double"}
    assertDataFrameEqual(clean, expected.select(
        *[F.lit(None).cast(nulls[c]).alias(c) if c in nulls else c for c in schema.PROCESSED_COLUMNS]))


def test_new_values_of_open_columns_are_kept_closed_ones_quarantined(spark, canonical, tmp_path):
    from shopsense.ingest.stage import new_values

    config, header, rows, _ = canonical
    rows = [list(r) for r in rows]
    rows[2][column("Item Purchased")] = "Raincoat"  # open: a new item
    rows[3][column("Payment Method")] = "Apple Pay"  # open
    rows[4][column("Season")] = "Monsoon"  # closed
    clothing = next(i for i, r in enumerate(rows) if i > 4 and r[column("Category")] == "Clothing")
    rows[clothing][column("Item Purchased")] = "Boots"  # a known item in the wrong category
    _, classified = read_input(spark, config, write(tmp_path / "new.csv", header, rows))
    classified = classified.cache()  # as ingest and inspect use it: new values are counted on the cached rows
    counts = count_outcomes(classified)
    assert counts.reasons == {"unknown_season": 1, "item_category_mismatch": 1}
    assert counts.examples["unknown_season"] == "Monsoon"
    assert new_values(classified) == {"item_purchased": {"Raincoat": 1}, "location": {"Québec": 1},
                                      "payment_method": {"Apple Pay": 1}}


def test_two_columns_on_one_field_and_unmatched_essential_column(spark, canonical, tmp_path):
    config, header, rows, _ = canonical
    path = write(tmp_path / "twice.csv", [*header, "customer_id"], [[*r, "1"] for r in rows])
    with pytest.raises(ShopSenseError, match="'Customer ID' and 'customer_id' both match 'Customer ID'"):
        read_input(spark, config, path)
    renamed = ["item" if h == "Item Purchased" else h for h in header]
    path = write(tmp_path / "renamed.csv", renamed, rows)
    with pytest.raises(ShopSenseError, match='(?s)missing required column.*\\[columns\\]\nitem = "Item Purchased"'):
        read_input(spark, config, path)


def test_quarantine_share_guard_keeps_the_previous_output(spark, canonical, tmp_path):
    from shopsense.ingest.stage import ingest

    _, header, rows, _ = canonical
    config = load_config(home=tmp_path)
    ingest(spark, config, write(tmp_path / "good.csv", header, rows))
    outputs = (Path(config.processed_dir), Path(config.quarantine_rows_dir), config.reports_dir)  # local home
    before = {p: p.read_bytes() for folder in outputs for p in sorted(folder.rglob("*")) if p.is_file()}
    garbage = [[("n/a" if j == column("Purchase Amount (USD)") else v) for j, v in enumerate(r)] for r in rows]
    with pytest.raises(ShopSenseError) as error:
        ingest(spark, config, write(tmp_path / "garbage.csv", header, garbage))
    assert "purchase_amount_usd: 100 of 100 rows not a number, e.g. 'n/a'" in str(error.value)
    assert str(config.rejected_rows_dir) in str(error.value)
    after = {p: p.read_bytes() for folder in outputs for p in sorted(folder.rglob("*")) if p.is_file()}
    assert after == before
    assert spark.read.parquet(current_location(spark, config.rejected_rows_dir)).count() == 100


def test_run_on_the_public_sample_without_its_promo_column_ingests_analyzes_and_trains(spark, tmp_path):
    """`shopsense run --input FILE --skip stream` on the 100 real rows (the public file's shape: one purchase
    per customer) without `Promo Code Used`: the promo model says the column is missing and the recommender
    that no customer bought twice (the run goes on after both), the promo KPI and report section say why
    they are empty. (A promo column true in every row: tests/ml/test_ml_saved_models.py; the stream of a
    log without the column: tests/streaming/test_stream_simulator.py.)"""
    import io as text_io
    import json

    import pandas as pd
    from rich.console import Console

    from shopsense.analytics.queries import QUERIES
    from shopsense.run import run_stages
    from tests.conftest import TEST_SPARK, TINY_ML

    path = tmp_path / "no_promo.csv"
    pd.read_csv(SAMPLE_CSV, dtype=str).drop(columns=["Promo Code Used"]).to_csv(path, index=False)
    config = load_config(home=tmp_path / "home").with_overrides(spark=TEST_SPARK, ml=TINY_ML)
    results = run_stages(config, input_csv=str(path), skip=["stream"],
                         console=Console(file=text_io.StringIO(), width=240))
    assert list(results) == ["ingest", "analyze", "train"]
    assert results["ingest"].rows_in == results["ingest"].rows_out == results["analyze"].rows_in == 100
    assert "missing columns (null): promo_code_used" in results["ingest"].notes
    promo, season, recommender = results["train"].notes
    assert promo == "promo: not trained: the input has no promo column (`promo_code_used` is null in every row)"
    assert season.startswith("season: serving ") and "test top-3 hit rate" in season
    assert recommender == ("recommender: not trained: no customer bought 2 or more different items (100 customers, "
                           "100 customer-item pairs): no purchase can be held out for the test split, and "
                           "collaborative filtering learns from customers who bought several")
    assert Path(config.model_dir("season"), "pipeline").exists()
    assert not Path(config.model_dir("promo"), "pipeline").exists()
    assert spark.read.parquet(current_location(spark, config.processed_dir)).where("promo_code_used IS NOT NULL").count() == 0
    analyze = results["analyze"].notes
    assert "promo code rate: no Promo Code Used column in the input" in analyze
    assert ("skipped (the input has no Promo Code Used column): query promotion_effectiveness" in analyze)
    assert f"{len(QUERIES) - 1} query results, 15 plots" in analyze  # every other query and plot
    kpis = json.loads(config.kpis_json.read_text())
    assert kpis["promo_code_rate"] is None and kpis["discount_rate"] > 0
    assert not (config.queries_dir / "promotion_effectiveness.csv").exists()
    assert current_location(spark, config.analytics_table_dir("promotion_effectiveness")) is None
    report = config.report_html.read_text()
    assert "skipped: the input has no Promo Code Used column" in report
