"""Results equality between the two engines' outputs (two ShopSense homes), checked before any time is reported.

Exact: row counts, status and reason counts, every row of the clean data and of the quarantine (as multisets),
KPIs, the basket summary, every count, text and integer cell of the profile and of the query CSVs.
Floating-point cells: within one unit of the last decimal place the suite rounds to (averages to cents,
shares to 4 decimals; engines may round a ...5 differently after summing in another order), unrounded
ones (support, confidence, lift, correlations) to a relative 1e-9.
"""
from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd

from shopsense import schema
from shopsense.config import Config
from shopsense.ingest.correlation import METHODS


class ResultsDiffer(AssertionError):
    """The engines disagree: no time is reported."""


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise ResultsDiffer(what)


def _multiset_diff(con, a: str, b: str, columns: str) -> int:
    only_in = "(SELECT count(*) FROM (SELECT {c} FROM {x} EXCEPT ALL SELECT {c} FROM {y}))"
    return con.execute(f"SELECT {only_in.format(c=columns, x=a, y=b)} + {only_in.format(c=columns, x=b, y=a)}"
                       ).fetchone()[0]


def _decimals(values: pd.Series) -> int:
    """Digits after the decimal point of the longest value (0 when none has any, e.g. 1e-05 or inf)."""
    places = values.dropna().astype(str).str.extract(r"\.(\d+)$")[0].str.len().max()
    return 0 if pd.isna(places) else int(places)


def frames_equal(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    _check(list(a.columns) == list(b.columns), f"{what}: columns {list(a.columns)} != {list(b.columns)}")
    _check(len(a) == len(b), f"{what}: {len(a)} rows != {len(b)} rows")
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            places = max(_decimals(x), _decimals(y))
            atol = 10.0 ** -places + 1e-9 if places <= 4 else 1e-9
            ok = np.isclose(x.astype(float), y.astype(float), rtol=1e-9, atol=atol, equal_nan=True)
            _check(bool(ok.all()), f"{what}.{column}: {int((~ok).sum())} values differ, e.g. "
                                   f"{x[~ok].head(3).tolist()} vs {y[~ok].head(3).tolist()}")
        else:
            _check(x.astype(str).tolist() == y.astype(str).tolist(), f"{what}.{column}: values differ")


def compare(spark_home: Config, duck_home: Config) -> list[str]:
    """Raise ResultsDiffer at the first difference; return the list of what was checked."""
    checked = []
    s = json.loads(spark_home.ingest_summary.read_text())
    d = json.loads(duck_home.ingest_summary.read_text())
    for key in ("rows_read", "rows_clean", "rows_quarantined", "rows_duplicate", "reasons"):
        _check(s[key] == d[key], f"ingest {key}: {s[key]} != {d[key]}")
    for method in METHODS:
        x = np.array(s["correlation"][method], dtype=float)
        y = np.array(d["correlation"][method], dtype=float)
        _check(np.allclose(x, y, atol=2e-6, rtol=0, equal_nan=True), f"{method} correlation: {x} != {y}")
    checked.append("ingest counts, reason counts, Pearson/Spearman matrices")

    con = duckdb.connect()
    cols = ", ".join(schema.PROCESSED_COLUMNS)
    clean = [f"read_parquet('{h.processed_dir}/*.parquet')" for h in (spark_home, duck_home)]
    _check(_multiset_diff(con, *clean, cols) == 0, "clean Parquet rows differ")
    quarantine_cols = f"regexp_replace(source_file, '^file:(//)?', '') AS f, {cols}, raw_line, reasons"
    quarantine = [f"read_parquet('{h.quarantine_rows_dir}/*.parquet')" for h in (spark_home, duck_home)]
    _check(_multiset_diff(con, *quarantine, quarantine_cols) == 0, "quarantine rows differ")
    con.close()
    checked.append(f"clean data ({s['rows_clean']:,} rows) and quarantine ({s['rows_quarantined']:,} rows), row by row")

    for name in ("kpis_json", "basket_summary_json"):
        x, y = (json.loads(getattr(h, name).read_text()) for h in (spark_home, duck_home))
        _check(x == y, f"{name}: {x} != {y}")
    frames_equal(pd.read_csv(spark_home.distributions_csv), pd.read_csv(duck_home.distributions_csv), "distributions")
    queries = sorted(p.name for p in spark_home.queries_dir.glob("*.csv"))
    _check(queries == sorted(p.name for p in duck_home.queries_dir.glob("*.csv")), "query result files differ")
    for file in queries:
        frames_equal(pd.read_csv(spark_home.queries_dir / file), pd.read_csv(duck_home.queries_dir / file), file)
    checked.append(f"KPIs, basket summary, distributions and {len(queries)} query results")
    return checked
