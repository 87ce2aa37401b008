"""synapsectl/cli/stdio.py: the command IDEs launch takes a short way past the rest of the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from synapsectl.cli import stdio
from tests.support.daemon import REPO


@pytest.mark.parametrize("argv", [
    ["mcp", "stdio"],
    ["mcp", "stdio", "--connection", "gpt", "--no-autostart"],
    ["--home", "/tmp/h", "mcp", "stdio"],
    ["--home=/tmp/h", "--json", "mcp", "stdio", "--home", "/tmp/other"],
])
def test_a_spelled_out_mcp_stdio_takes_the_short_way(argv: list[str]) -> None:
    assert stdio.invoked(argv)


@pytest.mark.parametrize("argv", [
    [], ["mcp"], ["mcp", "sessions"], ["status"], ["--home", "mcp", "stdio"], ["stdio", "mcp"],
    ["--verbose", "mcp", "stdio"], ["connections", "add", "mcp", "stdio"],
])
def test_anything_else_goes_to_the_full_cli(argv: list[str]) -> None:
    assert not stdio.invoked(argv)


def test_the_short_way_parses_as_the_full_cli_does() -> None:
    from synapsectl.cli.commands import build_parser

    argv = ["--home", "/tmp/h", "mcp", "stdio", "--connection", "gpt", "--no-autostart"]
    short, full = stdio.parser().parse_args(argv), build_parser().parse_args(argv)
    assert (short.home, short.connection, short.no_autostart, short.run) == (
        full.home, full.connection, full.no_autostart, full.run)


def test_mcp_stdio_loads_none_of_the_other_commands(tmp_path: Path) -> None:
    """What an IDE's launch of `synapsectl mcp stdio` costs: no msgspec, RPC client or command group."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "synapsectl", "--home", str(tmp_path), "mcp", "stdio", "--no-autostart"],
        capture_output=True, text=True, cwd=REPO, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 3, result.stderr  # no daemon there: the bridge's own exit code
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "synapsectl.bridge" in imported
    assert not imported & {"msgspec", "http.client", "synapsectl.client", "synapsectl.cli.commands",
                           "synapsectl.cli.connections", "aiohttp", "mcp"}
