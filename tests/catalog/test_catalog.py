"""The catalog: tables registered from the outputs' snapshot pointers, and `shopsense sql`."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import pytest

from shopsense import io
from shopsense.catalog.query import split_statements
from shopsense.catalog.tables import DATABASE, Catalog, header_column_comments
from shopsense.cli import run


def test_header_columns_become_column_comments():
    text = "segment, customers (distinct), share (of customers, 0-1), revenue (USD)"
    assert header_column_comments(text) == {
        "segment": "", "customers": "distinct", "share": "of customers, 0-1", "revenue": "USD"}


def test_statements_split_at_semicolons_outside_quotes_and_comments():
    text = "SELECT ';' AS a; -- a comment; still a comment\nSELECT 2;\n-- only a comment\n"
    assert split_statements(text) == ["SELECT ';' AS a", "-- a comment; still a comment\nSELECT 2"]


def test_sync_registers_switches_and_drops_tables(spark, config, processed_df):
    catalog = Catalog(spark, config)
    assert catalog.sync() == [] and spark.sql(f"SHOW TABLES IN {DATABASE}").where("NOT isTemporary").count() == 0
    io.write_parquet(processed_df(300, seed=1), config.processed_dir)
    assert catalog.sync() == ["purchases"]
    comments = {r.col_name: r.comment for r in spark.sql(f"DESCRIBE {DATABASE}.purchases").collect()}
    assert comments["purchase_amount_usd"] == "CSV column 'Purchase Amount (USD)'; 0.01 to 100000"
    assert comments["size"] == "CSV column 'Size'; one of S, M, L, XL"
    assert catalog.sync() == []  # nothing new: nothing done
    before = spark.table(f"{DATABASE}.purchases").count()
    io.write_parquet(processed_df(120, seed=2), config.processed_dir)
    assert spark.table(f"{DATABASE}.purchases").count() == before == 300  # the previous snapshot until the sync
    assert catalog.sync() == ["purchases"]
    assert spark.table(f"{DATABASE}.purchases").count() == 120
    io.delete(spark, config.processed_dir)
    assert catalog.sync() == ["purchases"]
    assert not spark.catalog.tableExists(f"{DATABASE}.purchases")


@dataclass
class Outcome:
    exit_code: int
    output: str  # stdout, or stderr when it failed


# Tables are named with their database here: the shared test session may hold temporary views of the same
# names (`shopsense analyze` registers `purchases`), which shadow them; a `shopsense sql` process has none.
@pytest.fixture()
def sql_home(spark, config, processed_df, settings_kept, monkeypatch, capsys):
    """`shopsense sql ...` run in-process through the console-script entry point (errors -> exit 2)."""
    io.write_parquet(processed_df(200, seed=3), config.processed_dir)

    def sql(*args: str) -> Outcome:
        monkeypatch.setattr(sys, "argv", ["shopsense", "--home", str(config.home), "--master", "local[2]", "sql", *args])
        capsys.readouterr()
        with settings_kept(), pytest.raises(SystemExit) as done:
            run()
        out = capsys.readouterr()
        return Outcome(done.value.code or 0, out.out if not done.value.code else out.err)

    return config, sql


def test_sql_prints_csv_and_json_lines(spark, sql_home, processed_df):
    _, sql = sql_home
    expected = processed_df(200, seed=3).groupBy().sum("purchase_amount_usd").first()[0]
    out = sql("SELECT count(*) AS n, round(sum(purchase_amount_usd), 2) AS revenue FROM shopsense.purchases",
              "--format", "csv")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["n,revenue", f"200,{round(expected, 2)}"]
    out = sql("SELECT size, count(*) AS n FROM shopsense.purchases GROUP BY size ORDER BY size", "--format", "json")
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert sum(r["n"] for r in rows) == 200 and [r["size"] for r in rows] == sorted(r["size"] for r in rows)


def test_sql_file_runs_each_statement_as_a_table(sql_home, tmp_path):
    _, sql = sql_home
    script = tmp_path / "q.sql"
    script.write_text("SHOW TABLES;\nSELECT max(age) AS oldest FROM shopsense.purchases WHERE age < 200;\n")
    out = sql("-f", str(script))
    assert out.exit_code == 0, out.output
    assert "purchases" in out.output and "oldest" in out.output and "(1 row)" in out.output


@pytest.mark.parametrize("query, message", [
    ("SELECT * FROM nope", "TABLE_OR_VIEW_NOT_FOUND"),
    ("SELECT no_such_column FROM shopsense.purchases", "UNRESOLVED_COLUMN"),
    ("SELEC 1", "PARSE_SYNTAX_ERROR"),
])
def test_bad_sql_is_one_line_and_exit_2(sql_home, query, message):
    _, sql = sql_home
    out = sql(query)
    assert out.exit_code == 2
    assert out.output.count("\n") == 1 and out.output.startswith("error: ") and message in out.output
