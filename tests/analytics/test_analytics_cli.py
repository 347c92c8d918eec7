"""`shopsense analyze` end to end, as a user runs it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from shopsense.config import load_config
from shopsense.generate import to_processed_frame
from shopsense.schema import PROCESSED_SCHEMA

SAMPLE = Path(__file__).parents[1] / "fixtures" / "shopping_sample.csv"  # 100 real rows, one per customer id


def shopsense(*args):
    return subprocess.run([sys.executable, "-m", "shopsense", *args], capture_output=True, text=True, timeout=900)


def test_missing_processed_data_is_a_clear_error(tmp_path):
    out = shopsense("--home", str(tmp_path), "analyze")
    assert out.returncode == 2
    assert "run `shopsense ingest` first" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


@pytest.mark.slow
def test_analyze_on_the_public_sample_reports_degenerate_baskets(spark, tmp_path):
    config = load_config(home=tmp_path)
    frame = to_processed_frame(pd.read_csv(SAMPLE))
    spark.createDataFrame(frame, schema=PROCESSED_SCHEMA).write.parquet(str(config.processed_dir))

    out = shopsense("--home", str(tmp_path), "--master", "local[1]", "analyze", "--min-support", "0.02")
    assert out.returncode == 0, out.stderr
    for path in (config.kpis_json, config.plots_dir, config.queries_dir, config.report_html,
                 config.basket_summary_json, config.distributions_csv):
        assert str(path) in out.stdout and path.exists()
    assert "rows: 100" in out.stdout and "distinct customers: 100" in out.stdout
    assert out.stdout.count("is not meaningful here") == 2  # items and categories
    items = (config.queries_dir / "market_basket_items.csv").read_text().splitlines()
    assert len(items) == 1 and items[0].startswith("item_a,item_b,")  # header only: no meaningless lifts
    assert "Rules are withheld" in config.report_html.read_text()
    clv = pd.read_csv(config.queries_dir / "customer_lifetime_value.csv")
    assert len(clv) == 100 and clv["customer_id"].is_unique
