"""What `shopsense run` prints when its output is not a terminal (a log file, a pipe, CI): no Spark needed."""
from __future__ import annotations

import io

from rich.console import Console

from shopsense.run import StageResult, run_stages, summary_table


def printed(renderable, width: int = 80) -> str:
    out = io.StringIO()
    Console(file=out, width=width).print(renderable)
    return out.getvalue()


def test_a_log_gets_a_line_per_stage_and_whole_paths(config):
    deep = config.with_overrides(run_rows=200)  # pytest's tmp_path makes the CSV path ~80+ characters
    out = io.StringIO()
    run_stages(deep, only=["generate"], console=Console(file=out, width=80))
    text = out.getvalue()
    lines = text.splitlines()
    assert "generate: generate the embedded default data ..." in lines
    done = [line for line in lines if line.startswith("generate: generate the embedded default data: done in ")]
    assert len(done) == 1 and done[0].endswith(" s")
    assert f"generated CSV: {deep.default_raw_csv}" in lines  # one whole line, however long
    assert len(str(deep.default_raw_csv)) > 60 and deep.default_raw_csv.exists()
    assert "200 rows (seed 42" in text and "…" not in text


def test_long_details_wrap_in_the_summary_instead_of_being_cut():
    long_value = "x" * 150
    text = printed(summary_table({"ingest": StageResult(rows_in=1000, rows_out=990, notes=[long_value])},
                                 {"ingest": 1.25}))
    assert "…" not in text
    assert "".join(ch for ch in text if ch == "x") == long_value  # every character is there
    assert "1,000" in text and "990" in text and "1.2 s" in text
