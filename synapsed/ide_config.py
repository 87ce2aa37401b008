"""The exact MCP configuration each IDE expects, for HTTP (with the token header) or stdio.

Pure data and string building, shared by `synapsectl mcp snippet|install` and the console's IDE
page. Each client's entry follows its own documentation (DOCS names the page read for it).
"""

from __future__ import annotations

import json
import math
import re
import shlex
import sys
from pathlib import Path
from typing import Any, Literal

CLIENTS = ("claude-code", "cursor", "vscode", "windsurf", "codex", "claude-desktop", "gemini-cli", "opencode", "zed",
           "cline", "goose", "continue", "kiro", "generic")
# Where each client reads the snippet (shown with it).
LOCATIONS = {
    "claude-code": "run this command in a terminal",
    "cursor": "~/.cursor/mcp.json (a project's .cursor/mcp.json is shared: give it the --stdio form, which holds no token)",
    "vscode": "the user-level mcp.json via 'MCP: Open User Configuration' (a workspace's .vscode/mcp.json is shared: "
              "give it the --stdio form, which holds no token)",
    "windsurf": "~/.codeium/windsurf/mcp_config.json",
    "codex": "~/.codex/config.toml",
    "claude-desktop": "claude_desktop_config.json (Settings > Developer > Edit Config)",
    "gemini-cli": "~/.gemini/settings.json (a project's .gemini/settings.json is shared: give it the --stdio form)",
    "opencode": "~/.config/opencode/opencode.json (a project's opencode.json is shared: give it the --stdio form)",
    "zed": "Zed's settings.json (zed: open settings file), under context_servers",
    "cline": "cline_mcp_settings.json (Cline's MCP Servers > Configure MCP Servers)",
    "goose": "~/.config/goose/config.yaml, under extensions",
    "continue": "~/.continue/config.yaml, under mcpServers (a workspace's .continue/mcpServers/ is shared: use --stdio)",
    "kiro": "~/.kiro/settings/mcp.json (a workspace's .kiro/settings/mcp.json is shared: give it the --stdio form)",
    "generic": "any MCP client",
}
# The page each client's entry format was read from.
DOCS = {
    "claude-code": "https://docs.anthropic.com/en/docs/claude-code/mcp",
    "cursor": "https://docs.cursor.com/context/model-context-protocol",
    "vscode": "https://code.visualstudio.com/docs/copilot/chat/mcp-servers",
    "windsurf": "https://docs.windsurf.com/windsurf/cascade/mcp",
    "codex": "https://github.com/openai/codex/blob/main/docs/config.md#mcp_servers",
    "claude-desktop": "https://modelcontextprotocol.io/quickstart/user",
    "gemini-cli": "https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md",
    "opencode": "https://opencode.ai/docs/mcp-servers/",
    "zed": "https://zed.dev/docs/ai/mcp",
    "cline": "https://docs.cline.bot/mcp/configuring-mcp-servers",
    "goose": "https://block.github.io/goose/docs/guides/config-files",
    "continue": "https://docs.continue.dev/customize/deep-dives/mcp",
    "kiro": "https://kiro.dev/docs/mcp/configuration",
}
Format = Literal["json", "toml", "yaml-map", "yaml-list"]
FORMATS: dict[str, Format] = {"codex": "toml", "goose": "yaml-map", "continue": "yaml-list"}
CONTAINERS = {"vscode": "servers", "codex": "mcp_servers", "zed": "context_servers", "opencode": "mcp",
              "goose": "extensions"}
# A per-server tool-call timeout the client documents, and its unit: `mcp install` writes one that
# covers the slowest connection (see tool_timeout_s). Claude Code's is global (MCP_TOOL_TIMEOUT).
TOOL_TIMEOUTS: dict[str, tuple[str, Literal["s", "ms"], float]] = {
    # client: (field, unit, the client's default in seconds)
    "codex": ("tool_timeout_sec", "s", 60.0),
    "gemini-cli": ("timeout", "ms", 600.0),
    "cline": ("timeout", "s", 60.0),
    "goose": ("timeout", "s", 300.0),
}
# What a tool call adds to the upstream call it waits for (the daemon's own work, the transport).
TIMEOUT_MARGIN_S = 30.0


def file_format(client: str) -> Format:
    return FORMATS.get(client, "json")


def container(client: str) -> str:
    return CONTAINERS.get(client, "mcpServers")


def synapsectl_path() -> str:
    candidate = Path(sys.executable).parent / "synapsectl"  # the virtualenv's own script
    return str(candidate) if candidate.exists() else "synapsectl"


def server_name(connection: str | None) -> str:
    return f"synapse-{connection}" if connection else "synapse"


def tool_timeout_s(slowest_connection_s: float | None) -> float | None:
    """What a client should wait for one tool call: the slowest connection's timeout plus a margin."""
    return None if slowest_connection_s is None else slowest_connection_s + TIMEOUT_MARGIN_S


def _timeout_field(client: str, timeout_s: float | None) -> dict[str, Any]:
    spec = TOOL_TIMEOUTS.get(client)
    if spec is None or timeout_s is None:
        return {}
    field, unit, _ = spec
    return {field: math.ceil(timeout_s * 1000) if unit == "ms" else math.ceil(timeout_s)}


def entry(client: str, *, url: str | None, token: str | None, connection: str | None, stdio: bool,
          home: str | None, name: str | None = None, timeout_s: float | None = None) -> dict[str, Any]:
    """The server entry the client's config file holds (for Codex: the [mcp_servers.<name>] table;
    for Continue: one item of its mcpServers list, which carries its name)."""
    command = synapsectl_path()
    args = ["mcp", "stdio"] + (["--connection", connection] if connection else [])
    env = {"SYNAPSE_HOME": home} if home else {}
    endpoint = (url or "") + (f"/c/{connection}" if connection and url else "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if not stdio and not url:
        raise ValueError("the HTTP snippet needs the daemon's URL")
    name = name or server_name(connection)
    timeout = _timeout_field(client, timeout_s)
    if stdio:
        return {**_stdio_entry(client, name, command, args, env), **timeout}
    return {**_http_entry(client, name, endpoint, headers), **timeout}


def _stdio_entry(client: str, name: str, command: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    with_env = {"env": env} if env else {}
    if client == "vscode":
        return {"type": "stdio", "command": command, "args": args, **with_env}
    if client == "opencode":
        return {"type": "local", "command": [command, *args], **({"environment": env} if env else {}), "enabled": True}
    if client == "goose":
        return {"enabled": True, "name": name, "type": "stdio", "cmd": command, "args": args, "envs": env,
                "env_keys": []}
    if client == "continue":
        return {"name": name, "type": "stdio", "command": command, "args": args, **with_env}
    if client in ("cline", "kiro"):
        return {"command": command, "args": args, **with_env, "disabled": False}
    return {"command": command, "args": args, **with_env}


def _http_entry(client: str, name: str, endpoint: str, headers: dict[str, str]) -> dict[str, Any]:
    with_headers = {"headers": headers} if headers else {}
    if client == "codex":
        # Alternatively: bearer_token_env_var = "SYNAPSE_MCP_TOKEN" with the token exported.
        return {"url": endpoint, **({"http_headers": headers} if headers else {})}
    if client == "vscode":
        return {"type": "http", "url": endpoint, **with_headers}
    if client == "windsurf":
        return {"serverUrl": endpoint, **with_headers}
    if client == "gemini-cli":
        return {"httpUrl": endpoint, **with_headers}  # `url` would be the old SSE transport
    if client == "opencode":
        return {"type": "remote", "url": endpoint, **with_headers, "enabled": True}
    if client == "cline":
        return {"type": "streamableHttp", "url": endpoint, **with_headers, "disabled": False}
    if client == "goose":
        return {"enabled": True, "name": name, "type": "streamable_http", "uri": endpoint, "headers": headers,
                "envs": {}, "env_keys": []}
    if client == "continue":
        return {"name": name, "type": "streamable-http", "url": endpoint,
                **({"requestOptions": {"headers": headers}} if headers else {})}
    if client == "kiro":
        return {"url": endpoint, **with_headers, "disabled": False}
    return {"url": endpoint, **with_headers}


def url_of(server: dict[str, Any]) -> str:
    """The endpoint an HTTP entry points at, under whichever key its client uses."""
    for key in ("url", "serverUrl", "httpUrl", "uri"):
        if isinstance(server.get(key), str):
            return str(server[key])
    return ""


def headers_of(server: dict[str, Any]) -> dict[str, Any]:
    for value in (server.get("headers"), server.get("http_headers"),
                  (server.get("requestOptions") or {}).get("headers") if isinstance(server.get("requestOptions"),
                                                                                     dict) else None):
        if isinstance(value, dict):
            return value
    return {}


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


# Plain words YAML 1.1 (PyYAML, Goose's serde_yaml differs) reads as something other than a string.
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"})
_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def yaml_scalar(value: Any) -> str:
    """JSON's spelling, which YAML reads as the same value, except for characters outside the BMP:
    JSON writes a surrogate pair, which YAML would read as two lone surrogates; YAML's own escape
    for them is \\U plus eight hex digits."""
    def astral(pair: re.Match[str]) -> str:
        high, low = int(pair[1], 16), int(pair[2], 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"

    return _PAIR.sub(astral, json.dumps(value))


def yaml_block(value: Any, indent: int) -> list[str]:
    """`value` (a mapping) as block-style YAML lines at `indent`. Strings are written JSON-quoted,
    which YAML reads as the same string; only the shapes entries hold (str, bool, int, lists of
    strings, mappings) occur."""
    pad = " " * indent
    lines: list[str] = []
    for key, item in value.items():
        plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) and key.lower() not in _YAML_WORDS
        label = key if plain else yaml_scalar(key)
        if isinstance(item, dict) and item:
            lines.append(f"{pad}{label}:")
            lines.extend(yaml_block(item, indent + 2))
        elif isinstance(item, list) and item:
            lines.append(f"{pad}{label}:")
            lines.extend(f"{pad}  - {yaml_scalar(v)}" for v in item)
        else:
            lines.append(f"{pad}{label}: {yaml_scalar(item)}")
    return lines


def yaml_snippet(client: str, name: str, server: dict[str, Any]) -> str:
    if file_format(client) == "yaml-list":
        head, *rest = yaml_block(server, 4)
        return "\n".join([f"{container(client)}:", "  - " + head.lstrip(), *rest])
    return "\n".join([f"{container(client)}:", f"  {name}:", *yaml_block(server, 4)])


def render(client: str, *, url: str | None, token: str | None, connection: str | None, stdio: bool,
           home: str | None, timeout_s: float | None = None) -> tuple[str, str]:
    """(snippet, where it goes). Claude Desktop only launches commands, so it always gets stdio."""
    if client == "claude-desktop":
        stdio = True
    name = server_name(connection)
    server = entry(client, url=url, token=token, connection=connection, stdio=stdio, home=home, timeout_s=timeout_s)
    if client == "claude-code":
        return shlex.join(claude_add_args(name, server)), LOCATIONS[client]
    if client == "codex":
        return codex_table(name, server), LOCATIONS[client]
    if file_format(client).startswith("yaml"):
        return yaml_snippet(client, name, server), LOCATIONS[client]
    return json.dumps({container(client): {name: server}}, indent=2), LOCATIONS[client]
