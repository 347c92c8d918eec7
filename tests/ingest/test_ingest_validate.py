"""The data contract as a pure DataFrame -> DataFrame function, on small explicit DataFrames."""
from __future__ import annotations

from pyspark.sql.types import ArrayType, StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual

from shopsense import schema
from shopsense.ingest.read import CORRUPT_RECORD
from shopsense.ingest.validate import (
    NORMALISATIONS, NORMALISED_BITS, REASON_BITS, REASON_CODES, REASONS, normalisations_of, reason_mask, typed_values,
    validate, validate_and_type,
)

RAW_SCHEMA = StructType(
    [StructField(c, StringType()) for c in schema.PROCESSED_COLUMNS] + [StructField(CORRUPT_RECORD, StringType())]
)
OUT_SCHEMA = StructType(RAW_SCHEMA.fields + [StructField(REASONS, ArrayType(StringType(), False), False)])

VALID = {
    "customer_id": "1", "age": "55", "gender": "Male", "item_purchased": "Blouse", "category": "Clothing",
    "purchase_amount_usd": "53", "location": "Kentucky", "size": "L", "color": "Gray", "season": "Winter",
    "review_rating": "3.1", "subscription_status": "Yes", "shipping_type": "Express", "discount_applied": "Yes",
    "promo_code_used": "No", "previous_purchases": "14", "payment_method": "Venmo",
    "frequency_of_purchases": "Fortnightly", CORRUPT_RECORD: None,
}


def raw(**changes) -> tuple:
    row = {**VALID, **changes}
    return tuple(row[f.name] for f in RAW_SCHEMA.fields)


# (changes to a valid row, expected reasons in rule order)
CASES = [
    ({}, []),
    ({"age": " 42 ", "gender": "female", "size": "xl", "subscription_status": "TRUE"}, []),  # trimmed, any case
    ({"age": "42.0", "customer_id": "7.000"}, []),  # integral decimals are integers
    ({"gender": ""}, ["missing_gender"]),
    ({"gender": None}, ["missing_gender"]),
    ({"color": "   "}, ["missing_color"]),
    ({"purchase_amount_usd": "forty-two"}, ["non_numeric_purchase_amount_usd"]),
    ({"purchase_amount_usd": "NaN"}, ["non_numeric_purchase_amount_usd"]),
    ({"review_rating": "Infinity"}, ["non_numeric_review_rating"]),
    ({"age": "42.5"}, ["non_integer_age"]),
    # Integer columns parse as a long, else as an exact decimal: both paths give the same answers.
    ({"age": "4.2e1", "previous_purchases": "0.0"}, []),
    ({"age": "42d"}, ["non_numeric_age"]),
    ({"customer_id": "9223372036854775808"}, ["customer_id_out_of_range"]),  # beyond a long
    ({"customer_id": "9000000000000000.5"}, ["non_integer_customer_id", "customer_id_out_of_range"]),
    ({"previous_purchases": "1e400"}, ["non_numeric_previous_purchases"]),
    ({"age": "250"}, ["age_out_of_range"]),
    ({"age": "14"}, ["age_out_of_range"]),
    ({"review_rating": "7.5"}, ["review_rating_out_of_range"]),
    ({"purchase_amount_usd": "-3"}, ["purchase_amount_usd_out_of_range"]),
    ({"previous_purchases": "-1"}, ["previous_purchases_out_of_range"]),
    ({"customer_id": "0"}, ["customer_id_out_of_range"]),
    ({"category": "Electronics"}, ["unknown_category"]),
    # Open vocabularies take new values; closed ones do not.
    ({"item_purchased": "Laptop", "location": "Bavaria", "shipping_type": "Drone", "color": "Ecru"}, []),
    ({"frequency_of_purchases": "Hourly"}, ["unknown_frequency_of_purchases"]),
    # Normalised before validation: money, spelling of vocabulary values.
    ({"purchase_amount_usd": "$1,234.50", "frequency_of_purchases": "every 3 months",
      "shipping_type": "free-shipping"}, []),
    ({"purchase_amount_usd": "USD 53", "review_rating": "3,1"}, ["non_numeric_review_rating"]),
    ({"purchase_amount_usd": "$ n/a"}, ["non_numeric_purchase_amount_usd"]),
    ({"category": "Footwear"}, ["item_category_mismatch"]),
    ({"discount_applied": "maybe"}, ["non_boolean_discount_applied"]),
    ({"frequency_of_purchases": None, CORRUPT_RECORD: "1,55,Male"},
     ["malformed_row", "missing_frequency_of_purchases"]),
    ({"age": "abc", "gender": "", "season": "Monsoon", "promo_code_used": "2"},
     ["missing_gender", "non_numeric_age", "unknown_season", "non_boolean_promo_code_used"]),
]


def _sorted_by_rule(reasons: list[str]) -> list[str]:
    return sorted(reasons, key=REASON_CODES.index)


def test_every_rule_gives_its_reason_code(spark):
    rows = [raw(**changes) for changes, _ in CASES]
    actual = validate(spark.createDataFrame(rows, RAW_SCHEMA))
    expected = spark.createDataFrame(
        [(*row, _sorted_by_rule(reasons)) for row, (_, reasons) in zip(rows, CASES)], OUT_SCHEMA)
    assertDataFrameEqual(actual, expected)


def test_reason_bits_hold_exactly_the_reasons(spark):
    """validate_and_type gives the reasons as the bits of a long (cheaper to build and cache than an array):
    one bit per code, for every case above (codes past bit 31 too)."""
    rows = [raw(**changes) for changes, _ in CASES]
    bits = [r[REASON_BITS] for r in validate_and_type(spark.createDataFrame(rows, RAW_SCHEMA)).collect()]
    assert bits == [reason_mask(reasons) for _, reasons in CASES]
    assert len(REASON_CODES) < 64  # the bits of a long
    assert reason_mask(["item_category_mismatch"]) == 1 << (len(REASON_CODES) - 1) > 1 << 31


def test_reason_codes_are_unique_and_cover_every_column():
    assert len(REASON_CODES) == len(set(REASON_CODES))
    for column in schema.PROCESSED_COLUMNS:
        assert f"missing_{column}" in REASON_CODES
    for column in schema.VOCABULARIES:
        assert (f"unknown_{column}" in REASON_CODES) == (column not in schema.OPEN_VOCABULARIES)
    for column in schema.NUMERIC_RANGES:
        assert f"{column}_out_of_range" in REASON_CODES


def test_typed_values_and_canonical_spelling(spark):
    df = spark.createDataFrame([raw(age=" 42.0 ", gender="female", discount_applied="n", size="xl")], RAW_SCHEMA)
    expected = spark.createDataFrame(
        [(1, 42, "Female", "Blouse", "Clothing", 53.0, "Kentucky", "XL", "Gray", "Winter", 3.1, True, "Express",
          False, False, 14, "Venmo", "Fortnightly")],
        schema.PROCESSED_SCHEMA,
    )
    actual = validate_and_type(df).select(*typed_values())
    assert actual.schema.simpleString() == schema.PROCESSED_SCHEMA.simpleString()
    assertDataFrameEqual(actual, expected)


def test_every_vocabulary_word_is_accepted(spark):
    rows = []
    for column, words in schema.VOCABULARIES.items():
        for word in words:
            changes = {column: word}
            if column == "item_purchased":
                changes["category"] = schema.CATEGORY_OF_ITEM[word]
            if column == "category":
                changes["item_purchased"] = schema.ITEMS_BY_CATEGORY[word][0]
            rows.append(raw(**changes))
    reasons = [r[REASONS] for r in validate(spark.createDataFrame(rows, RAW_SCHEMA)).select(REASONS).collect()]
    assert len(reasons) == sum(len(words) for words in schema.VOCABULARIES.values())
    assert [r for r in reasons if r] == []


def test_normalisations_give_canonical_values_and_set_their_bits(spark):
    cases = [  # (changes, typed values expected, normalisation codes)
        ({"purchase_amount_usd": "$1,234.50"}, {"purchase_amount_usd": 1234.5}, ["money_purchase_amount_usd"]),
        ({"purchase_amount_usd": "53 EUR"}, {"purchase_amount_usd": 53.0}, ["money_purchase_amount_usd"]),
        ({"purchase_amount_usd": "1 234"}, {"purchase_amount_usd": 1234.0}, ["money_purchase_amount_usd"]),
        ({"age": "53.0"}, {"age": 53}, ["integer_age"]),
        ({"promo_code_used": "y"}, {"promo_code_used": True}, ["boolean_promo_code_used"]),
        ({"frequency_of_purchases": "bi_weekly", "item_purchased": "t shirt"},
         {"frequency_of_purchases": "Bi-Weekly", "item_purchased": "T-shirt"},
         ["spelling_item_purchased", "spelling_frequency_of_purchases"]),
        ({"location": "Bavaria"}, {"location": "Bavaria"}, []),  # a new value: kept, not a normalisation
        ({"age": " 42 "}, {"age": 42}, []),  # trimming is not counted
    ]
    df = spark.createDataFrame([raw(**changes) for changes, _, _ in cases], RAW_SCHEMA)
    rows = validate_and_type(df).select(REASON_BITS, NORMALISED_BITS, *typed_values()).collect()
    for row, (_, values, codes) in zip(rows, cases):
        assert row[REASON_BITS] == 0
        assert {c: row[c] for c in values} == values
        assert normalisations_of(row[NORMALISED_BITS]) == sorted(codes, key=lambda c: [n.code for n in NORMALISATIONS].index(c))


def test_absent_columns_break_no_rule(spark):
    df = spark.createDataFrame([raw(review_rating=None, promo_code_used=None)], RAW_SCHEMA)
    row = validate_and_type(df, absent=frozenset({"review_rating", "promo_code_used"})).first()
    assert row[REASON_BITS] == 0 and row["_typed_review_rating"] is None and row["_typed_promo_code_used"] is None
