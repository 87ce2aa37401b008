"""What every command module shares: exit codes, the usage error, the common flags."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from synapsed import __version__
from synapsed.paths import HOME_ENV

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, as a shell reports a tool that SIGPIPE ended
MAX_LOG_LINES = 1_000_000  # `logs -n`: far past any log file the daemon rotates to


class UsageError(Exception):
    """Bad arguments that the parser could not catch; exit code 2."""


def utf8_text(value: str, what: str, secret: bool = False) -> str:
    """`value`, or a UsageError naming `what` when it is not UTF-8 text (and the byte, where,
    unless `value` is a secret). Python hands bytes that are not UTF-8 (in argv, and on stdin
    outside a UTF-8 locale) over as lone surrogates, which nothing downstream can encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        found = f"the byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"a lone surrogate U+{code:04X}"
        raise _not_utf8(what, None if secret else f"{found} at position {exc.start}") from None
    return value


def stdin_text(what: str, secret: bool = False) -> str:
    """All of stdin as UTF-8 text, whatever the locale says (outside a UTF-8 locale Python
    would decode it otherwise, or fail), or a UsageError as utf8_text gives."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(what, None if secret else f"the byte 0x{data[exc.start]:02x} at position {exc.start}") from None


def _not_utf8(what: str, where: str | None) -> UsageError:
    return UsageError(f"{what} is not UTF-8 text{f' ({where})' if where else ''}; "
                      "check the terminal's or the file's encoding")


def check_arguments(args: argparse.Namespace) -> None:
    """Every parsed argument is UTF-8 text (see utf8_text), or a UsageError naming the first not."""
    for dest, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                utf8_text(item, f"argument {dest.replace('_', '-')}")


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for the flags synapsectl itself uses (line counts, chart sizes): a whole
    number from `low` to `high`, else the parser's usage error saying so (exit 2)."""
    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return integer


def top_parser(epilog: str | None = None) -> argparse.ArgumentParser:
    """`synapsectl` itself with its global flags; the command groups go below it."""
    parser = argparse.ArgumentParser(prog="synapsectl", description="Control the mcp synapse daemon (synapsed).",
                                     epilog=epilog)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--home", help="the daemon's home (also $SYNAPSE_HOME)")
    parser.add_argument("--version", action="version", version=f"synapsectl {__version__}")
    return parser


def common_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    common.add_argument("--home", default=argparse.SUPPRESS, help="the daemon's home (also $SYNAPSE_HOME)")
    return common


def home_of(args: argparse.Namespace) -> str | None:
    """The explicit home (flag or environment) to hand to a daemon or bridge we start."""
    return args.home or os.environ.get(HOME_ENV) or None


def confirmed(question: str, yes: bool) -> bool:
    """--yes, or a "y" typed at a terminal; without a terminal a destructive command needs --yes."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {question[0].lower()}{question[1:]} without --yes (no terminal to confirm on)")
    if input(f"{question}? [y/N] ").strip().lower() in ("y", "yes"):
        return True
    print("nothing deleted")
    return False
