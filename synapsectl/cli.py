"""`synapsectl`: drive the daemon. Thin: parse arguments, call the typed client, render.

Exit codes scripts can rely on: 0 ok, 1 the daemon reported a failure, 2 usage error,
3 the daemon is not running.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

import msgspec

from synapsectl import render
from synapsectl.client import Client, DaemonGone, DaemonNotRunning, ProtocolError, RpcError
from synapsed import protocol as p
from synapsed.paths import resolve

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3


class UsageError(Exception):
    pass


# ---- commands ----------------------------------------------------------------------------------


def cmd_status(client: Client, args: argparse.Namespace) -> int:
    status = client.status()
    listing = client.connections(with_keys=False)
    if args.json:
        render.emit_json({"daemon": status, "connections": listing.connections})
        return EXIT_OK
    keyring = status.keyring.backend + ("" if status.keyring.usable else "  (not usable: use env:/file: credentials)")
    print(f"synapsed {status.version}  running  pid {status.pid}  up {render.duration(status.uptime_s)}")
    render.fields(
        [
            ("config", f"{status.paths.config_file}  (revision {status.config_revision})"),
            ("socket", status.paths.socket),
            ("log", status.paths.log_file),
            ("keyring", keyring),
            ("mcp", _mcp_line(status.mcp)),
            ("connections", f"{status.connections} ({status.enabled_connections} enabled)"),
        ]
    )
    if listing.connections:
        print()
        render.table(
            ["name", "provider", "model", "enabled", "last preflight", "today", "budget"],
            [[c.name, c.provider, c.model, "yes" if c.enabled else "no", render.preflight_cell(c.last_preflight),
              render.spend_cell(c.usage), render.budget_cell(c.usage)]
             for c in listing.connections],
        )
    return EXIT_OK


def _mcp_line(mcp: p.McpView | None) -> str:
    if mcp is None:
        return "starting"
    token = "token required" if mcp.require_token else "TOKEN NOT REQUIRED (any local process may connect)"
    return f"{mcp.url}  ({token}; {mcp.active_sessions} session(s); stdio bridge: synapsectl mcp stdio)"


def cmd_reload(client: Client, args: argparse.Namespace) -> int:
    result = client.reload()
    if args.json:
        render.emit_json(result)
    else:
        state = "changed" if result.changed else "unchanged"
        print(f"config reloaded: {state}, revision {result.revision}, {result.connections} connection(s)")
    return EXIT_OK


def cmd_stop(client: Client, args: argparse.Namespace) -> int:
    result = client.shutdown()
    if args.json:
        render.emit_json(result)
    else:
        print("synapsed is stopping (in-flight requests are allowed to finish)")
    return EXIT_OK


def cmd_conn_list(client: Client, args: argparse.Namespace) -> int:
    listing = client.connections()
    if args.json:
        render.emit_json(listing)
        return EXIT_OK
    if not listing.connections:
        print("no connections yet: add one with `synapsectl connections add NAME --provider openai --model gpt-4o-mini`")
        return EXIT_OK
    render.table(
        ["name", "provider", "model", "enabled", "credential", "key", "preflight", "endpoint"],
        [
            [c.name, c.provider, c.model, "yes" if c.enabled else "no", c.credential, render.key_cell(c.key),
             render.preflight_cell(c.last_preflight), c.effective_base_url]
            for c in listing.connections
        ],
    )
    return EXIT_OK


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
        ("credential", c.credential),
        ("key", render.key_cell(c.key)),
        ("timeout", f"{c.timeout_s:g}s"),
    ]
    pairs += [(f"option {k}", v) for k, v in sorted(c.options.items())]
    pairs.append(("revision", result.revision))
    render.fields(pairs)
    if c.key is not None and not c.key.present and c.key.hint:
        print(f"hint: {c.key.hint}")


def cmd_conn_show(client: Client, args: argparse.Namespace) -> int:
    _show_connection(client.connection(args.name), args)
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
    result = client.create(spec, revision=args.if_revision)
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
    _show_connection(client.update(args.name, changes, revision=args.if_revision), args)
    return EXIT_OK


def cmd_conn_rm(client: Client, args: argparse.Namespace) -> int:
    result = client.delete(args.name, revision=args.if_revision, keep_key=args.keep_key)
    if args.json:
        render.emit_json(result)
    else:
        extra = " and its keyring entry" if result.secret_deleted else ""
        print(f"deleted connection {result.name}{extra} (revision {result.revision})")
    return EXIT_OK


def cmd_conn_toggle(enable: bool) -> Callable[[Client, argparse.Namespace], int]:
    def run(client: Client, args: argparse.Namespace) -> int:
        result = (client.enable if enable else client.disable)(args.name, revision=args.if_revision)
        if args.json:
            render.emit_json(result)
        else:
            print(f"{args.name}: {'enabled' if enable else 'disabled'} (revision {result.revision})")
        return EXIT_OK

    return run


def _read_key(args: argparse.Namespace) -> str:
    if args.stdin or not sys.stdin.isatty():
        value = sys.stdin.read()
    else:
        value = getpass.getpass(f"API key for {args.name} (input hidden): ")
    value = value.strip()
    if not value:
        raise UsageError("no key given (empty input)")
    return value


def cmd_key_set(client: Client, args: argparse.Namespace) -> int:
    status = client.set_key(args.name, _read_key(args))
    if args.json:
        render.emit_json(status)
    else:
        print(f"stored key for {status.name} in the keyring ({status.fingerprint})")
    return EXIT_OK


def cmd_key_rm(client: Client, args: argparse.Namespace) -> int:
    result = client.delete_key(args.name)
    if args.json:
        render.emit_json(result)
    else:
        print(f"{'deleted' if result.deleted else 'there was no'} keyring entry for {result.name}")
    return EXIT_OK


def cmd_key_status(client: Client, args: argparse.Namespace) -> int:
    keys = client.key_status(args.name).keys
    if args.json:
        render.emit_json(keys)
        return EXIT_OK if all(k.present or k.error_kind is None for k in keys) else EXIT_FAILED
    render.table(
        ["name", "source", "present", "fingerprint / problem"],
        [[k.name, k.source, "yes" if k.present else "no", k.fingerprint if k.present else (k.hint or k.error_kind)] for k in keys],
    )
    return EXIT_OK if all(k.present or k.error_kind is None for k in keys) else EXIT_FAILED


_MARK = {"pass": "ok", "fail": "FAIL", "skip": "skip"}


def _print_check(connection: str, check: p.PreflightCheck, width: int) -> None:
    print(f"{connection:<{width}}  {check.name:<10}  {_MARK[check.status]:<4}  {check.duration_ms:>8.1f} ms  {check.message}")
    if check.status == "fail":
        pad = " " * (width + 2)
        print(f"{pad}{'':<10}  kind: {check.kind}")
        if check.hint:
            print(f"{pad}{'':<10}  hint: {check.hint}")
    sys.stdout.flush()


def cmd_preflight(client: Client, args: argparse.Namespace) -> int:
    if (args.name is None) == (not args.all):
        raise UsageError("give a connection NAME or --all")
    params = p.PreflightParams(name=args.name, all=args.all, probe=args.probe)
    if args.json:
        result = client.preflight(params)
        render.emit_json(result)
        return EXIT_OK if result.ok else EXIT_FAILED
    width = len(args.name) if args.name else max(
        [len(c.name) for c in client.connections(with_keys=False).connections] or [4]
    )
    if args.probe:
        print("note: --probe sends one real completion per connection; the provider bills it")
    result = client.preflight(params, on_check=lambda name, check: _print_check(name, check, width))
    if not result.reports:
        print("no connections to check")
        return EXIT_OK
    failed = [r.connection for r in result.reports if not r.ok]
    print()
    if failed:
        print(f"preflight failed for {', '.join(failed)} ({len(result.reports) - len(failed)} of {len(result.reports)} ok)")
        return EXIT_FAILED
    print(f"preflight passed ({len(result.reports)} connection{'s' if len(result.reports) != 1 else ''})")
    return EXIT_OK


def cmd_test(client: Client, args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    params = p.ChatParams(
        name=args.name,
        prompt=prompt,
        system=args.system,
        max_output_tokens=args.max_tokens,
        temperature=args.temperature,
    )
    completion = client.complete(params)
    if args.json:
        render.emit_json(completion)
        return EXIT_OK
    r = completion.result
    print(r.text)
    tokens = f"{r.input_tokens if r.input_tokens is not None else '?'} in / {r.output_tokens if r.output_tokens is not None else '?'} out"
    facts = [f"model {r.model}", f"tokens {tokens}", f"{r.latency_ms:.0f} ms"]
    if r.finish_reason:
        facts.append(f"finish {r.finish_reason}")
    if r.cost_usd is not None:
        facts.append(f"cost ${r.cost_usd:.6f} (reported)")
    if r.request_id:
        facts.append(f"request {r.request_id}")
    print("-- " + " · ".join(facts), file=sys.stderr)
    return EXIT_OK


def cmd_logs(args: argparse.Namespace) -> int:
    from synapsectl import logs

    return logs.show(resolve(args.home).log_file, args.lines, args.follow, args.json)


# ---- parser ------------------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    common.add_argument("--home", default=argparse.SUPPRESS, help="the daemon's home (also $SYNAPSE_HOME)")
    return common


def _connection_fields(parser: argparse.ArgumentParser, creating: bool) -> None:
    from synapsed.providers.catalog import provider_ids

    parser.add_argument("--provider", required=creating, choices=provider_ids(), metavar="ID", help="one of: " + ", ".join(provider_ids()))
    parser.add_argument("--model", required=creating, help="the provider's model id, e.g. gpt-4o-mini")
    parser.add_argument("--base-url", dest="base_url", help="API root; defaults to the provider's own" + ("" if creating else " (\"\" clears)"))
    parser.add_argument(
        "--credential",
        default="keyring" if creating else None,
        help="where the key lives: keyring (default), env:VAR or file:PATH",
    )
    parser.add_argument("--timeout", type=float, default=60.0 if creating else None, help="request timeout in seconds")
    parser.add_argument("--option", action="append", metavar="KEY=VALUE", help="provider option, e.g. deployment=NAME (repeatable)")
    parser.add_argument("--if-revision", type=int, dest="if_revision", help="refuse the change if the config revision moved on")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="synapsectl",
        description="Control the mcp synapse daemon (synapsed).",
        epilog="exit codes: 0 ok, 1 failure reported by the daemon, 2 usage error, 3 daemon not running",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--home", help="the daemon's home (also $SYNAPSE_HOME)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser("status", parents=[common], help="is the daemon running, and with what").set_defaults(run=cmd_status)
    sub.add_parser("reload", parents=[common], help="re-read config.toml after a hand edit").set_defaults(run=cmd_reload)
    sub.add_parser("stop", parents=[common], help="stop the daemon gracefully").set_defaults(run=cmd_stop)

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
    rm = conns.add_parser("rm", aliases=["delete"], parents=[common], help="delete a connection (and its keyring entry)")
    rm.add_argument("name")
    rm.add_argument("--keep-key", action="store_true", help="leave its keyring entry in place")
    rm.add_argument("--if-revision", type=int, dest="if_revision")
    rm.set_defaults(run=cmd_conn_rm)
    for action, enable in (("enable", True), ("disable", False)):
        toggle = conns.add_parser(action, parents=[common], help=f"{action} a connection")
        toggle.add_argument("name")
        toggle.add_argument("--if-revision", type=int, dest="if_revision")
        toggle.set_defaults(run=cmd_conn_toggle(enable))

    keys = sub.add_parser("key", help="manage API keys (values are never printed)").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    key_set = keys.add_parser("set", parents=[common], help="store a key in the keyring (prompt, or stdin)")
    key_set.add_argument("name")
    key_set.add_argument("--stdin", action="store_true", help="read the key from standard input")
    key_set.set_defaults(run=cmd_key_set)
    key_rm = keys.add_parser("rm", parents=[common], help="delete a key from the keyring")
    key_rm.add_argument("name")
    key_rm.set_defaults(run=cmd_key_rm)
    key_status = keys.add_parser("status", parents=[common], help="is each key present (masked fingerprint)")
    key_status.add_argument("name", nargs="?")
    key_status.set_defaults(run=cmd_key_status)

    pre = sub.add_parser("preflight", parents=[common], help="check a connection end to end before IDEs use it")
    pre.add_argument("name", nargs="?", help="the connection to check")
    pre.add_argument("--all", action="store_true", help="check every connection, concurrently")
    pre.add_argument("--probe", action="store_true", help="also send one minimal completion (billed by the provider)")
    pre.set_defaults(run=cmd_preflight, long_running=True)

    test = sub.add_parser("test", parents=[common], help="send one prompt through a connection and print the answer")
    test.add_argument("name")
    test.add_argument("prompt", help='the prompt, or "-" to read it from stdin')
    test.add_argument("--system", help="a system prompt")
    test.add_argument("--max-tokens", type=int, dest="max_tokens", help="cap the answer's length")
    test.add_argument("--temperature", type=float)
    test.set_defaults(run=cmd_test, long_running=True)

    from synapsectl import cli_mcp, cli_service, cli_usage

    cli_mcp.add_parser(sub, common)
    cli_usage.add_parser(sub, common)
    cli_service.add_parser(sub, common)

    logs = sub.add_parser("logs", parents=[common], help="show the daemon's log (works while it is down)")
    logs.add_argument("-n", "--lines", type=int, default=50, help="how many recent lines (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(run=cmd_logs, local=True)
    return parser


def _report(kind: str, message: str, hint: str, as_json: bool, **extra: Any) -> None:
    if as_json:
        render.emit_json({"error": {"kind": kind, "message": message, "hint": hint, **extra}})
    else:
        print(f"error: {message}", file=sys.stderr)
        if hint:
            print(f"hint: {hint}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    try:
        if getattr(args, "local", False):
            return args.run(args)
        # Upstream calls may legitimately take up to a connection's timeout (600 s at most).
        client = Client(resolve(args.home).socket, timeout=660.0 if getattr(args, "long_running", False) else 30.0)
        return args.run(client, args)
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
    except (ProtocolError, OSError) as exc:
        _report("internal", f"talking to synapsed failed: {exc}", "see `synapsectl logs`", as_json)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
