"""`synapsectl mcp install|uninstall|installs`: put synapse into an IDE's config in one command,
take it out again, and see where it is (and whether its token is still the current one)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synapsectl import ide_install as ii
from synapsectl.cli import render
from synapsectl.cli.common import EXIT_FAILED, EXIT_OK, UsageError, home_of
from synapsectl.client import Client, DaemonNotRunning
from synapsed import ide_config
from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.paths import resolve

# A project's config is shared with whoever gets the project, and often committed: it gets the
# command form, which needs no token (the bridge is let in by the socket's owner and mode).
PROJECT_NOTE = ("project scope: the entry launches `synapsectl mcp stdio`, which needs no token; "
                "a project's config is shared (often committed) and must not hold your MCP token")


@dataclass(frozen=True)
class Endpoint:
    """What an entry points at: the daemon's URL and token (HTTP), or nothing (stdio)."""

    url: str | None
    token: str | None


def read_token(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def daemon_mcp(client: Client) -> p.McpView:
    """The daemon's MCP listener, or DaemonNotRunning while it is still starting."""
    mcp = client.daemon_status().mcp
    if mcp is None:
        raise DaemonNotRunning(client.socket_path, "the MCP service has not started yet")
    return mcp


def daemon_endpoint(args: argparse.Namespace, stdio: bool) -> Endpoint:
    if stdio:
        return Endpoint(None, None)
    mcp = daemon_mcp(Client(resolve(args.home).socket))
    return Endpoint(mcp.url, read_token(mcp.token_file) if mcp.require_token else None)


def _registry(args: argparse.Namespace) -> ii.Installs:
    return ii.Installs(resolve(args.home).config_dir / "installs.json")


def slowest_connection_s(args: argparse.Namespace) -> float | None:
    """The longest `timeout_s` of the enabled connections in config.toml (None when unreadable)."""
    from synapsed.config import parse

    try:
        config = parse(resolve(args.home).config_file.read_text(encoding="utf-8"))
    except (OSError, SynapseError):
        return None
    timeouts = [c.timeout_s for c in config.connections.values() if c.enabled]
    return max(timeouts) if timeouts else None


def _server(client: str, endpoint: Endpoint, connection: str | None, args: argparse.Namespace,
            name: str | None = None) -> dict[str, Any]:
    return ide_config.entry(client, url=endpoint.url, token=endpoint.token, connection=connection,
                            stdio=endpoint.url is None, home=home_of(args), name=name,
                            timeout_s=ide_config.tool_timeout_s(slowest_connection_s(args)))


def cmd_install(args: argparse.Namespace) -> int:
    if args.refresh:
        return _refresh(args)
    if args.client is None:
        raise UsageError("--client is required (or --refresh to update every installed entry)")
    stdio = args.stdio or args.client == "claude-desktop" or args.scope == "project"
    if args.scope == "project" and not args.stdio and not args.json:
        print(PROJECT_NOTE, file=sys.stderr)
    name = ii.check_name(args.name or ide_config.server_name(args.connection))
    endpoint = daemon_endpoint(args, stdio)
    server = _server(args.client, endpoint, args.connection, args, name)
    tgt = ii.target(args.client, args.scope)
    record = ii.Install(client=args.client, scope=args.scope, path=str(tgt.path or "claude mcp"), name=name,
                        transport="stdio" if stdio else "http", installed_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
                        connection=args.connection)
    if tgt.path is None:
        return _install_claude_code(args, name, server, record)
    mode_before = ii.mode_of(tgt.path)
    previous = _registry(args).find(record.key)
    outcome = _merge(tgt, name, server, force=args.force, dry_run=args.dry_run, holds_token=endpoint.token is not None)
    if outcome.written:
        record.created_file, record.created_container = outcome.created_file, outcome.created_container
        # A re-install keeps the mode the file had before the first one.
        record.mode_before = previous.mode_before if previous is not None else mode_before
        _registry(args).replace(record, keep=True)
    _report(args, "installed" if outcome.written else outcome.verdict, name, tgt.path, outcome)
    return EXIT_OK


@dataclass
class Outcome:
    verdict: str  # installed | unchanged | dry-run
    written: bool
    backup: Path | None = None
    created_file: bool = False
    created_container: bool = False
    diff: str = ""


def _merge(tgt: ii.Target, name: str, server: dict[str, Any], *, force: bool, dry_run: bool,
           holds_token: bool) -> Outcome:
    assert tgt.path is not None
    path = ii.safe_path(tgt.path, Path.home())
    before = ii.read_text(path)
    text = before or ""
    doc = ii.read_doc(tgt, text)
    servers = ii.servers_in(tgt, doc)
    existing = servers.get(name)
    if existing == server:
        return Outcome("unchanged", False)
    if existing is not None and not force:
        raise SynapseError("already_exists", f"{path} already has a different {name!r} server entry",
                           hint="--force replaces it (after a backup), or --name picks another name; nothing was changed",
                           path=str(path))
    after = ii.with_entry(tgt, text, name, server, replacing=existing is not None)
    check = ii.current_servers(tgt, after)
    if check.get(name) != server or {k: v for k, v in check.items() if k != name} != {
            k: v for k, v in servers.items() if k != name}:
        raise SynapseError("internal", f"merging into {path} would change more than the {name!r} entry",
                           hint="nothing was changed; add the snippet from `synapsectl mcp config` by hand")
    outcome = Outcome("dry-run" if dry_run else "installed", not dry_run, created_file=before is None,
                      created_container=ide_config.container(tgt.client) not in doc, diff=ii.diff(path, text, after))
    if dry_run:
        return outcome
    if before is not None:
        outcome.backup = ii.backup(path)
    ii.write_keeping_mode(path, after, holds_token)
    return outcome


def _report(args: argparse.Namespace, verdict: str, name: str, path: Path, outcome: Outcome) -> None:
    if args.json:
        render.emit_json({"verdict": verdict, "name": name, "path": str(path),
                          "backup": str(outcome.backup) if outcome.backup else None, "diff": outcome.diff})
        return
    if verdict == "dry-run":
        sys.stdout.write(outcome.diff or f"# {path}: no change\n")
        print("# dry run: nothing was written", file=sys.stderr)
        return
    if verdict == "unchanged":
        print(f"{name} is already installed in {path}; nothing changed")
        return
    print(f"{verdict} {name} in {path}" + (f" (backup: {outcome.backup})" if outcome.backup else " (new file)"))
    if verdict == "removed":
        print("restart or reload the IDE's MCP servers; put it back with "
              f"`synapsectl mcp install --client {args.client}" + (f" --name {name}`" if args.name else "`")
              + (f", or restore {outcome.backup}" if outcome.backup else ""))
        return
    print("restart or reload the IDE's MCP servers to pick it up; undo with "
          f"`synapsectl mcp uninstall --client {args.client}" + (f" --name {name}`" if args.name else "`"))


def _install_claude_code(args: argparse.Namespace, name: str, server: dict[str, Any], record: ii.Install) -> int:
    scope = "user" if args.scope == "user" else "project"
    command = ide_config.claude_add_args(name, server, scope)
    if args.dry_run or ii.claude_command() is None:
        shown = ide_config.claude_add_args(name, {**server, **({"headers": {"Authorization": "Bearer <token>"}}
                                                               if "headers" in server else {})}, scope)
        if not args.dry_run:
            print("the `claude` command is not on PATH, so nothing was installed; run this where it is:",
                  file=sys.stderr)
        print(" ".join(shown))
        return EXIT_OK if args.dry_run else EXIT_FAILED
    if args.force:
        ii.run_claude_quiet(["claude", "mcp", "remove", "-s", scope, name])
    ii.run_claude(command)
    _registry(args).replace(record, keep=True)
    print(f"installed {name} in Claude Code ({scope} scope) with `claude mcp add`")
    wait = ide_config.tool_timeout_s(slowest_connection_s(args))
    if wait is not None:
        # Claude Code's tool timeout is one environment variable for every server: ours to suggest only.
        print(f"a call may take up to {wait:.0f} s (the slowest connection's timeout plus a margin): if Claude Code "
              f"gives up sooner, start it with MCP_TOOL_TIMEOUT={int(wait * 1000)}", file=sys.stderr)
    return EXIT_OK


def cmd_uninstall(args: argparse.Namespace) -> int:
    name = ii.check_name(args.name or ide_config.server_name(args.connection))
    tgt = ii.target(args.client, args.scope)
    record = _registry(args).find((args.client, args.scope, str(tgt.path or "claude mcp"), name))
    if tgt.path is None:
        if ii.claude_command() is None:
            print(f"the `claude` command is not on PATH; run: claude mcp remove -s {args.scope} {name}", file=sys.stderr)
            return EXIT_FAILED
        ii.run_claude(["claude", "mcp", "remove", "-s", args.scope, name])
        if record is not None:
            _registry(args).replace(record, keep=False)
        print(f"removed {name} from Claude Code ({args.scope} scope)")
        return EXIT_OK
    path = ii.safe_path(tgt.path, Path.home())
    text = ii.read_text(path)
    servers = ii.current_servers(tgt, text) if text is not None else {}
    if name not in servers:
        if record is not None:
            _registry(args).replace(record, keep=False)
        raise SynapseError("not_found", f"no {name!r} server entry in {path}",
                           hint="`synapsectl mcp installs` lists what was installed where")
    if not ii.is_ours(servers[name]) and not args.force:
        raise SynapseError("conflict", f"the {name!r} entry in {path} was not written by synapsectl",
                           hint="--force removes it anyway (after a backup); nothing was changed")
    assert text is not None
    drop_container = record is not None and record.created_container and len(servers) == 1
    after = ii.without_entry(tgt, text, name, drop_container)
    remove_file = record is not None and record.created_file and (after.strip() in ("", "{}") or after == tgt.preamble)
    outcome = Outcome("dry-run" if args.dry_run else "removed", not args.dry_run,
                      diff=ii.diff(path, text, "" if remove_file else after))
    if not args.dry_run:
        outcome.backup = ii.backup(path)
        if remove_file:
            path.unlink()
        else:
            # The token is gone with the entry: the file gets back the mode it had before install
            # (unless another entry still carries a bearer token).
            still_secret = any(ii.bearer_of(s) for n, s in servers.items() if n != name and isinstance(s, dict))
            restore = record.mode_before if record is not None and not still_secret else None
            ii.write_keeping_mode(path, after, holds_token=still_secret, mode=restore)
        if record is not None:
            _registry(args).replace(record, keep=False)
    _report(args, outcome.verdict, name, path, outcome)
    return EXIT_OK


def _status(record: ii.Install, token: str | None) -> tuple[str, str]:
    """(present, token state) of one recorded install, read from the client's file."""
    if record.client == "claude-code":
        return "managed by claude", "-"
    try:
        text = ii.read_text(Path(record.path))
        server = ii.current_servers(record.target(), text).get(record.name) if text is not None else None
    except SynapseError as exc:
        return f"unreadable ({exc.kind})", "-"
    if server is None:
        return "missing", "-"
    if record.transport == "stdio":
        return "present", "n/a (stdio)"
    return "present", "current" if ii.bearer_of(server) == token else "stale: run `synapsectl mcp install --refresh`"


def _current_token(args: argparse.Namespace) -> str | None:
    try:
        return read_token(str(resolve(args.home).token_file))
    except OSError:
        return None


def cmd_installs(args: argparse.Namespace) -> int:
    registry = _registry(args).load()
    token = _current_token(args)
    rows = [(r, *_status(r, token)) for r in registry.installs]
    if args.json:
        render.emit_json([{"client": r.client, "scope": r.scope, "path": r.path, "name": r.name,
                           "transport": r.transport, "connection": r.connection, "installed_at": r.installed_at,
                           "state": state, "token": tok} for r, state, tok in rows])
        return EXIT_OK
    if not rows:
        print("nothing installed yet: `synapsectl mcp install --client cursor` (or another IDE)")
        return EXIT_OK
    render.table(["client", "scope", "name", "transport", "state", "token", "file"],
                 [[r.client, r.scope, r.name, r.transport, state, tok, r.path] for r, state, tok in rows])
    return EXIT_OK


def _refresh(args: argparse.Namespace) -> int:
    """Rewrite every recorded HTTP entry (or those of --client) with the daemon's current URL and token."""
    registry = _registry(args).load()
    chosen = [r for r in registry.installs if r.transport == "http" and args.client in (None, r.client)]
    if not chosen:
        print("no installed HTTP entries to refresh (stdio entries never hold a token)")
        return EXIT_OK
    endpoint = daemon_endpoint(args, stdio=False)
    for record in chosen:
        if record.scope == "project":  # written before project entries became stdio: do not renew the leak
            print(f"skipped {record.name} in {record.path}: a project's config should not hold the token; "
                  f"`synapsectl mcp install --client {record.client} --scope project --force"
                  + (f" --name {record.name}" if record.name != ide_config.server_name(record.connection) else "")
                  + (f" --connection {record.connection}" if record.connection else "")
                  + "` replaces it with the stdio command", file=sys.stderr)
            continue
        server = _server(record.client, endpoint, record.connection, args, record.name)
        if record.client == "claude-code":
            ii.run_claude_quiet(["claude", "mcp", "remove", "-s", record.scope, record.name])
            ii.run_claude(ide_config.claude_add_args(record.name, server, record.scope))
            print(f"refreshed {record.name} in Claude Code")
            continue
        outcome = _merge(record.target(), record.name, server, force=True, dry_run=args.dry_run, holds_token=True)
        _report(args, "refreshed" if outcome.written else outcome.verdict, record.name, Path(record.path), outcome)
    return EXIT_OK


def register(mcp: Any, common: argparse.ArgumentParser) -> None:
    install = mcp.add_parser("install", parents=[common], help="add synapse to an IDE's MCP config (undo: uninstall)")
    install.add_argument("--client", choices=ii.INSTALL_CLIENTS)
    install.add_argument("--scope", choices=["user", "project"], default="user",
                         help="user-wide (default) or this project's config (Cursor, VS Code, Claude Code, Gemini "
                              "CLI, opencode, Zed, Continue, Kiro)")
    install.add_argument("--connection", help="bind the IDE to one connection")
    install.add_argument("--stdio", action="store_true",
                         help="launch `synapsectl mcp stdio` instead of HTTP (always so for --scope project)")
    install.add_argument("--name", help="server name in the IDE (default synapse or synapse-CONNECTION)")
    install.add_argument("--dry-run", action="store_true", help="print the change as a diff; write nothing")
    install.add_argument("--force", action="store_true", help="replace a different entry of the same name (backed up)")
    install.add_argument("--refresh", action="store_true",
                         help="after `mcp token --rotate`: update every installed HTTP entry (or --client's)")
    install.set_defaults(run=cmd_install, local=True)

    uninstall = mcp.add_parser("uninstall", parents=[common], help="remove the entry `mcp install` added")
    uninstall.add_argument("--client", choices=ii.INSTALL_CLIENTS, required=True)
    uninstall.add_argument("--scope", choices=["user", "project"], default="user")
    uninstall.add_argument("--connection", help="the connection the entry was bound to")
    uninstall.add_argument("--name", help="server name, if --name was given at install")
    uninstall.add_argument("--dry-run", action="store_true", help="print the change as a diff; write nothing")
    uninstall.add_argument("--force", action="store_true", help="remove an entry synapsectl did not write")
    uninstall.set_defaults(run=cmd_uninstall, local=True)

    installs = mcp.add_parser("installs", parents=[common], help="where synapse is installed, and token freshness")
    installs.set_defaults(run=cmd_installs, local=True)
