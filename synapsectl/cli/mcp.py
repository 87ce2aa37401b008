"""`synapsectl mcp ...`: the stdio bridge, sessions, the token, and IDE configuration snippets."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from synapsectl.cli import mcp_install, render, stdio
from synapsectl.cli.common import home_of
from synapsectl.client import Client

EXIT_OK = 0


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def cmd_sessions(client: Client, args: argparse.Namespace) -> int:
    listing = client.mcp_sessions()
    sessions = listing.sessions
    if args.json:
        render.emit_json(sessions)
        return EXIT_OK
    if not sessions:
        print("no MCP sessions (IDEs connect to the URL in `synapsectl status`, or via `synapsectl mcp stdio`)")
        return EXIT_OK
    render.table(
        ["id", "client", "version", "transport", "state", "bound to", "since", "last request", "closes in", "calls",
         "errors"],
        [[s.id[:24], s.client_name, s.client_version or "-", s.transport,
          f"{s.state} ({s.in_flight} running)" if s.in_flight else s.state, s.bound_connection,
          s.connected_at[5:16].replace("T", " "), f"{_span(s.idle_s)} ago",
          _span(s.expires_in_s) if s.expires_in_s is not None else "-", s.calls, s.errors] for s in sessions],
    )
    idle = sum(1 for s in sessions if s.state == "idle")
    if idle and listing.idle_timeout_s:
        print(f"\n{idle} idle: HTTP sessions are closed after {_span(listing.idle_timeout_s)} without a request "
              "([mcp] session_idle_timeout_s); the client opens a new one on its next call.")
    return EXIT_OK


def cmd_token(client: Client, args: argparse.Namespace) -> int:
    mcp = mcp_install.daemon_mcp(client)
    if args.rotate:
        client.mcp_token_rotate()
        print("token rotated: HTTP MCP clients need the new one (see `synapsectl mcp config`)", file=sys.stderr)
    token = mcp_install.read_token(mcp.token_file)
    if args.json:
        render.emit_json({"token": token, "token_file": mcp.token_file, "rotated": args.rotate})
    else:
        print(token)
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from synapsed import ide_config

    stdio = args.stdio or args.client == "claude-desktop"
    endpoint = mcp_install.daemon_endpoint(args, stdio)
    snippet, where = ide_config.render(
        args.client, url=endpoint.url, token=endpoint.token, connection=args.connection, stdio=stdio,
        home=home_of(args), timeout_s=ide_config.tool_timeout_s(mcp_install.slowest_connection_s(args))
    )
    if args.json:
        render.emit_json({"client": args.client, "where": where, "transport": "stdio" if stdio else "http", "snippet": snippet})
        return EXIT_OK
    print(f"# {args.client}: {where}", file=sys.stderr)
    if endpoint.token:
        secret_note = ("# the command carries your MCP token: it lands in Claude Code's user config; do not paste it "
                       "into shared shells or scripts" if args.client == "claude-code"
                       else "# contains your MCP token: keep this file private (chmod 600)")
        print(secret_note, file=sys.stderr)
    print(snippet)
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from synapsed.ide_config import CLIENTS

    mcp = sub.add_parser("mcp", help="connect IDEs: stdio bridge, sessions, token, config snippets").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    stdio.register(mcp, common)

    sessions = mcp.add_parser("sessions", parents=[common], help="which IDEs are connected, with calls and errors")
    sessions.set_defaults(run=cmd_sessions)

    token = mcp.add_parser("token", parents=[common], help="print the HTTP MCP bearer token")
    token.add_argument("--rotate", action="store_true", help="replace it (HTTP clients must be updated)")
    token.set_defaults(run=cmd_token)

    config = mcp.add_parser("config", parents=[common], help="print the MCP config snippet an IDE expects")
    config.add_argument("--client", required=True, choices=CLIENTS)
    config.add_argument("--connection", help="bind the IDE to one connection")
    config.add_argument("--stdio", action="store_true", help="launch `synapsectl mcp stdio` instead of HTTP")
    config.set_defaults(run=cmd_config, local=True)

    mcp_install.register(mcp, common)
