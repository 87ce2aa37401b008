"""`synapsed`: run the daemon in the foreground (the OS service manager backgrounds it)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from synapsed import __version__
from synapsed.errors import SynapseError
from synapsed.lifecycle import ALREADY_RUNNING, AlreadyRunning, raise_open_files_limit
from synapsed.paths import resolve


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="synapsed",
        description="mcp synapse daemon: holds your LLM provider connections for every MCP-capable IDE.",
    )
    parser.add_argument("--home", help="put config, state and socket under this directory (also $SYNAPSE_HOME)")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="override the config's daemon.log_level"
    )
    parser.add_argument("--foreground", action="store_true", help="accepted for clarity; synapsed always runs in the foreground")
    parser.add_argument("--version", action="version", version=f"synapsed {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.umask(0o077)  # every file and directory we create is private to the user
    raise_open_files_limit()
    from synapsed import event_loop
    from synapsed.app import Daemon

    daemon = Daemon(resolve(args.home), args.log_level)
    try:
        daemon.prepare()
        loop = event_loop.choose(daemon.config_store.config.daemon.event_loop)
    except AlreadyRunning as exc:
        hint = "stop it with `synapsectl stop`, or use another --home"
        daemon.start_failed(ALREADY_RUNNING, str(exc), hint)
        print(f"synapsed: {exc}", file=sys.stderr)
        print(f"hint: {hint}", file=sys.stderr)
        return 1
    except SynapseError as exc:
        daemon.start_failed(exc.kind, exc.message, exc.hint)
        print(f"synapsed: {exc.message}", file=sys.stderr)
        print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    try:
        with asyncio.Runner(loop_factory=loop.factory) as runner:
            runner.run(daemon.serve(loop.reason))
    except OSError as exc:
        message = f"cannot listen on {daemon.paths.socket}: {exc.strerror or exc}"
        daemon.start_failed("internal", message, "check that its directory is yours and writable: `synapsectl doctor`")
        print(f"synapsed: {message}", file=sys.stderr)
        return 1
    return daemon.exit_code


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
