"""`synapsectl key set | rm | status`: keys go in, never come out."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_FAILED, EXIT_OK, UsageError, stdin_text, utf8_text
from synapsectl.client import Client


def _read_key(args: argparse.Namespace) -> str:
    if args.stdin or not sys.stdin.isatty():
        value = stdin_text("the key", secret=True)
    else:
        value = utf8_text(getpass.getpass(f"API key for {args.name} (input hidden): "), "the key", secret=True)
    value = value.strip()
    if not value:
        raise UsageError("no key given (empty input)")
    return value


def _check_keyring(client: Client, name: str) -> None:
    keyring = client.daemon_status().keyring
    if not keyring.usable:
        from synapsed.errors import SynapseError

        raise SynapseError("keyring_unavailable",
                           f"the daemon has no usable OS keyring ({keyring.backend}), so it cannot keep a key",
                           hint=f"point the connection at env:VAR or file:PATH (a 0600 file) instead: "
                                f"`synapsectl connections edit {name} --credential env:OPENAI_API_KEY`")


def cmd_key_set(client: Client, args: argparse.Namespace) -> int:
    # Nobody should type a key into a prompt whose keyring cannot keep it: ask the daemon first.
    # A piped key is read (and checked) first: it costs nobody any typing.
    interactive = not args.stdin and sys.stdin.isatty()
    if interactive:
        _check_keyring(client, args.name)
    key = _read_key(args)
    if not interactive:
        _check_keyring(client, args.name)
    status = client.secrets_set(args.name, key)
    render.result(status, args.json, f"stored key for {status.name} in the keyring ({status.fingerprint})")
    return EXIT_OK


def cmd_key_rm(client: Client, args: argparse.Namespace) -> int:
    result = client.secrets_delete(args.name)
    render.result(result, args.json, f"{'deleted' if result.deleted else 'there was no'} keyring entry for {result.name}")
    return EXIT_OK


def cmd_key_status(client: Client, args: argparse.Namespace) -> int:
    keys = client.secrets_status(args.name).keys
    code = EXIT_OK if all(k.present or k.error_kind is None for k in keys) else EXIT_FAILED
    if args.json:
        render.emit_json(keys)
        return code
    render.table(
        ["name", "source", "present", "fingerprint / problem"],
        [[k.name, k.source, "yes" if k.present else "no", k.fingerprint if k.present else (k.hint or k.error_kind)] for k in keys],
    )
    return code



def register(sub: Any, common: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("key", help="manage API keys (values are never printed)").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    key_set = keys.add_parser("set", parents=[common], help="store a key in the keyring (prompt, or stdin)")
    key_set.add_argument("name")
    key_set.add_argument("--stdin", action="store_true", help="read the key from standard input")
    key_set.set_defaults(run=cmd_key_set)
    key_rm = keys.add_parser("rm", aliases=["delete", "remove"], parents=[common], help="delete a key from the keyring")
    key_rm.add_argument("name")
    key_rm.set_defaults(run=cmd_key_rm)
    key_status = keys.add_parser("status", parents=[common], help="is each key present (masked fingerprint)")
    key_status.add_argument("name", nargs="?")
    key_status.set_defaults(run=cmd_key_status)
