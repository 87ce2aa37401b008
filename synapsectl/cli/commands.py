"""`synapsectl`'s command tree. Thin: parse arguments, call the typed client, render.

One module per command group, each registering its own parser. Exit codes scripts can rely
on: 0 ok, 1 the daemon reported a failure, 2 usage error, 3 the daemon is not running.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import (
    EXIT_FAILED,
    EXIT_NOT_RUNNING,
    EXIT_PIPE_CLOSED,
    EXIT_USAGE,
    UsageError,
    check_arguments,
    common_flags,
    top_parser,
)
from synapsectl.client import (
    Client,
    DaemonGone,
    DaemonNotRunning,
    ProtocolError,
    RpcError,
)
from synapsed.errors import SynapseError
from synapsed.paths import resolve

# The command groups, in the order of `synapsectl --help`, and the top-level commands each
# registers (a test holds this map to what the modules register).
GROUP_NAMES = ("daemon", "connections", "keys", "preflight", "prompt", "mcp", "threads", "usage", "console", "service",
               "doctor", "docs")
COMMANDS = {"status": "daemon", "reload": "daemon", "stop": "daemon", "logs": "daemon", "connections": "connections", "conn": "connections",
            "key": "keys", "preflight": "preflight", "test": "prompt", "mcp": "mcp", "threads": "threads",
            "usage": "usage", "console": "console", "service": "service", "doctor": "doctor",
            "docs": "docs"}


def _group(name: str) -> ModuleType:
    return importlib.import_module(f"synapsectl.cli.{name}")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command tree; with `argv` naming a command, only that command's group is loaded and
    registered (building all of them cost ~30 ms of every run); --help and mistakes get them all."""
    parser = top_parser("exit codes: 0 ok, 1 failure reported by the daemon, 2 usage error, 3 daemon not running, "
                        "141 whatever read the output closed it first (e.g. `| head`; nothing is printed)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_flags()
    wanted = next((COMMANDS[a] for a in argv or () if a in COMMANDS), None)
    names = (wanted,) if wanted is not None and not {"-h", "--help"} & set((argv or [])[:1]) else GROUP_NAMES
    for name in names:
        _group(name).register(sub, common)
    return parser


def _report(kind: str, message: str, hint: str, as_json: bool, **extra: Any) -> None:
    if as_json:
        render.emit_json({"error": {"kind": kind, "message": message, "hint": hint, **extra}})
        return
    print(f"error: {message}", file=sys.stderr)
    print(f"kind: {kind}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    try:
        check_arguments(args)
        if getattr(args, "local", False):
            return int(args.run(args))
        # Upstream calls may legitimately take up to a connection's timeout (600 s at most).
        client = Client(resolve(args.home).socket, timeout=660.0 if getattr(args, "long_running", False) else 30.0)
        return int(args.run(client, args))
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"synapsectl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DaemonNotRunning as exc:
        _report("daemon_not_running", str(exc), exc.hint, as_json)
        return EXIT_NOT_RUNNING
    except DaemonGone as exc:
        _report("cancelled", str(exc), exc.hint, as_json)
        return EXIT_FAILED
    except RpcError as exc:
        extra = {k: v for k, v in exc.data.items() if k not in ("kind", "hint")}
        _report(exc.kind, exc.message, exc.hint, as_json, **extra)
        return EXIT_FAILED
    except SynapseError as exc:  # a local step (reading or writing a file) failed with a typed error
        _report(exc.kind, exc.message, exc.hint, as_json, **exc.detail)
        return EXIT_FAILED
    except ProtocolError as exc:
        _report("internal", f"talking to synapsed failed: {exc}", exc.hint, as_json)
        return EXIT_FAILED
    except BrokenPipeError:  # whoever read our output went away (`| head`); the daemon's socket has its own errors
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit does not fail again
        return EXIT_PIPE_CLOSED
    except OSError as exc:
        _report("internal", f"talking to synapsed failed: {exc}", "see `synapsectl logs`", as_json)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130

