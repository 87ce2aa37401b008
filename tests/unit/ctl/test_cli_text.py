"""synapsectl refuses arguments, stdin and IDE config files that are not UTF-8 with a clear error, not a traceback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synapsectl.cli.common import UsageError, check_arguments, utf8_text
from synapsectl.ide_install import read_text
from synapsed.errors import SynapseError
from tests.support.daemon import REPO

KEY = "sk-cli-text-Zq8Wv3Lm5Np7Rt9"


def _synapsectl(tmp_path: Path, *argv: bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    # No daemon runs under this home: the check comes before any connection is made.
    env = {**os.environ, "SYNAPSE_HOME": str(tmp_path)}
    return subprocess.run([sys.executable.encode(), b"-m", b"synapsectl", *argv], input=stdin, capture_output=True,
                          env=env, cwd=REPO, timeout=30)


@pytest.mark.parametrize(("argv", "named"), [
    ((b"test", b"gpt", b"caf\xe9"), b"argument prompt"),
    ((b"connections", b"add", b"a\xff", b"--provider", b"openai", b"--model", b"m"), b"argument name"),
    ((b"usage", b"history", b"--connection", b"\xff"), b"argument connection"),
])
def test_an_argument_that_is_not_utf8_is_a_usage_error_naming_it(tmp_path: Path, argv: tuple[bytes, ...],
                                                                 named: bytes) -> None:
    done = _synapsectl(tmp_path, *argv)
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert named + b" is not UTF-8 text" in done.stderr


def test_a_key_on_stdin_that_is_not_utf8_is_refused_without_echoing_it(tmp_path: Path) -> None:
    done = _synapsectl(tmp_path, b"key", b"set", b"gpt", b"--stdin", stdin=KEY.encode() + b"\xff\n")
    assert done.returncode == 2 and b"the key is not UTF-8 text; " in done.stderr  # no byte, no position
    assert b"0xff" not in done.stderr
    assert KEY.encode() not in done.stdout + done.stderr and KEY[:8].encode() not in done.stdout + done.stderr


def test_utf8_text_names_the_byte_python_kept_as_a_surrogate() -> None:
    with pytest.raises(UsageError, match=r"the byte 0xff at position 2"):
        utf8_text(b"ab\xff".decode("utf-8", "surrogateescape"), "the prompt")
    with pytest.raises(UsageError, match=r"a lone surrogate U\+D800"):
        utf8_text("\ud800", "the prompt")
    assert utf8_text("caf\u00e9 \U0001f600", "the prompt") == "caf\u00e9 \U0001f600"


def test_lists_of_arguments_are_checked_too() -> None:
    with pytest.raises(UsageError, match="argument option"):
        check_arguments(argparse.Namespace(option=["ok=1", "bad=\udcff"], json=False))


def test_a_prompt_on_stdin_is_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    done = _synapsectl(tmp_path, b"test", b"gpt", b"-", stdin=b"caf\xe9 latin-1\n")
    assert done.returncode == 2 and b"the prompt on stdin is not UTF-8 text (the byte 0xe9 at position 3)" in done.stderr


def test_an_ide_config_that_is_not_utf8_is_refused_naming_the_byte(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_bytes(b'{"mcpServers": {"a": "caf\xe9"}}')
    with pytest.raises(SynapseError) as bad:
        read_text(config)
    assert bad.value.kind == "config_invalid" and "not UTF-8 text (byte 0xe9 at offset 25)" in bad.value.message
    assert "save it as UTF-8" in bad.value.hint
