"""`shopsense app` options: loopback by default, a chosen host/port, no share option."""
from __future__ import annotations

from typer.testing import CliRunner

from shopsense.cli import app


def test_app_command_defaults_to_loopback_and_has_no_share_option():
    out = CliRunner().invoke(app, ["app", "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    assert "127.0.0.1" in out.output and "7860" in out.output and "--concurrency" in out.output
    assert "share" not in out.output.lower().replace("no public share link", "")


def test_bad_port_is_refused_before_anything_starts():
    out = CliRunner().invoke(app, ["app", "--port", "70000"])
    assert out.exit_code == 2 and "--port" in out.output and "Traceback" not in out.output
