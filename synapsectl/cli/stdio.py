"""`synapsectl mcp stdio`, the command IDEs launch: parsed and run without importing the rest
of the CLI (msgspec, the RPC client, every command group), so a cold IDE start waits for the
daemon, not for us. The full CLI registers the same parser (commands.py via mcp.py)."""

from __future__ import annotations

import argparse
from typing import Any

from synapsectl.cli.common import common_flags, home_of, top_parser
from synapsed.paths import resolve

GLOBAL_SWITCHES = ("--json",)
GLOBAL_VALUES = ("--home",)


def cmd_stdio(args: argparse.Namespace) -> int:
    from synapsectl import bridge

    return bridge.run(resolve(args.home), home_of(args), args.connection, autostart=not args.no_autostart)


def _stdio_flags() -> argparse.ArgumentParser:
    """The common flags less --json, which a bridge has no use for (still accepted, not shown)."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    flags.add_argument("--home", default=argparse.SUPPRESS, help="the daemon's home (also $SYNAPSE_HOME)")
    return flags


def register(mcp: Any, common: argparse.ArgumentParser) -> None:
    stdio = mcp.add_parser("stdio", parents=[_stdio_flags()],
                           help="bridge stdin/stdout to the daemon (for IDEs that launch a command)")
    stdio.add_argument("--connection", help="bind this IDE to one connection")
    stdio.add_argument("--no-autostart", action="store_true", help="fail instead of starting synapsed in the background")
    stdio.set_defaults(run=cmd_stdio, local=True)


def invoked(argv: list[str]) -> bool:
    """Whether argv is `[global flags] mcp stdio ...`, spelled out (anything else: the full CLI)."""
    i = 0
    while i < len(argv):
        if argv[i] in GLOBAL_SWITCHES or any(argv[i].startswith(f"{flag}=") for flag in GLOBAL_VALUES):
            i += 1
        elif argv[i] in GLOBAL_VALUES:
            i += 2
        else:
            break
    return argv[i:i + 2] == ["mcp", "stdio"]


def parser() -> argparse.ArgumentParser:
    """The top of the full CLI's parser with only `mcp stdio` below it."""
    top = top_parser()
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    mcp = sub.add_parser("mcp", help="connect IDEs").add_subparsers(dest="action", metavar="ACTION", required=True)
    register(mcp, common_flags())
    return top


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))
