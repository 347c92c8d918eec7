"""The DuckDB side of the benchmark: the same work as `shopsense ingest` + `shopsense analyze`, on DuckDB.

Same input CSV, same rules, same outputs (clean + quarantine Parquet, correlation CSV/JSON/PNG, summary JSON,
KPIs, distributions, the SQL suite as CSV, basket summary, plots, report.html). Everything that is not engine
work (the reduction rule, JSON/CSV/PNG writers, plots, the HTML page, the basket verdict) is ShopSense's own
Python code, called the same way, so that only the engine differs. The validation rules are generated from
`shopsense.schema` and `shopsense.ingest.validate.RULES` exactly like the Spark expressions are, and the
analytical suite runs the SAME `.sql` files (they are portable Spark SQL / DuckDB SQL).
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
from pyspark.sql.types import BooleanType, DoubleType, IntegerType, IntegralType, LongType

from shopsense import schema
from shopsense.analytics import eda
from shopsense.analytics.basket import basket_verdict
from shopsense.analytics.plots import write_plots
from shopsense.analytics.queries import QUERIES, VIEW, QueryResult, parse_header, render_sql, save_csv
from shopsense.analytics.report import render_report, write_report
from shopsense.config import Config
from shopsense.ingest import correlation
from shopsense.ingest.correlation import FEATURES, METHODS, Correlations
from shopsense.ingest.validate import RULES, Rule
from shopsense.io import write_json

_TYPES = {c.name: c.dtype for c in schema.COLUMNS}
_SQL_TYPES = {LongType: "BIGINT", IntegerType: "INTEGER", DoubleType: "DOUBLE", BooleanType: "BOOLEAN"}
COLS = schema.PROCESSED_COLUMNS


def connect(threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    return con


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- the validation rules of shopsense.ingest.validate, as DuckDB SQL ---------------------------------------
def _value(column: str) -> str:
    """SQL of the parsed value of `t_<column>` (the trimmed text); NULL when it does not parse."""
    text = f"t_{column}"
    if column in schema.NUMERIC_RANGES:
        if isinstance(_TYPES[column], IntegralType):
            return f"TRY_CAST({text} AS DECIMAL(38, 9))"
        number = f"TRY_CAST({text} AS DOUBLE)"
        return f"CASE WHEN isfinite({number}) THEN {number} END"
    if column in schema.VOCABULARIES:
        whens = " ".join(f"WHEN {_lit(w.lower())} THEN {_lit(w)}" for w in schema.VOCABULARIES[column])
        return f"CASE lower({text}) {whens} END"
    if isinstance(_TYPES[column], BooleanType):
        trues = ", ".join(map(_lit, schema.TRUE_VALUES))
        falses = ", ".join(map(_lit, schema.FALSE_VALUES))
        return f"CASE WHEN lower({text}) IN ({trues}) THEN TRUE WHEN lower({text}) IN ({falses}) THEN FALSE END"
    return text


def _condition(rule: Rule) -> str:
    if rule.kind == "malformed":
        return "raw_line IS NOT NULL"
    if rule.kind == "mismatch":
        whens = " ".join(f"WHEN {_lit(i)} THEN {_lit(c)}" for i, c in schema.CATEGORY_OF_ITEM.items())
        return f"(CASE v_item_purchased {whens} END) != v_category"
    text, value = f"t_{rule.column}", f"v_{rule.column}"
    if rule.kind == "missing":
        return f"{text} IS NULL"
    if rule.kind == "non_integer":
        return f"{value} != floor({value})"
    if rule.kind == "out_of_range":
        low, high = schema.NUMERIC_RANGES[rule.column]
        return f"NOT ({value} BETWEEN {low!r} AND {high!r})"
    return f"({text} IS NOT NULL AND {value} IS NULL)"  # non_numeric, unknown, non_boolean


def _typed(column: str) -> str:
    dtype = _TYPES[column]
    sql_type = _SQL_TYPES.get(type(dtype))
    return f"CAST(v_{column} AS {sql_type})" if sql_type else f"v_{column}"


def _read_sql(path: str) -> str:
    columns = ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in COLS)
    return (f"read_csv({_lit(path)}, header = true, auto_detect = false, delim = ',', quote = '\"', "
            f"escape = '\"', columns = {{{columns}}}, store_rejects = true, filename = 'source_file')")


def ingest(con: duckdb.DuckDBPyConnection, config: Config, path: Path) -> dict:
    """CSV (explicit all-VARCHAR schema) -> rules -> dedupe -> Parquet, correlations, summary."""
    started = time.perf_counter()
    from shopsense.ingest.read import split_header

    with open(path, encoding="utf-8") as f:
        header = split_header(f.readline())
    assert header == list(schema.RAW_COLUMNS), "the benchmark inputs use the contract's column order"
    # Rows of the wrong width land in DuckDB's reject table with their raw line; like Spark, their first
    # fields are still validated (split on the separator; the generator writes no quoted fields).
    trimmed = ", ".join(f"NULLIF(trim({c}), '') AS {c}" for c in COLS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE raw_rows AS SELECT {trimmed}, NULL::VARCHAR AS raw_line, "
                f"source_file FROM {_read_sql(str(path))}")
    split = ", ".join(f"NULLIF(trim(string_split(csv_line, ',')[{i + 1}]), '') AS {c}" for i, c in enumerate(COLS))
    con.execute(f"""INSERT INTO raw_rows
        SELECT {split}, csv_line AS raw_line, s.file_path AS source_file
        FROM (SELECT DISTINCT scan_id, file_id, line, csv_line FROM reject_errors) e
        JOIN reject_scans s USING (scan_id, file_id)""")
    # Exact duplicates (all 18 values and the raw line) collapse to their first file; the rules are a
    # function of those values, so they run once per distinct row.
    keys = ", ".join([*COLS, "raw_line"])
    texts = ", ".join(f"{c} AS t_{c}" for c in COLS)
    values = ", ".join(f"{_value(c)} AS v_{c}" for c in COLS)
    codes = ", ".join(f"CASE WHEN {_condition(r)} THEN {_lit(r.code)} END" for r in RULES)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE validated AS
        WITH distinct_rows AS (
            SELECT {keys}, min(source_file) AS source_file, count(*) AS copies FROM raw_rows GROUP BY {keys}
        ), parsed AS (SELECT *, {texts} FROM distinct_rows), valued AS (SELECT *, {values} FROM parsed)
        SELECT *, list_filter([{codes}], lambda x: x IS NOT NULL) AS reasons FROM valued""")
    counts = con.execute("""SELECT sum(copies), sum(copies - 1),
                                   count(*) FILTER (WHERE len(reasons) = 0), count(*) FILTER (WHERE len(reasons) > 0)
                            FROM validated""").fetchone()
    rows_read, rows_duplicate, rows_clean, rows_quarantined = (int(n or 0) for n in counts)
    reason_rows = dict(con.execute(
        "SELECT r, count(*) FROM (SELECT unnest(reasons) AS r FROM validated) GROUP BY r").fetchall())

    processed, quarantine = Path(config.processed_dir), Path(config.quarantine_rows_dir)  # local homes only
    for folder in (processed, quarantine):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
    clean = ", ".join(f"{_typed(c)} AS {c}" for c in COLS)
    con.execute(f"COPY (SELECT {clean} FROM validated WHERE len(reasons) = 0) "
                f"TO '{processed / 'part-0.parquet'}' (FORMAT parquet, COMPRESSION zstd)")
    con.execute(f"COPY (SELECT source_file, {', '.join(COLS)}, raw_line, reasons FROM validated "
                f"WHERE len(reasons) > 0) TO '{quarantine / 'part-0.parquet'}' "
                "(FORMAT parquet, COMPRESSION zstd)")
    corr = correlations(con, f"read_parquet('{config.processed_dir}/*.parquet')", config.correlation_threshold)
    correlation.write_csv(corr, config.correlation_csv)
    write_json(corr.to_dict(), config.correlation_json)
    correlation.write_heatmap(corr, config.correlation_png)
    summary = {
        "input": str(path), "rows_read": rows_read, "rows_clean": rows_clean,
        "rows_quarantined": rows_quarantined, "rows_duplicate": rows_duplicate,
        "reasons": {r.code: reason_rows[r.code] for r in RULES if r.code in reason_rows},
        "correlation": corr.to_dict(), "seconds": round(time.perf_counter() - started, 2),
    }
    write_json(summary, config.ingest_summary)
    con.execute("DROP TABLE raw_rows; DROP TABLE validated")
    return summary


def correlations(con, source: str, threshold: float) -> Correlations:
    """Pearson and Spearman (average ranks for ties) matrices, like shopsense.ingest.correlation."""
    n = len(FEATURES)
    ranks = ", ".join(f"rank() OVER (ORDER BY {f}) + (count(*) OVER (PARTITION BY {f}) - 1) / 2.0 AS r_{f}"
                      for f in FEATURES)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    aggs = ", ".join(["count(*)"] + [f"min({f}) = max({f})" for f in FEATURES]
                     + [f"corr({FEATURES[i]}, {FEATURES[j]})" for i, j in pairs]
                     + [f"corr(r_{FEATURES[i]}, r_{FEATURES[j]})" for i, j in pairs])
    row = con.execute(f"SELECT {aggs} FROM (SELECT *, {ranks} FROM {source})").fetchone()
    rows = int(row[0])
    constant = tuple(f for f, is_constant in zip(FEATURES, row[1:1 + n]) if is_constant)
    matrices = {}
    for m, method in enumerate(METHODS):
        matrix = np.full((n, n), np.nan)
        if rows >= 2:
            for k, (i, j) in enumerate(pairs):
                value = row[1 + n + m * len(pairs) + k]
                matrix[i, j] = matrix[j, i] = np.nan if value is None else value
            for i, f in enumerate(FEATURES):
                matrix[i, i] = np.nan if f in constant else 1.0
        matrices[method] = matrix
    return Correlations(FEATURES, rows, constant, matrices, threshold)


# --- analytics: KPIs, profile, the SQL suite, the same outputs ----------------------------------------------
def profile_sql(view: str) -> str:
    """eda.profile_sql in DuckDB's spelling (UNNEST of a list of structs instead of LATERAL VIEW inline)."""
    structs = ", ".join(f"{{'dimension': '{name}', 'value': {expr}}}" for name, expr in eda.DIMENSIONS.items())
    return f"""
        SELECT d.dimension, d.value, COUNT(*) AS purchases, COUNT(DISTINCT customer_id) AS customers,
               ROUND(SUM(purchase_amount_usd), 2) AS revenue
        FROM (SELECT customer_id, purchase_amount_usd, UNNEST([{structs}]) AS d FROM {view})
        GROUP BY d.dimension, d.value ORDER BY d.dimension, d.value
    """


def analyze(con: duckdb.DuckDBPyConnection, config: Config) -> eda.Kpis:
    """Read the processed Parquet once into a table, then everything `shopsense analyze` produces."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {VIEW} AS "
                f"SELECT {', '.join(COLS)} FROM read_parquet('{config.processed_dir}/*.parquet')")
    totals = con.execute(eda.totals_sql(VIEW)).df().iloc[0].to_dict()
    profile = con.execute(profile_sql(VIEW)).df()[eda.PROFILE_COLUMNS]
    kpis = eda.kpis(totals, profile)
    write_json(kpis.as_json(), config.kpis_json)
    config.distributions_csv.parent.mkdir(parents=True, exist_ok=True)
    profile.to_csv(config.distributions_csv, index=False)
    plots, _ = write_plots(profile, kpis, config.plots_dir)  # the benchmark's log has every column
    baskets = {}
    for query in QUERIES:
        if "basket_column" in query.params:
            column = query.params["basket_column"]
            total, multi, avg = con.execute(f"""
                SELECT count(*), coalesce(sum((size >= 2)::BIGINT), 0), coalesce(avg(size), 0.0)
                FROM (SELECT customer_id, count(DISTINCT {column}) AS size FROM {VIEW} GROUP BY customer_id)
            """).fetchone()
            baskets[query.name] = basket_verdict(column, int(total), int(multi), float(avg), config)
    results = []
    for query in QUERIES:
        sql = render_sql(query, config)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {query.name} AS {sql}")
        frame = con.execute(f"SELECT * FROM {query.name}").df()
        result = QueryResult(query.name, sql, parse_header(sql), frame)
        if query.name in baskets and baskets[query.name].degenerate:
            result = replace(result, frame=frame.head(0))
        results.append(save_csv(result, config.queries_dir))
    write_json({name: stats.as_dict() for name, stats in baskets.items()}, config.basket_summary_json)
    page = render_report(kpis, plots, results, baskets, config.processed_dir, config.report_max_table_rows)
    write_report(page, config.report_html)
    return kpis
