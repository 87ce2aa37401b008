"""Helpers for MCP end-to-end tests: a daemon with MCP on a free port, and SDK clients."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.support.daemon import REPO, DaemonProcess


def start_with_mcp(daemon: DaemonProcess, extra_config: str = "", nofile: int | None = None) -> DaemonProcess:
    daemon.paths.config_dir.mkdir(parents=True, exist_ok=True)
    daemon.paths.config_file.write_text(f"schema_version = 1\n\n[mcp]\nport = 0\n{extra_config}")
    daemon.start(nofile=nofile)
    deadline = time.monotonic() + 20
    while daemon.client.daemon_status().mcp is None:
        if time.monotonic() > deadline:
            raise AssertionError("MCP did not come up: " + daemon.stderr())
        time.sleep(0.05)
    return daemon


def add_connection(daemon: DaemonProcess, name: str, provider: str, model: str, base_url: str, key_env: str,
                   *extra: str) -> None:
    """`synapsectl connections add` with the key taken from the daemon's environment; must succeed."""
    result = daemon.ctl("connections", "add", name, "--provider", provider, "--model", model, "--base-url", base_url,
                        "--credential", f"env:{key_env}", *extra)
    assert result.returncode == 0, result.stderr


def start_gpt_and_claude(daemon: DaemonProcess, openai_url: str, anthropic_url: str, keys: tuple[str, str],
                         models: tuple[str, str] = ("test-model", "claude-test"), extra_config: str = "") -> DaemonProcess:
    """MCP up with `gpt` (OpenAI) and `claude` (Anthropic), their keys from the daemon's environment."""
    daemon.env["GPT_KEY"], daemon.env["ANT_KEY"] = keys
    start_with_mcp(daemon, extra_config)
    add_connection(daemon, "gpt", "openai", models[0], openai_url, "GPT_KEY")
    add_connection(daemon, "claude", "anthropic", models[1], anthropic_url, "ANT_KEY")
    return daemon


def mcp_url(daemon: DaemonProcess) -> str:
    status = daemon.client.daemon_status()
    assert status.mcp is not None
    return status.mcp.url


def token(daemon: DaemonProcess) -> str:
    return daemon.paths.token_file.read_text().strip()


@asynccontextmanager
async def http_client(daemon: DaemonProcess, name: str = "test-ide", mode: str = "legacy", path: str = "",
                      bearer: str | None = None, logging_callback: Any = None,
                      list_roots_callback: Any = None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {bearer or token(daemon)}"}
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    transport = streamable_http_client(mcp_url(daemon) + path, http_client=http)
    async with Client(transport, mode=mode, client_info=types.Implementation(name=name, version="1.2.3"),
                      logging_callback=logging_callback, list_roots_callback=list_roots_callback) as client:
        yield client


@asynccontextmanager
async def stdio_client(daemon: DaemonProcess, name: str = "stdio-ide", *args: str, mode: str = "legacy",
                       logging_callback: Any = None, list_roots_callback: Any = None) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "synapsectl", "--home", str(daemon.home), "mcp", "stdio", *args],
        env={**daemon.env},
        cwd=str(REPO),
    )
    async with Client(params, mode=mode, client_info=types.Implementation(name=name, version="4.5.6"),
                      logging_callback=logging_callback, list_roots_callback=list_roots_callback) as client:
        yield client


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


def sse_messages(text: str) -> list[Any]:
    """The JSON-RPC messages of an SSE body, in order (comments and empty events skipped)."""
    messages: list[Any] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
        if data and any(data):
            messages.append(json.loads("\n".join(data)))
    return messages
