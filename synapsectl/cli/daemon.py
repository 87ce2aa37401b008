"""`synapsectl status | reload | stop | logs`."""

from __future__ import annotations

import argparse
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_OK, MAX_LOG_LINES, int_in
from synapsectl.client import Client
from synapsed import __version__
from synapsed import protocol as p
from synapsed.paths import resolve


def cmd_status(client: Client, args: argparse.Namespace) -> int:
    status = client.daemon_status()
    listing = client.connections_list(with_keys=False)
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
            ("event loop", status.event_loop),
            ("mcp", _mcp_line(status.mcp)),
            ("connections", f"{status.connections} ({status.enabled_connections} enabled)"),
            *([("restart", "needed to apply " + ", ".join(status.restart_needed))] if status.restart_needed else []),
            *([("version", f"this synapsectl is {__version__}: restart synapsed after an upgrade so both match")]
              if status.version != __version__ else []),
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
    sessions = f"{mcp.active_sessions}/{mcp.max_sessions} session(s)"
    if mcp.evicted_sessions or mcp.refused_sessions:
        sessions += f", {mcp.evicted_sessions} evicted, {mcp.refused_sessions} refused at the cap"
    fast = "fast path off" if mcp.fast_path_answers is None else f"fast path: {mcp.fast_path_answers} answered"
    return f"{mcp.url}  ({token}; {sessions}; {fast}; stdio bridge: synapsectl mcp stdio)"


def cmd_reload(client: Client, args: argparse.Namespace) -> int:
    result = client.daemon_reload()
    if args.json:
        render.emit_json(result)
    else:
        state = "changed" if result.changed else "unchanged"
        print(f"config reloaded: {state}, revision {result.revision}, {result.connections} connection(s)")
        if result.restart_needed:
            print(f"read only at start, so not yet in force: {', '.join(result.restart_needed)}")
            print("hint: restart synapsed to apply them: `systemctl --user restart synapsed` or "
                  "`launchctl kickstart -k gui/$UID/com.mcp-synapse.synapsed` for the login service, "
                  "else `synapsectl stop` and start it again")
    return EXIT_OK


def cmd_stop(client: Client, args: argparse.Namespace) -> int:
    result = client.daemon_shutdown()
    render.result(result, args.json, "synapsed is stopping (in-flight requests are allowed to finish)")
    return EXIT_OK


def cmd_logs(args: argparse.Namespace) -> int:
    from synapsectl import logs

    return logs.show(resolve(args.home).log_file, args.lines, args.follow, args.json)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    sub.add_parser("status", parents=[common], help="is the daemon running, and with what").set_defaults(run=cmd_status)
    sub.add_parser("reload", parents=[common], help="re-read config.toml after a hand edit").set_defaults(run=cmd_reload)
    sub.add_parser("stop", parents=[common], help="stop the daemon gracefully").set_defaults(run=cmd_stop)
    logs = sub.add_parser("logs", parents=[common], help="show the daemon's log (works while it is down)")
    logs.add_argument("-n", "--lines", type=int_in(0, MAX_LOG_LINES), default=50, help="how many recent lines (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(run=cmd_logs, local=True)
