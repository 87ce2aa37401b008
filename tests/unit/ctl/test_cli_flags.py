"""synapsectl's global flags and its behaviour at the edges of a pipe, which need no daemon."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from synapsectl.cli import commands, stdio
from synapsectl.cli.common import EXIT_PIPE_CLOSED
from synapsed import __version__

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("main", [commands.main, stdio.main], ids=["full CLI", "mcp stdio entry"])
def test_version_prints_the_installed_version_and_exits_0(main: object, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])  # type: ignore[operator]
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"synapsectl {__version__}\n"


def test_a_reader_that_goes_away_ends_the_command_quietly_with_141(tmp_path: Path) -> None:
    """`synapsectl logs | head -1`: head exits, the next write meets a closed pipe."""
    log = tmp_path / "state" / "synapsed.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f'{{"event": "line {i}", "level": "info"}}\n' for i in range(5000)))
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        done = subprocess.run([sys.executable, "-m", "synapsectl", "--home", str(tmp_path), "logs", "-n", "5000"],
                              stdout=write_end, stderr=subprocess.PIPE, timeout=30, cwd=REPO)
    finally:
        os.close(write_end)
    assert done.returncode == EXIT_PIPE_CLOSED == 141
    assert done.stderr == b""


def test_the_command_map_names_every_command_each_group_registers() -> None:
    import argparse

    from synapsectl.cli import commands

    registered: dict[str, str] = {}
    for name in commands.GROUP_NAMES:
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        commands._group(name).register(sub, commands.common_flags())
        registered |= {command: name for command in sub.choices}
    assert registered == commands.COMMANDS


def test_a_command_loads_only_its_own_group_and_help_loads_them_all() -> None:
    import argparse

    from synapsectl.cli import commands

    def top_level(parser: argparse.ArgumentParser) -> set[str]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return set(sub.choices)

    assert top_level(commands.build_parser(["status"])) == {"status", "reload", "stop", "logs"}
    assert top_level(commands.build_parser(["--help"])) == set(commands.COMMANDS)
    assert top_level(commands.build_parser([])) == set(commands.COMMANDS)
