"""The data contract as Spark expressions: reason codes per row, and the typed processed columns.

Pure `DataFrame -> DataFrame` functions over the raw string frame of `shopsense.ingest.read` (snake_case
column names, string values, `_corrupt_record`). Only Spark built-ins: no Python UDF.

Reason codes (a row gets ALL that apply, in this order; docs/ingest.md lists them):
- `malformed_row`: wrong number of fields (Spark kept the raw line in `_corrupt_record`);
- `missing_<column>`: empty or absent value (after trimming);
- `non_numeric_<column>`: not a finite number; `non_integer_<column>`: a fraction in an integer column;
- `<column>_out_of_range`: outside schema.NUMERIC_RANGES (inclusive);
- `unknown_<column>`: not in the column's closed vocabulary (an open one, schema.OPEN_VOCABULARIES, takes
  new values);
- `non_boolean_<column>`: not one of schema.TRUE_VALUES / FALSE_VALUES;
- `item_category_mismatch`: a known item filed under another known category.

Before the rules, values are normalised (NORMALISATIONS; each one applied sets a bit of NORMALISED_BITS):
- `money_<column>`: a currency symbol or code, thousands separators and spaces removed (`$1,234.50`);
- `integer_<column>`: an integer written with a zero fraction (`53.0`);
- `boolean_<column>`: yes/no written otherwise than `Yes`/`No` (`y`, `TRUE`, `0`);
- `spelling_<column>`: a vocabulary value matched ignoring case, spaces, underscores and hyphens.
A column the input does not have (`absent`) is null and breaks no rule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DecimalType

from shopsense import schema
from shopsense.ingest.read import CORRUPT_RECORD

REASONS = "reasons"
# The reasons as one long, bit i set when RULES[i] applies (fewer than 64 rules): cheaper to build, cache and
# test than an array of codes (docs/benchmarks.md); `reasons_of` gives the codes back.
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
        if c.name in schema.VOCABULARIES and c.name not in schema.OPEN_VOCABULARIES:
            rules.append(Rule(f"unknown_{c.name}", "unknown", c.name))
        if isinstance(c.dtype, BooleanType):
            rules.append(Rule(f"non_boolean_{c.name}", "non_boolean", c.name))
    rules.append(Rule("item_category_mismatch", "mismatch"))
    return tuple(rules)


RULES: tuple[Rule, ...] = _rules()
REASON_CODES: tuple[str, ...] = tuple(r.code for r in RULES)

NORMALISED_BITS = "_normalised_bits"  # bit i set when NORMALISATIONS[i] changed the row's value


@dataclass(frozen=True)
class Normalisation:
    code: str
    kind: str  # money | integer | boolean | spelling
    column: str


def _normalisations() -> tuple[Normalisation, ...]:
    kinds = {"purchase_amount_usd": "money", **{c: "integer" for c in _INTEGER_COLUMNS},
             **{c: "boolean" for c in schema.BOOLEAN_COLUMNS}, **{c: "spelling" for c in schema.VOCABULARIES}}
    return tuple(Normalisation(f"{kinds[c]}_{c}", kinds[c], c) for c in schema.PROCESSED_COLUMNS if c in kinds)


NORMALISATIONS: tuple[Normalisation, ...] = _normalisations()
_NORMALISED_KIND = {n.column: n.kind for n in NORMALISATIONS}


# --- the rules as SQL text -------------------------------------------------------------------------------
# Each expression is written as Spark SQL text and handed to the JVM in one call per output column: built
# with the Column API, ingest's validated and classified rows take about 9,400 Py4J round trips, 2.7-3.2 s
# of Python before every ingest or stream in a warm session, against 0.5 s as SQL text (docs/benchmarks.md).
# The same expressions, spelled in SQL: the outputs are equal row by row.
def _name(column: str) -> str:
    return f"`{column}`"


def sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number_literal(value: float) -> str:
    """A range bound as a SQL literal: an int stays an integer, a float is a DOUBLE (not SQL's DECIMAL)."""
    return f"{value!r}D" if isinstance(value, float) else str(value)


def _map(pairs) -> str:
    """A constant string map."""
    return f"map({', '.join(sql_string(text) for text in chain.from_iterable(pairs))})"


def _words(words) -> str:
    return ", ".join(sql_string(w) for w in words)


def trimmed_text(column: str) -> str:
    """SQL of a column's trimmed value, null when empty (what "missing" means in the data contract)."""
    return f"CASE WHEN trim({_name(column)}) != '' THEN trim({_name(column)}) END"


def _text(column: str) -> str:
    return _name(f"_text_{column}")


def _value(column: str) -> str:
    return _name(f"_value_{column}")


def _exact_value(column: str) -> str:
    return _name(f"_exact_{column}")


def _number(column: str, text: str) -> str:
    """The value as a number (a long for integer columns: see `_exact`, double otherwise); null unless finite."""
    if column in _INTEGER_COLUMNS:
        return f"try_cast({text} AS BIGINT)"
    number = f"try_cast({text} AS DOUBLE)"
    return f"CASE WHEN NOT isnan({number}) AND abs({number}) != CAST('Infinity' AS DOUBLE) THEN {number} END"


def _exact(text: str) -> str:
    """An integer column's value as an exact decimal, only when it is not a plain integer ("42.0", "42.5",
    "1e3"): most values parse as a long, and decimals of this precision are slow to parse, store and read
    (validating 2M rows: 15% less CPU, docs/benchmarks.md)."""
    return f"CASE WHEN try_cast({text} AS BIGINT) IS NULL THEN try_cast({text} AS {_EXACT.simpleString()}) END"


def _normalised(column: str) -> str:
    """A money or integer column's normalised text (`_normalised_text`; the others are not rewritten)."""
    return _name(f"_normalised_{column}")


_SPELLING_NOISE = r"[\s_-]"  # ignored when a value is matched to its vocabulary


def spelling_key(text: str) -> str:
    """SQL of a value's vocabulary key: lower case, without spaces, underscores and hyphens."""
    return f"lower(regexp_replace({text}, {sql_string(_SPELLING_NOISE)}, ''))"


def _spelling_key_of(word: str) -> str:
    return re.sub(_SPELLING_NOISE, "", word).lower()  # `spelling_key` in Python, for the constant maps


# A currency symbol or code before or after the amount, and a thousands separator between digits.
_CURRENCY = r"(?i)^(?:us\$|usd|eur|gbp|chf|[$€£¥])\s*|\s*(?:usd|eur|gbp|chf|[$€£¥])$"
_THOUSANDS = r"(?<=\d)[, ](?=\d{3}(?!\d))"
_ZERO_FRACTION = r"^([+-]?[0-9]+)[.]0+$"


def _normalised_text(column: str, text: str) -> str:
    """SQL of the text a value is parsed from: money and zero-fraction integers rewritten (a rewrite that
    does not give a number is not applied, so the quarantine names the value as written). The regular
    expressions only run on values they can change: a number leaves both money patterns unchanged (it has
    no currency, comma or inner space), a text without `.` has no zero fraction."""
    kind = _NORMALISED_KIND.get(column)
    if kind == "money":
        money = f"regexp_replace(regexp_replace({text}, {sql_string(_CURRENCY)}, ''), {sql_string(_THOUSANDS)}, '')"
        return (f"CASE WHEN try_cast({text} AS DOUBLE) IS NOT NULL THEN {text} "
                f"WHEN try_cast({money} AS DOUBLE) IS NOT NULL THEN {money} ELSE {text} END")
    if kind == "integer":
        return f"CASE WHEN contains({text}, '.') THEN regexp_replace({text}, {sql_string(_ZERO_FRACTION)}, '$1') ELSE {text} END"
    return text


def _canonical(column: str, text: str) -> str:
    """The vocabulary spelling of a value (see `spelling_key`); null when unknown. A value spelled as in
    the vocabulary is its own canonical spelling: only the others pay for the key (a regular expression)
    and the lookup."""
    vocabulary = schema.VOCABULARIES[column]
    words = _map((_spelling_key_of(w), w) for w in vocabulary)
    return f"CASE WHEN {text} IN ({_words(vocabulary)}) THEN {text} ELSE try_element_at({words}, {spelling_key(text)}) END"


def _normalisation_applied(n: Normalisation) -> str:
    text, value = _text(n.column), _value(n.column)
    if n.kind in ("money", "integer"):
        return f"{_normalised(n.column)} != {text}"
    if n.kind == "boolean":
        return f"{value} IS NOT NULL AND {text} NOT IN ('Yes', 'No')"
    return f"{value} != {text}"  # spelling: the canonical spelling differs (a new value is kept as written)


def _boolean(text: str) -> str:
    word = f"lower({text})"  # only for values not spelled `Yes` / `No` (lower() is a costly call)
    return (f"CASE WHEN {text} = 'Yes' THEN true WHEN {text} = 'No' THEN false "
            f"WHEN {word} IN ({_words(schema.TRUE_VALUES)}) THEN true "
            f"WHEN {word} IN ({_words(schema.FALSE_VALUES)}) THEN false END")


def _parsed(column: str, text: str) -> str:
    """The typed, canonical value of a contract column from its trimmed text; null when invalid."""
    if column in schema.NUMERIC_RANGES:
        return _number(column, text)
    if column in schema.OPEN_VOCABULARIES:
        return f"coalesce({_canonical(column, text)}, {text})"
    if column in schema.VOCABULARIES:
        return _canonical(column, text)
    if isinstance(_TYPES[column], BooleanType):
        return _boolean(text)
    return text


def _typed(column: str) -> str:
    """The processed value of a column (for an integer column its long, else its exact decimal's)."""
    value = _value(column)
    if column in _INTEGER_COLUMNS:
        value = f"coalesce({value}, try_cast({_exact_value(column)} AS BIGINT))"
    return f"try_cast({value} AS {_TYPES[column].simpleString()})"


def _within(value: str, column: str) -> str:
    low, high = (_number_literal(bound) for bound in schema.NUMERIC_RANGES[column])
    return f"({value} >= {low} AND {value} <= {high})"


def _condition(rule: Rule, absent: frozenset[str], present: str | None) -> str:
    if rule.column in absent:
        return "false"
    if rule.kind == "missing" and present is not None:
        return f"{_text(rule.column)} IS NULL AND ({_name(present)} & {present_bit(rule.column)}L) != 0"
    if rule.kind == "malformed":
        return f"{_name(CORRUPT_RECORD)} IS NOT NULL"
    if rule.kind == "mismatch":
        category_of_item = _map(schema.CATEGORY_OF_ITEM.items())
        return f"try_element_at({category_of_item}, {_value('item_purchased')}) != {_value('category')}"
    present = f"{_text(rule.column)} IS NOT NULL"
    value = _value(rule.column)
    if rule.kind == "missing":
        return f"{_text(rule.column)} IS NULL"
    if rule.kind == "non_integer":
        exact = _exact_value(rule.column)
        return f"{exact} != floor({exact})"
    if rule.kind == "out_of_range":
        outside = f"NOT {_within(value, rule.column)}"
        if rule.column in _INTEGER_COLUMNS:  # at most one of value / exact is set; `true OR null` is true
            outside = f"{outside} OR NOT {_within(_exact_value(rule.column), rule.column)}"
        return outside
    if rule.kind == "non_numeric" and rule.column in _INTEGER_COLUMNS:
        return f"{present} AND {value} IS NULL AND {_exact_value(rule.column)} IS NULL"
    if rule.kind in ("non_numeric", "unknown", "non_boolean"):
        return f"{present} AND {value} IS NULL"
    raise ValueError(f"unknown rule kind {rule.kind}")


def _checked(raw: DataFrame, absent: frozenset[str], present: str | None,
             trimmed: bool) -> tuple[DataFrame, list[str]]:
    """`raw` with each contract value trimmed, normalised and parsed once (so that several rules test one
    parse, and the generated code stays small), and the REASON_BITS and NORMALISED_BITS expressions.

    Normalised texts and values are one projection (each row is copied once per projection): a value's
    normalised text is written into each expression that needs it, and Spark evaluates it once per row
    (subexpression elimination)."""
    texts = [f"{_name(c) if trimmed else trimmed_text(c)} AS {_text(c)}" for c in schema.PROCESSED_COLUMNS]
    normalised = {c: _normalised_text(c, _text(c)) for c in schema.PROCESSED_COLUMNS}
    rewritten = [f"{normalised[c]} AS {_normalised(c)}" for c in schema.PROCESSED_COLUMNS if normalised[c] != _text(c)]
    values = [f"{_parsed(c, normalised[c])} AS {_value(c)}" for c in schema.PROCESSED_COLUMNS]
    exact = [f"{_exact(normalised[c])} AS {_exact_value(c)}" for c in _INTEGER_COLUMNS]
    parsed = raw.selectExpr("*", *texts).selectExpr("*", *rewritten, *values, *exact)
    reasons = [f"CASE WHEN {_condition(rule, absent, present)} THEN {1 << i}L ELSE 0L END" for i, rule in enumerate(RULES)]
    applied = [f"CASE WHEN {_normalisation_applied(n)} THEN {1 << i}L ELSE 0L END"
               for i, n in enumerate(NORMALISATIONS)]
    return parsed, [f"{_bitwise_or(reasons)} AS {_name(REASON_BITS)}",
                    f"{_bitwise_or(applied)} AS {_name(NORMALISED_BITS)}"]


def _bitwise_or(terms: list[str]) -> str:
    """The terms OR-ed as a balanced tree (a chain of 45 would nest the generated code 45 levels deep)."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return f"({_bitwise_or(terms[:middle])} | {_bitwise_or(terms[middle:])})"


def reason_mask(codes) -> int:
    """The REASON_BITS of these reason codes: `bits & mask != 0` when a row has any of them."""
    return sum(1 << REASON_CODES.index(code) for code in set(codes))


def reasons_of(bits: str = REASON_BITS) -> Column:
    """The reason codes of the REASON_BITS column `bits`, in RULES order (an empty array for 0)."""
    codes = ", ".join(f"CASE WHEN ({_name(bits)} & {1 << i}L) != 0 THEN {sql_string(rule.code)} END"
                      for i, rule in enumerate(RULES))
    return F.expr(f"array_compact(array({codes}))")


def normalisations_of(bits: int) -> list[str]:
    """The codes of the NORMALISATIONS whose bit is set in `bits`."""
    return [n.code for i, n in enumerate(NORMALISATIONS) if bits >> i & 1]


def validate(raw: DataFrame, absent: frozenset[str] = frozenset()) -> DataFrame:
    """Add `reasons`: array of the reason codes that apply to each row (empty array = valid row).

    Comparisons with a null side are null, and `CASE WHEN null` adds nothing, so each rule only fires on the
    values it is about (e.g. an unparseable age gives `non_numeric_age`, not also `age_out_of_range`).
    """
    parsed, (bits, _) = _checked(raw, absent, None, trimmed=False)
    return parsed.selectExpr(*map(_name, raw.columns), bits).select(*raw.columns, reasons_of().alias(REASONS))


def present_bit(column: str) -> int:
    """The bit of contract column `column` in the `present` mask of `validate_and_type`."""
    return 1 << schema.PROCESSED_COLUMNS.index(column)


def typed_column(column: str) -> str:
    """Name of a contract column's processed value in the output of `validate_and_type`."""
    return f"_typed_{column}"


def validate_and_type(raw: DataFrame, absent: frozenset[str] = frozenset(), present: str | None = None,
                      trimmed: bool = False) -> DataFrame:
    """REASON_BITS (see `reasons_of`) and NORMALISED_BITS, plus each contract column's processed value (in
    its processed type, null when invalid or absent) as `typed_column(c)`, from the same parse: whoever needs
    both the reasons and the typed row parses each value once. The contract columns the input lacks are
    `absent`, or, when they differ from row to row (stream files), all but those whose `present_bit` is set in
    the bigint column `present`. `trimmed`: the contract columns already hold `trimmed_text` values."""
    parsed, bits = _checked(raw, absent, present, trimmed)
    values = [f"{_typed(c.name)} AS {_name(typed_column(c.name))}" for c in schema.COLUMNS]
    return parsed.selectExpr(*map(_name, raw.columns), *bits, *values)


def typed_values() -> list[Column]:
    """The processed values of `validate_and_type`'s output under their processed names, in the order and
    types of schema.PROCESSED_SCHEMA."""
    return [F.col(typed_column(c.name)).alias(c.name) for c in schema.COLUMNS]
