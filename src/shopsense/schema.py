"""The data contract: raw CSV columns, processed column names and types, vocabularies and ranges.

Every other module takes column names, types and allowed values from here; nothing else spells them.
The vocabularies are those of the public "customer shopping trends" data set.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    IntegerType,
    IntegralType,
    LongType,
    StringType,
    StructField,
    StructType,
)


@dataclass(frozen=True)
class Column:
    raw: str  # header in the public CSV
    name: str  # snake_case name in the processed data
    dtype: DataType


COLUMNS: tuple[Column, ...] = (
    Column("Customer ID", "customer_id", LongType()),
    Column("Age", "age", IntegerType()),
    Column("Gender", "gender", StringType()),
    Column("Item Purchased", "item_purchased", StringType()),
    Column("Category", "category", StringType()),
    Column("Purchase Amount (USD)", "purchase_amount_usd", DoubleType()),
    Column("Location", "location", StringType()),
    Column("Size", "size", StringType()),
    Column("Color", "color", StringType()),
    Column("Season", "season", StringType()),
    Column("Review Rating", "review_rating", DoubleType()),
    Column("Subscription Status", "subscription_status", BooleanType()),
    Column("Shipping Type", "shipping_type", StringType()),
    Column("Discount Applied", "discount_applied", BooleanType()),
    Column("Promo Code Used", "promo_code_used", BooleanType()),
    Column("Previous Purchases", "previous_purchases", IntegerType()),
    Column("Payment Method", "payment_method", StringType()),
    Column("Frequency of Purchases", "frequency_of_purchases", StringType()),
)

RAW_COLUMNS: tuple[str, ...] = tuple(c.raw for c in COLUMNS)
PROCESSED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)
RAW_TO_PROCESSED: dict[str, str] = {c.raw: c.name for c in COLUMNS}
BOOLEAN_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if isinstance(c.dtype, BooleanType))
NUMERIC_COLUMNS: tuple[str, ...] = ("age", "purchase_amount_usd", "previous_purchases", "review_rating")

# Spelling of booleans in the raw file (compared case-insensitively after trimming).
TRUE_VALUES: tuple[str, ...] = ("yes", "true", "y", "1")
FALSE_VALUES: tuple[str, ...] = ("no", "false", "n", "0")

# The columns a file must have; any other may be missing (null in the processed data, docs/ingest.md).
ESSENTIAL_COLUMNS: tuple[str, ...] = ("customer_id", "item_purchased", "category", "purchase_amount_usd")

# The processed (clean) data: what `data/processed/shopping/` holds. An essential column is never null; the
# others are null only when the input had no such column.
PROCESSED_SCHEMA = StructType([StructField(c.name, c.dtype, nullable=c.name not in ESSENTIAL_COLUMNS)
                               for c in COLUMNS])
INTEGER_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if isinstance(c.dtype, IntegralType))

GENDERS: tuple[str, ...] = ("Male", "Female")

ITEMS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "Clothing": (
        "Blouse", "Dress", "Hoodie", "Jeans", "Pants", "Shirt", "Shorts", "Skirt", "Socks", "Sweater", "T-shirt",
    ),
    "Footwear": ("Boots", "Sandals", "Shoes", "Sneakers"),
    "Outerwear": ("Coat", "Jacket"),
    "Accessories": ("Backpack", "Belt", "Gloves", "Handbag", "Hat", "Jewelry", "Scarf", "Sunglasses"),
}
CATEGORIES: tuple[str, ...] = tuple(ITEMS_BY_CATEGORY)
ITEMS: tuple[str, ...] = tuple(sorted(i for items in ITEMS_BY_CATEGORY.values() for i in items))
CATEGORY_OF_ITEM: dict[str, str] = {i: c for c, items in ITEMS_BY_CATEGORY.items() for i in items}

SIZES: tuple[str, ...] = ("S", "M", "L", "XL")
# The public data set's 25 colours (an open vocabulary: any other non-empty value is accepted too).
COLORS: tuple[str, ...] = (
    "Beige", "Black", "Blue", "Brown", "Charcoal", "Cyan", "Gold", "Gray", "Green", "Indigo", "Lavender",
    "Magenta", "Maroon", "Olive", "Orange", "Peach", "Pink", "Purple", "Red", "Silver", "Teal", "Turquoise",
    "Violet", "White", "Yellow",
)
SEASONS: tuple[str, ...] = ("Winter", "Spring", "Summer", "Fall")
SHIPPING_TYPES: tuple[str, ...] = (
    "2-Day Shipping", "Express", "Free Shipping", "Next Day Air", "Standard", "Store Pickup",
)
PAYMENT_METHODS: tuple[str, ...] = ("Bank Transfer", "Cash", "Credit Card", "Debit Card", "PayPal", "Venmo")
FREQUENCIES: tuple[str, ...] = (
    "Weekly", "Bi-Weekly", "Fortnightly", "Monthly", "Quarterly", "Every 3 Months", "Annually",
)
US_STATES: tuple[str, ...] = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware", "Florida",
    "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine",
    "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska",
    "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota",
    "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota",
    "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
)

# Canonical spellings per processed string column (values are matched to them ignoring case, spaces,
# underscores and hyphens). A closed vocabulary is the list of allowed values; an open one (OPEN_VOCABULARIES:
# a retailer's own catalogue, stores, colours, ...) also accepts new values, listed in the ingest summary.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "gender": GENDERS,
    "item_purchased": ITEMS,
    "category": CATEGORIES,
    "location": US_STATES,
    "color": COLORS,
    "size": SIZES,
    "season": SEASONS,
    "shipping_type": SHIPPING_TYPES,
    "payment_method": PAYMENT_METHODS,
    "frequency_of_purchases": FREQUENCIES,
}
OPEN_VOCABULARIES: tuple[str, ...] = ("item_purchased", "location", "color", "payment_method", "shipping_type")

# Inclusive plausibility ranges. The public file spans age 18-70, amount 20-100, rating 2.5-5.0 and
# previous purchases 1-50; the contract is wider so that real data from other shops is not rejected, but
# narrow enough to catch typos (age 250, rating 9.0, negative amounts).
NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "customer_id": (1, 9_000_000_000_000_000),
    "age": (15, 100),
    "purchase_amount_usd": (0.01, 100_000.0),
    "review_rating": (1.0, 5.0),
    "previous_purchases": (0, 100_000),
}

# Age groups used by analytics, streaming and the app: (label, lowest age, highest age), inclusive.
AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("<25", 0, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55-64", 55, 64),
    ("65+", 65, 200),
)


def age_group_column(age: str = "age"):
    """Spark column: the AGE_GROUPS label of an age column (CASE WHEN, no UDF)."""
    from pyspark.sql import functions as F

    expr = None
    for label, low, high in AGE_GROUPS:
        cond = F.col(age).between(low, high)
        expr = F.when(cond, label) if expr is None else expr.when(cond, label)
    return expr


def age_group_sql(age: str = "age") -> str:
    """The same mapping as a SQL CASE expression, for `.sql` files and `selectExpr`."""
    whens = " ".join(f"WHEN {age} BETWEEN {low} AND {high} THEN '{label}'" for label, low, high in AGE_GROUPS)
    return f"CASE {whens} END"
