"""The exact MCP configuration each IDE expects, for HTTP (with the token header) or stdio."""

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
    "cursor": "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
    "vscode": ".vscode/mcp.json in the workspace (or the user-level mcp.json via 'MCP: Open User Configuration')",
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


def render(client: str, *, url: str | None, token: str | None, connection: str | None, stdio: bool,
           home: str | None) -> tuple[str, str]:
    """(snippet, where it goes). Claude Desktop only launches commands, so it always gets stdio."""
    if client == "claude-desktop":
        stdio = True
    name = server_name(connection)
    command = synapsectl_path()
    args = ["mcp", "stdio"] + (["--connection", connection] if connection else [])
    env = {"SYNAPSE_HOME": home} if home else {}
    endpoint = (url or "") + (f"/c/{connection}" if connection and url else "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if not stdio and not url:
        raise ValueError("the HTTP snippet needs the daemon's URL")

    if client == "claude-code":
        if stdio:
            env_flags = "".join(f" -e {k}={shlex.quote(v)}" for k, v in env.items())
            return f"claude mcp add{env_flags} {name} -- {shlex.quote(command)} {' '.join(args)}", LOCATIONS[client]
        header = f" --header {shlex.quote('Authorization: Bearer ' + token)}" if token else ""
        return f"claude mcp add --transport http {name} {endpoint}{header}", LOCATIONS[client]
    if client == "codex":
        lines = [f"[mcp_servers.{name}]"]
        if stdio:
            lines += [f"command = {json.dumps(command)}", f"args = {json.dumps(args)}"]
            if env:
                lines.append("env = { " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items()) + " }")
        else:
            lines.append(f"url = {json.dumps(endpoint)}")
            if token:
                # Alternatively: bearer_token_env_var = "SYNAPSE_MCP_TOKEN" with the token exported.
                lines.append(f'http_headers = {{ Authorization = {json.dumps("Bearer " + token)} }}')
        return "\n".join(lines), LOCATIONS[client]

    entry: dict[str, Any]
    if stdio:
        entry = {"command": command, "args": args}
        if env:
            entry["env"] = env
        if client == "vscode":
            entry = {"type": "stdio", **entry}
    elif client == "vscode":
        entry = {"type": "http", "url": endpoint, **({"headers": headers} if headers else {})}
    elif client == "windsurf":
        entry = {"serverUrl": endpoint, **({"headers": headers} if headers else {})}
    else:
        entry = {"url": endpoint, **({"headers": headers} if headers else {})}
    root = "servers" if client == "vscode" else "mcpServers"
    return json.dumps({root: {name: entry}}, indent=2), LOCATIONS[client]
