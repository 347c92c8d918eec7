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


def test_a_remote_host_needs_a_login_or_allow_remote():
    import pytest

    from shopsense.app.server import access
    from shopsense.errors import ShopSenseError

    assert access("127.0.0.1", False, {}) == (None, None) and access("localhost", False, {}) == (None, None)
    with pytest.raises(ShopSenseError, match="SHOPSENSE_APP_USER and SHOPSENSE_APP_PASSWORD .* --allow-remote"):
        access("0.0.0.0", False, {})
    auth, warning = access("0.0.0.0", False, {"SHOPSENSE_APP_USER": "ana", "SHOPSENSE_APP_PASSWORD": "pw"})
    assert auth == ("ana", "pw") and warning.startswith("WARNING") and "login" in warning
    auth, warning = access("10.0.0.5", True, {})
    assert auth is None and "WITHOUT a login" in warning


def test_cli_refuses_a_remote_host_without_login_before_anything_starts():
    out = CliRunner().invoke(app, ["app", "--host", "0.0.0.0"],
                             env={"SHOPSENSE_APP_USER": "", "SHOPSENSE_APP_PASSWORD": ""})
    assert out.exit_code != 0 and "--allow-remote" in str(out.exception)
