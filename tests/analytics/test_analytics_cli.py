"""`shopsense analyze` as a user runs it (the run itself is the session fixture `analysis`)."""
from __future__ import annotations

import subprocess
import sys


def test_missing_processed_data_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "shopsense", "--home", str(tmp_path), "analyze"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert "run `shopsense ingest` first" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_analyze_prints_kpis_and_where_everything_went(analysis, analysis_frame):
    config, stdout = analysis
    for path in (config.kpis_json, config.distributions_csv, config.plots_dir, config.queries_dir,
                 config.basket_summary_json, config.report_html):
        assert f": {path}" in stdout and path.exists(), path
    assert f"rows: {len(analysis_frame):,}" in stdout
    assert f"distinct customers: {analysis_frame['customer_id'].nunique():,}" in stdout
    assert stdout.count("market basket: ") == 2 and "not meaningful" not in stdout
