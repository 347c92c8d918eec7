import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each test starts `shopsense` in a subprocess


def shopsense(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "shopsense", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def test_help_lists_the_commands():
    out = shopsense("--help")
    assert out.returncode == 0
    for command in ("generate", "ingest"):
        assert command in out.stdout


def test_generate_writes_the_default_raw_file(tmp_path):
    out = shopsense("--home", str(tmp_path), "generate", "--rows", "100", "--seed", "1")
    assert out.returncode == 0, out.stderr
    lines = (tmp_path / "data/raw/shopping_trends.csv").read_text().splitlines()
    assert len(lines) == 101


def test_bad_option_is_a_clear_error_not_a_traceback(tmp_path):
    out = shopsense("--home", str(tmp_path), "generate", "--dirty-fraction", "2")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
