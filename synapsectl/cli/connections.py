"""`synapsectl connections list | show | add | edit | rm | enable | disable`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import msgspec

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_OK, UsageError
from synapsectl.client import Client
from synapsed import protocol as p


def cmd_conn_list(client: Client, args: argparse.Namespace) -> int:
    listing = client.connections_list()
    if args.json:
        render.emit_json(listing)
        return EXIT_OK
    if not listing.connections:
        print("no connections yet: add one with `synapsectl connections add NAME --provider openai --model gpt-4o-mini`")
        return EXIT_OK
    render.table(
        ["name", "provider", "model", "enabled", "credential", "key", "preflight", "endpoint"],
        [
            [c.name, c.provider, c.model, "yes" if c.enabled else "no", _credential(c), render.key_cell(c.key),
             render.preflight_cell(c.last_preflight), c.effective_base_url]
            for c in listing.connections
        ],
    )
    return EXIT_OK


def _credential(c: p.ConnectionView) -> str:
    """A keyless connection (Ollama, LM Studio, vLLM) with no key stored reads as keyless, not as
    a keyring it never uses."""
    from synapsed.catalog import PROVIDERS

    info = PROVIDERS.get(c.provider)
    if info is not None and not info.needs_key and c.credential == "keyring" and (c.key is None or not c.key.present):
        return "none (keyless)"
    return c.credential


def _show_connection(result: p.ConnectionResult, args: argparse.Namespace) -> None:
    if args.json:
        render.emit_json(result)
        return
    c = result.connection
    pairs: list[tuple[str, Any]] = [
        ("name", c.name),
        ("provider", c.provider),
        ("model", c.model),
        ("enabled", "yes" if c.enabled else "no"),
        ("endpoint", c.effective_base_url + ("" if c.base_url else "  (provider default)") if c.effective_base_url else None),
        ("credential", _credential(c)),
        ("key", render.key_cell(c.key)),
        ("timeout", f"{c.timeout_s:g}s"),
    ]
    pairs += [(f"option {k}", v) for k, v in sorted(c.options.items())]
    pairs.append(("revision", result.revision))
    render.fields(pairs)
    if c.key is not None and not c.key.present and c.key.hint:
        print(f"hint: {c.key.hint}")


def cmd_conn_show(client: Client, args: argparse.Namespace) -> int:
    _show_connection(client.connections_get(args.name), args)
    return EXIT_OK


def _options(pairs: list[str] | None) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = value.strip()
    return options


def cmd_conn_add(client: Client, args: argparse.Namespace) -> int:
    spec = p.ConnectionSpec(
        name=args.name,
        provider=args.provider,
        model=args.model,
        base_url=args.base_url,
        credential=args.credential,
        timeout_s=args.timeout,
        enabled=not args.disabled,
        options=_options(args.option),
    )
    result = client.connections_create(spec, revision=args.if_revision)
    _show_connection(result, args)
    return EXIT_OK


def cmd_conn_edit(client: Client, args: argparse.Namespace) -> int:
    changes = p.ConnectionPatch()
    for attr, field in (("provider", "provider"), ("model", "model"), ("base_url", "base_url"), ("credential", "credential"), ("timeout", "timeout_s")):
        value = getattr(args, attr)
        if value is not None:
            setattr(changes, field, value)
    if args.option is not None or args.clear_options:
        changes.options = _options(args.option)
    if not any(v is not msgspec.UNSET for v in msgspec.structs.astuple(changes)):
        raise UsageError("nothing to change: pass at least one of --provider --model --base-url --credential --timeout --option")
    _show_connection(client.connections_update(args.name, changes, revision=args.if_revision), args)
    return EXIT_OK


def cmd_conn_rm(client: Client, args: argparse.Namespace) -> int:
    result = client.connections_delete(args.name, revision=args.if_revision, keep_key=args.keep_key)
    if args.json:
        render.emit_json(result)
    else:
        extra = " and its keyring entry" if result.secret_deleted else ""
        print(f"deleted connection {result.name}{extra} (revision {result.revision})")
    return EXIT_OK


def cmd_conn_toggle(enable: bool) -> Callable[[Client, argparse.Namespace], int]:
    def run(client: Client, args: argparse.Namespace) -> int:
        result = (client.connections_enable if enable else client.connections_disable)(args.name, revision=args.if_revision)
        render.result(result, args.json, f"{args.name}: {'enabled' if enable else 'disabled'} (revision {result.revision})")
        return EXIT_OK

    return run


def _connection_fields(parser: argparse.ArgumentParser, creating: bool) -> None:
    from synapsed.catalog import provider_ids

    parser.add_argument("--provider", required=creating, choices=provider_ids(), metavar="ID", help="one of: " + ", ".join(provider_ids()))
    parser.add_argument("--model", required=creating, help="the provider's model id, e.g. gpt-4o-mini")
    parser.add_argument("--base-url", dest="base_url", help="API root; defaults to the provider's own" + ("" if creating else " (\"\" clears)"))
    parser.add_argument(
        "--credential",
        default="keyring" if creating else None,
        help="where the key lives: keyring (default), env:VAR or file:PATH; aws (Bedrock: the AWS credential chain),"
             " adc (Vertex AI: Application Default Credentials)",
    )
    parser.add_argument("--timeout", type=float, default=60.0 if creating else None, help="request timeout in seconds")
    parser.add_argument("--option", action="append", metavar="KEY=VALUE", help="provider option, e.g. deployment=NAME (repeatable)")
    parser.add_argument("--if-revision", type=int, dest="if_revision", help="refuse the change if the config revision moved on")



def register(sub: Any, common: argparse.ArgumentParser) -> None:
    conns = sub.add_parser("connections", aliases=["conn"], help="manage connections").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    conns.add_parser("list", aliases=["ls"], parents=[common], help="list connections").set_defaults(run=cmd_conn_list)
    show = conns.add_parser("show", parents=[common], help="show one connection")
    show.add_argument("name")
    show.set_defaults(run=cmd_conn_show)
    add = conns.add_parser("add", parents=[common], help="add a connection")
    add.add_argument("name")
    _connection_fields(add, creating=True)
    add.add_argument("--disabled", action="store_true", help="create it disabled")
    add.set_defaults(run=cmd_conn_add)
    edit = conns.add_parser("edit", parents=[common], help="change fields of a connection")
    edit.add_argument("name")
    _connection_fields(edit, creating=False)
    edit.add_argument("--clear-options", action="store_true", help="remove all provider options")
    edit.set_defaults(run=cmd_conn_edit)
    rm = conns.add_parser("rm", aliases=["delete", "remove"], parents=[common], help="delete a connection (and its keyring entry)")
    rm.add_argument("name")
    rm.add_argument("--keep-key", action="store_true", help="leave its keyring entry in place")
    rm.add_argument("--if-revision", type=int, dest="if_revision")
    rm.set_defaults(run=cmd_conn_rm)
    for action, enable in (("enable", True), ("disable", False)):
        toggle = conns.add_parser(action, parents=[common], help=f"{action} a connection")
        toggle.add_argument("name")
        toggle.add_argument("--if-revision", type=int, dest="if_revision")
        toggle.set_defaults(run=cmd_conn_toggle(enable))
