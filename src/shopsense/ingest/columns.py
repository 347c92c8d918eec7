"""Header matching: which file column holds which contract column (schema.COLUMNS).

A header name matches a column when their keys are equal: lower case, a trailing unit in parentheses
dropped, every character other than a letter or digit removed. A column's keys are those of its raw
name with and without the unit and of its processed name (`Purchase Amount (USD)`, `purchase_amount_usd`,
`Purchase Amount`). A mapping (`[columns]` in shopsense.toml, `--map "yours=Theirs"`) names the rest.
Only schema.ESSENTIAL_COLUMNS must be found; any other column may be missing (null in the processed data).
The batch reader and the stream parser both match with `match_header`.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from shopsense import schema
from shopsense.errors import ShopSenseError

EXACT, NORMALISED, MAPPED, MISSING, EXTRA = "exact", "normalised", "mapped", "missing", "extra"
# The key rule as two regular expressions (Java and Python read them alike): the stream parser applies
# them in Spark SQL (shopsense.streaming.source), `header_key` in Python.
UNIT_PATTERN = r"\s*\([^()]*\)\s*$"
NOT_KEY_PATTERN = r"[^0-9a-z]"


def header_key(name: str) -> str:
    """The comparison key of a header name (see the module docstring)."""
    return re.sub(NOT_KEY_PATTERN, "", re.sub(UNIT_PATTERN, "", name.strip().lower()))


def _column_keys(column: schema.Column) -> set[str]:
    return {header_key(column.raw), re.sub(NOT_KEY_PATTERN, "", column.raw.lower()), header_key(column.name)}


# Every key of every contract column -> its processed name. No two columns share a key (a test checks).
COLUMN_OF_KEY: dict[str, str] = {key: c.name for c in schema.COLUMNS for key in _column_keys(c)}
# The stream's own columns (shopsense.streaming.source) and the names other systems give them.
EVENT_ID, EVENT_TIME = "event_id", "event_time"
EVENT_COLUMN_OF_KEY: dict[str, str] = {"eventid": EVENT_ID, **{k: EVENT_TIME for k in (
    "eventtime", "timestamp", "eventtimestamp", "purchasetime")}}
_RAW_OF = {c.name: c.raw for c in schema.COLUMNS}


def mapping_target(value: str, where: str = "[columns]") -> str:
    """The processed name of a mapping's right-hand side (a raw or processed name, or a stream's event
    column, matched by key)."""
    key = header_key(value)
    column = COLUMN_OF_KEY.get(key) or EVENT_COLUMN_OF_KEY.get(key)
    if column is None:
        raise ShopSenseError(f"{where}: {value!r} is not a ShopSense column; use one of {', '.join(schema.RAW_COLUMNS)}")
    return column


def mapping_keys(mapping: dict[str, str] | None) -> dict[str, str]:
    """A `[columns]` mapping as {key of your header: ShopSense column}."""
    return {header_key(yours): mapping_target(theirs) for yours, theirs in (mapping or {}).items()}


def parse_map_options(items: list[str] | None) -> dict[str, str]:
    """`--map "yours=Theirs"` options -> {your header: ShopSense column}; a malformed one is a user error."""
    mapping = {}
    for item in items or []:
        yours, sep, theirs = item.partition("=")
        if not sep or not yours.strip() or not theirs.strip():
            raise ShopSenseError(f"--map {item!r}: expected \"your header=ShopSense column\", "
                                 f"e.g. --map \"item=Item Purchased\"")
        mapping[yours.strip()] = theirs.strip()
    return mapping


@dataclass(frozen=True)
class ColumnMatch:
    header: str | None  # the file's column name (None: missing)
    column: str | None  # the processed name it holds (None: an extra column)
    how: str  # exact | normalised | mapped | missing | extra


@dataclass(frozen=True)
class HeaderMatch:
    """How each file column and each contract column were matched."""
    names: tuple[str, ...]  # the header, in file order
    fields: tuple[str | None, ...]  # per file column: its processed name, or None (extra)
    matches: tuple[ColumnMatch, ...]  # per file column in file order, then the missing contract columns

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(m.column for m in self.matches if m.how == MISSING)

    @property
    def extra(self) -> tuple[str, ...]:
        return tuple(m.header for m in self.matches if m.how == EXTRA)

    def mapping_hints(self) -> list[str]:
        """`[columns]` lines for the missing columns that have a likely source among the extra columns."""
        return mapping_lines(self.missing, self.extra, guessed_only=True)


def match_header(names: list[str] | tuple[str, ...], mapping: dict[str, str] | None = None,
                 source: str = "input") -> HeaderMatch:
    """Match header names onto the contract, or raise ShopSenseError: a column matched twice (naming both
    file columns), or an essential column missing (with the `[columns]` lines that would fix it)."""
    targets = mapping_keys(mapping)
    fields, hows, seen = [], [], {}
    for name in names:
        key = header_key(name)
        if key in targets:
            column, how = targets[key], MAPPED
        elif key in COLUMN_OF_KEY:
            column = COLUMN_OF_KEY[key]
            how = EXACT if name == _RAW_OF[column] else NORMALISED
        else:
            column, how = None, EXTRA
        if column is not None and column in seen:
            raise ShopSenseError(f"{source}: columns {seen[column]!r} and {name!r} both match "
                                 f"{_RAW_OF.get(column, column)!r}; rename or remove one of them")
        if column is not None:
            seen[column] = name
        fields.append(column)
        hows.append(how)
    matches = [ColumnMatch(n, f, h) for n, f, h in zip(names, fields, hows)]
    matches += [ColumnMatch(None, c, MISSING) for c in schema.PROCESSED_COLUMNS if c not in seen]
    match = HeaderMatch(tuple(names), tuple(fields), tuple(matches))
    essential = [c for c in match.missing if c in schema.ESSENTIAL_COLUMNS]
    if essential:
        raise ShopSenseError(
            f"{source}: missing required column(s) {', '.join(repr(_RAW_OF[c]) for c in essential)}. "
            "Say which of your columns holds each: add these lines to shopsense.toml (or pass --map \"yours=Theirs\")\n"
            + "\n".join(["[columns]", *mapping_lines(essential, match.extra)]))
    return match


def _similarity(a: str, b: str) -> float:
    if a and b and (a in b or b in a):
        return 0.9
    return difflib.SequenceMatcher(None, a, b).ratio()


def mapping_lines(missing, extra, guessed_only: bool = False) -> list[str]:
    """One `[columns]` line per missing column: its best guess among `extra` (each guessed at most once,
    best pairs first), or a placeholder to fill in (unless `guessed_only`)."""
    pairs = sorted(((_similarity(header_key(e), k), e, c) for c in missing for e in extra
                    for k in {header_key(_RAW_OF[c]), header_key(c)}), key=lambda p: -p[0])
    guesses: dict[str, str] = {}
    for score, header, column in pairs:
        if score >= 0.4 and column not in guesses and header not in guesses.values():
            guesses[column] = header
    return [f"{_toml_key(guesses.get(c, 'your column name'))} = \"{_RAW_OF[c]}\"" for c in missing
            if c in guesses or not guessed_only]


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else '"' + name.replace('"', '\\"') + '"'
