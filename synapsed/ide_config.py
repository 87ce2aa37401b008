"""The exact MCP configuration each IDE expects, for HTTP (with the token header) or stdio.

Pure data and string building, shared by `synapsectl mcp snippet|install` and the console's IDE page."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

CLIENTS = ("claude-code", "cursor", "vscode", "windsurf", "codex", "claude-desktop", "generic")
# Where each client reads the snippet (shown with it).
LOCATIONS = {
    "claude-code": "run this command in a terminal",
    "cursor": "~/.cursor/mcp.json (a project's .cursor/mcp.json is shared: give it the --stdio form, which holds no token)",
    "vscode": "the user-level mcp.json via 'MCP: Open User Configuration' (a workspace's .vscode/mcp.json is shared: "
              "give it the --stdio form, which holds no token)",
    "windsurf": "~/.codeium/windsurf/mcp_config.json",
    "codex": "~/.codex/config.toml",
    "claude-desktop": "claude_desktop_config.json (Settings > Developer > Edit Config)",
    "generic": "any MCP client",
}


def synapsectl_path() -> str:
    candidate = Path(sys.executable).parent / "synapsectl"  # the virtualenv's own script
    return str(candidate) if candidate.exists() else "synapsectl"


def server_name(connection: str | None) -> str:
    return f"synapse-{connection}" if connection else "synapse"


def entry(client: str, *, url: str | None, token: str | None, connection: str | None, stdio: bool,
          home: str | None) -> dict[str, Any]:
    """The server entry the client's config file holds (for Codex: the [mcp_servers.<name>] table)."""
    command = synapsectl_path()
    args = ["mcp", "stdio"] + (["--connection", connection] if connection else [])
    env = {"SYNAPSE_HOME": home} if home else {}
    endpoint = (url or "") + (f"/c/{connection}" if connection and url else "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if not stdio and not url:
        raise ValueError("the HTTP snippet needs the daemon's URL")
    if stdio:
        out: dict[str, Any] = {"command": command, "args": args, **({"env": env} if env else {})}
        return {"type": "stdio", **out} if client == "vscode" else out
    if client == "codex":
        # Alternatively: bearer_token_env_var = "SYNAPSE_MCP_TOKEN" with the token exported.
        return {"url": endpoint, **({"http_headers": headers} if headers else {})}
    if client == "vscode":
        return {"type": "http", "url": endpoint, **({"headers": headers} if headers else {})}
    if client == "windsurf":
        return {"serverUrl": endpoint, **({"headers": headers} if headers else {})}
    return {"url": endpoint, **({"headers": headers} if headers else {})}


def claude_add_args(name: str, server: dict[str, Any], scope: str | None = None) -> list[str]:
    """`claude mcp add ...` for one entry, as Claude Code's docs give it: the name first, then the
    variadic `-e K=V` and `--header` options (`-e` takes several values: placed before the name it
    would swallow it, "Invalid environment variable format: NAME"), then `--` and the command."""
    scope_flags = ["-s", scope] if scope else []
    if "command" in server:
        env_flags = [f for k, v in server.get("env", {}).items() for f in ("-e", f"{k}={v}")]
        return ["claude", "mcp", "add", *scope_flags, name, *env_flags, "--", server["command"], *server["args"]]
    header_flags = [f for k, v in server.get("headers", {}).items() for f in ("--header", f"{k}: {v}")]
    return ["claude", "mcp", "add", "--transport", "http", *scope_flags, name, server["url"], *header_flags]


def codex_table(name: str, server: dict[str, Any]) -> str:
    lines = [f"[mcp_servers.{name}]"]
    for key, value in server.items():
        if isinstance(value, dict):
            lines.append(f"{key} = {{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines)


def container(client: str) -> str:
    return "servers" if client == "vscode" else "mcp_servers" if client == "codex" else "mcpServers"


def render(client: str, *, url: str | None, token: str | None, connection: str | None, stdio: bool,
           home: str | None) -> tuple[str, str]:
    """(snippet, where it goes). Claude Desktop only launches commands, so it always gets stdio."""
    if client == "claude-desktop":
        stdio = True
    name = server_name(connection)
    server = entry(client, url=url, token=token, connection=connection, stdio=stdio, home=home)
    if client == "claude-code":
        return shlex.join(claude_add_args(name, server)), LOCATIONS[client]
    if client == "codex":
        return codex_table(name, server), LOCATIONS[client]
    return json.dumps({container(client): {name: server}}, indent=2), LOCATIONS[client]
