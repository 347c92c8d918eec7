"""Customer-profile forms: which widget each processed column gets, and widget values -> a profile dict.

The ML layer says which processed columns a model needs (`PROMO_INPUTS`, `SEASON_INPUTS`); this module
turns any such list into form fields straight from `shopsense.schema`, so the dropdowns always offer every
value of every vocabulary and the app never spells a column name or a category itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from shopsense import schema
from shopsense.errors import ShopSenseError

# Colours are free text in the data contract; the form offers the public data set's 25.
CHOICES: dict[str, tuple[str, ...]] = {**schema.VOCABULARIES, "color": schema.COLORS}
# Pre-filled numbers: typical values of the public file (its ages span 18-70, previous purchases 1-50).
NUMBER_DEFAULTS: dict[str, float] = {
    "age": 35, "previous_purchases": 25, "purchase_amount_usd": 60.0, "review_rating": 3.8,
}
LABELS: dict[str, str] = {c.name: c.raw for c in schema.COLUMNS}
LABELS["location"] = "State"


class FormError(ShopSenseError):
    """A form value is empty or not a number: the message names the field."""


@dataclass(frozen=True)
class Field:
    column: str  # processed column name
    label: str
    kind: str  # "choice", "flag" or "number"
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    default: Any = None


def field_for(column: str) -> Field:
    label = LABELS.get(column, column.replace("_", " ").capitalize())
    if column in CHOICES:
        return Field(column, label, "choice", choices=CHOICES[column], default=CHOICES[column][0])
    if column in schema.BOOLEAN_COLUMNS:
        return Field(column, label, "flag", default=False)
    if column in schema.NUMERIC_RANGES:
        low, high = schema.NUMERIC_RANGES[column]
        default = NUMBER_DEFAULTS.get(column, low)
        return Field(column, label, "number", low=low, high=high, default=default)
    raise ValueError(f"no form widget for column {column!r}: add it to shopsense.app.profile")


def profile_fields(columns: Iterable[str], exclude: Sequence[str] = ()) -> tuple[Field, ...]:
    """The form fields of a model's input columns, minus those asked separately (e.g. the season)."""
    return tuple(field_for(c) for c in columns if c not in exclude)


def to_profile(fields: Sequence[Field], values: Sequence[Any]) -> dict[str, Any]:
    """Widget values (in field order) -> a profile dict; empty or non-numeric values raise FormError.

    Ranges and vocabularies are checked by the inference module (the one place that knows what a model
    accepts); this only makes sure every field is filled and numbers are numbers of the right kind.
    """
    if len(values) != len(fields):
        raise FormError(f"expected {len(fields)} profile values, got {len(values)}")
    profile: dict[str, Any] = {}
    for field, value in zip(fields, values):
        if value is None or (isinstance(value, str) and not value.strip()):
            raise FormError(f"{field.label} is empty: please fill it in")
        if field.kind == "number":
            value = to_number(value, field.label, integer=field.column in schema.INTEGER_COLUMNS)
        elif field.kind == "flag":
            value = bool(value)
        else:
            value = str(value).strip()
        profile[field.column] = value
    return profile


def to_number(value: Any, label: str, integer: bool) -> int | float:
    """A form number as int or float; text, NaN and fractional ids/counts are refused with a message."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FormError(f"{label} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise FormError(f"{label} must be a finite number, got {value!r}")
    if integer:
        if not number.is_integer():
            raise FormError(f"{label} must be a whole number, got {value!r}")
        return int(number)
    return number
