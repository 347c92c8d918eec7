"""The data contract as Spark expressions: reason codes per row, and the typed processed columns.

Pure `DataFrame -> DataFrame` functions over the raw string frame of `shopsense.ingest.read` (snake_case
column names, string values, `_corrupt_record`). Only Spark built-ins: no Python UDF.

Reason codes (a row gets ALL that apply, in this order; docs/ingest.md lists them):
- `malformed_row`: wrong number of fields (Spark kept the raw line in `_corrupt_record`);
- `missing_<column>`: empty or absent value (after trimming);
- `non_numeric_<column>`: not a finite number; `non_integer_<column>`: a fraction in an integer column;
- `<column>_out_of_range`: outside schema.NUMERIC_RANGES (inclusive);
- `unknown_<column>`: not in the column's vocabulary (matched case-insensitively);
- `non_boolean_<column>`: not one of schema.TRUE_VALUES / FALSE_VALUES;
- `item_category_mismatch`: a known item filed under another known category.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DecimalType, DoubleType, LongType

from shopsense import schema
from shopsense.ingest.read import CORRUPT_RECORD

REASONS = "reasons"
# The reasons as one long, bit i set when RULES[i] applies (fewer than 64 rules): cheaper to build, cache and
# test than an array of codes (docs/benchmarks.md, seventeenth round); `reasons_of` gives the codes back.
REASON_BITS = "_reason_bits"
# Integers that are not plain longs are parsed as exact decimals, so that "42.0" is accepted and "42.5" is
# named a fraction.
_EXACT = DecimalType(38, 9)
_TYPES = {c.name: c.dtype for c in schema.COLUMNS}
_INTEGER_COLUMNS = tuple(c for c in schema.NUMERIC_RANGES if c in schema.INTEGER_COLUMNS)


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str  # malformed | missing | non_numeric | non_integer | out_of_range | unknown | non_boolean | mismatch
    column: str | None = None


def _rules() -> tuple[Rule, ...]:
    rules = [Rule("malformed_row", "malformed")]
    for c in schema.COLUMNS:
        rules.append(Rule(f"missing_{c.name}", "missing", c.name))
        if c.name in schema.NUMERIC_RANGES:
            rules.append(Rule(f"non_numeric_{c.name}", "non_numeric", c.name))
            if c.name in _INTEGER_COLUMNS:
                rules.append(Rule(f"non_integer_{c.name}", "non_integer", c.name))
            rules.append(Rule(f"{c.name}_out_of_range", "out_of_range", c.name))
        if c.name in schema.VOCABULARIES:
            rules.append(Rule(f"unknown_{c.name}", "unknown", c.name))
        if isinstance(c.dtype, BooleanType):
            rules.append(Rule(f"non_boolean_{c.name}", "non_boolean", c.name))
    rules.append(Rule("item_category_mismatch", "mismatch"))
    return tuple(rules)


RULES: tuple[Rule, ...] = _rules()
REASON_CODES: tuple[str, ...] = tuple(r.code for r in RULES)


# --- parsed values (null when the value is missing or does not parse) ---------------------------------------
def trimmed_text(value: Column) -> Column:
    """Trimmed value, null when empty (what "missing" means in the data contract)."""
    return F.nullif(F.trim(value), F.lit(""))


def _number(column: str, value: Column) -> Column:
    """The value as a number (a long for integer columns: see `_exact`, double otherwise); null unless finite."""
    if column in _INTEGER_COLUMNS:
        return value.try_cast(LongType())
    number = value.try_cast(DoubleType())
    return F.when(~F.isnan(number) & (F.abs(number) != F.lit(float("inf"))), number)


def _map(pairs) -> Column:
    """A constant string map, as one SQL literal (one call to the JVM instead of two per entry)."""
    quoted = ("'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'" for text in chain.from_iterable(pairs))
    return F.expr(f"map({', '.join(quoted)})")


def _exact(value: Column) -> Column:
    """An integer column's value as an exact decimal, only when it is not a plain integer ("42.0", "42.5",
    "1e3"): most values parse as a long, and decimals of this precision are slow to parse, store and read
    (validating 2M rows: 15% less CPU, docs/benchmarks.md)."""
    return F.when(value.try_cast(LongType()).isNull(), value.try_cast(_EXACT))


def _canonical(column: str, value: Column) -> Column:
    """The vocabulary spelling of a value matched case-insensitively; null when unknown."""
    return F.try_element_at(_map((w.lower(), w) for w in schema.VOCABULARIES[column]), F.lower(value))


def _boolean(value: Column) -> Column:
    word = F.lower(value)
    return F.when(word.isin(*schema.TRUE_VALUES), True).when(word.isin(*schema.FALSE_VALUES), False)


def _parsed(column: str, text: Column) -> Column:
    """The typed, canonical value of a contract column from its trimmed text; null when invalid."""
    if column in schema.NUMERIC_RANGES:
        return _number(column, text)
    if column in schema.VOCABULARIES:
        return _canonical(column, text)
    if isinstance(_TYPES[column], BooleanType):
        return _boolean(text)
    return text


# Intermediate columns of `validate`: each value is trimmed and parsed once, then tested by several rules
# (this keeps the generated code small; Spark does not collapse non-trivial expressions used twice).
def _text_col(column: str) -> Column:
    return F.col(f"_text_{column}")


def _value_col(column: str) -> Column:
    return F.col(f"_value_{column}")


def _exact_col(column: str) -> Column:
    return F.col(f"_exact_{column}")


def _typed(column: str) -> Column:
    """The processed value of a column (for an integer column its long, else its exact decimal's)."""
    value = _value_col(column)
    if column in _INTEGER_COLUMNS:
        value = F.coalesce(value, _exact_col(column).try_cast(LongType()))
    return value.try_cast(_TYPES[column])


def _condition(rule: Rule) -> Column:
    if rule.kind == "malformed":
        return F.col(CORRUPT_RECORD).isNotNull()
    if rule.kind == "mismatch":
        category_of_item = _map(schema.CATEGORY_OF_ITEM.items())
        return F.try_element_at(category_of_item, _value_col("item_purchased")) != _value_col("category")
    present = _text_col(rule.column).isNotNull()
    value = _value_col(rule.column)
    if rule.kind == "missing":
        return ~present
    if rule.kind == "non_integer":
        exact = _exact_col(rule.column)
        return exact != F.floor(exact)
    if rule.kind == "out_of_range":
        low, high = schema.NUMERIC_RANGES[rule.column]
        outside = ~value.between(F.lit(low), F.lit(high))
        if rule.column in _INTEGER_COLUMNS:  # at most one of value / exact is set; `true OR null` is true
            outside = outside | ~_exact_col(rule.column).between(F.lit(low), F.lit(high))
        return outside
    if rule.kind == "non_numeric" and rule.column in _INTEGER_COLUMNS:
        return present & value.isNull() & _exact_col(rule.column).isNull()
    if rule.kind in ("non_numeric", "unknown", "non_boolean"):
        return present & value.isNull()
    raise ValueError(f"unknown rule kind {rule.kind}")


def _checked(raw: DataFrame) -> tuple[DataFrame, Column]:
    """`raw` with each contract value trimmed and parsed once, and the REASON_BITS expression over them."""
    texts = [trimmed_text(F.col(c)).alias(f"_text_{c}") for c in schema.PROCESSED_COLUMNS]
    exact = [_exact(_text_col(c)).alias(f"_exact_{c}") for c in _INTEGER_COLUMNS]
    parsed = raw.select("*", *texts).select(
        "*", *[_parsed(c, _text_col(c)).alias(f"_value_{c}") for c in schema.PROCESSED_COLUMNS], *exact)
    bits = [F.when(_condition(rule), F.lit(1 << i)).otherwise(F.lit(0)) for i, rule in enumerate(RULES)]
    return parsed, _bitwise_or(bits).alias(REASON_BITS)


def _bitwise_or(columns: list[Column]) -> Column:
    """The columns OR-ed as a balanced tree (a chain of 45 would nest the generated code 45 levels deep)."""
    if len(columns) == 1:
        return columns[0].cast(LongType())
    middle = len(columns) // 2
    return _bitwise_or(columns[:middle]).bitwiseOR(_bitwise_or(columns[middle:]))


def reason_mask(codes) -> int:
    """The REASON_BITS of these reason codes: `bits & mask != 0` when a row has any of them."""
    return sum(1 << REASON_CODES.index(code) for code in set(codes))


def reasons_of(bits: Column) -> Column:
    """The reason codes of REASON_BITS, in RULES order (an empty array for 0)."""
    return F.array_compact(F.array(*[
        F.when(bits.bitwiseAND(F.lit(1 << i)) != 0, F.lit(rule.code)) for i, rule in enumerate(RULES)]))


def validate(raw: DataFrame) -> DataFrame:
    """Add `reasons`: array of the reason codes that apply to each row (empty array = valid row).

    Comparisons with a null side are null, and `when(null)` adds nothing, so each rule only fires on the
    values it is about (e.g. an unparseable age gives `non_numeric_age`, not also `age_out_of_range`).
    """
    parsed, bits = _checked(raw)
    return parsed.select(*raw.columns, bits).select(*raw.columns, reasons_of(F.col(REASON_BITS)).alias(REASONS))


def typed_column(column: str) -> str:
    """Name of a contract column's processed value in the output of `validate_and_type`."""
    return f"_typed_{column}"


def validate_and_type(raw: DataFrame) -> DataFrame:
    """REASON_BITS (see `reasons_of`), plus each contract column's processed value (in its processed type,
    null when invalid) as `typed_column(c)`, from the same parse: whoever needs both the reasons and the
    typed row parses each value once."""
    parsed, bits = _checked(raw)
    values = [_typed(c.name).alias(typed_column(c.name)) for c in schema.COLUMNS]
    return parsed.select(*raw.columns, bits, *values)


def typed_values() -> list[Column]:
    """The processed values of `validate_and_type`'s output under their processed names, in the order and
    types of schema.PROCESSED_SCHEMA."""
    return [F.col(typed_column(c.name)).alias(c.name) for c in schema.COLUMNS]
