"""`synapsectl`: drive the daemon. The command tree lives in commands.py; `mcp stdio`, which
IDEs launch on every start, takes a short way that loads none of it (stdio.py)."""

from __future__ import annotations

import sys

from synapsectl.cli import stdio


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if stdio.invoked(args):
        return stdio.main(args)
    from synapsectl.cli.commands import main as run_command

    return run_command(args)


def run() -> None:
    sys.exit(main())
