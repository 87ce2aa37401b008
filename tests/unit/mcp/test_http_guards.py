"""The daemon's own HTTP guards, each on its own with nothing behind them: removing any one of
Host, Origin, token or size checks fails a test here, whatever the SDK's second layer does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import make_mocked_request

from synapsed.config import ConfigStore, McpSettings
from synapsed.gateway import Gateway
from synapsed.mcp.calls import ToolCalls
from synapsed.mcp.fast_path import FastPath
from synapsed.mcp.http import HttpListener, initialize_of
from synapsed.mcp.sessions import SessionRegistry
from synapsed.threads.rules import Threads
from synapsed.threads.store import ThreadStore

TOKEN = "t" * 43
PORT = 8808
GOOD = {"Host": f"127.0.0.1:{PORT}", "Authorization": f"Bearer {TOKEN}"}


async def _no_room() -> None:
    return None


@pytest.fixture
def listener(tmp_path) -> HttpListener:
    settings = McpSettings(max_body_bytes=2048)
    store = ConfigStore(tmp_path / "config.toml")
    sessions = SessionRegistry(settings)
    room: Callable[[], Awaitable[None]] = _no_room
    threads = Threads(ThreadStore(tmp_path / "threads.sqlite3"), lambda: store.config.threads)
    http = HttpListener(FastPath(ToolCalls(store, Gateway(store), threads), sessions), settings, sessions, token=lambda: TOKEN,
                        has_connection=lambda name: name == "gpt", make_room=room)
    http.port = PORT
    return http


def _status(listener: HttpListener, headers: dict[str, str], path: str = "/mcp", match: dict[str, str] | None = None) -> int | None:
    request = make_mocked_request("POST", path, headers=headers, match_info=match or {})
    refused = listener.refusal(request)
    return None if refused is None else refused.status


def test_good_request_passes_every_guard(listener: HttpListener) -> None:
    assert _status(listener, GOOD) is None


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1:9999", ""])
def test_host_guard_refuses_foreign_host(listener: HttpListener, host: str) -> None:
    assert _status(listener, {**GOOD, "Host": host}) == 403


@pytest.mark.parametrize("origin", ["https://evil.example", f"http://evil.example:{PORT}", "http://127.0.0.1:9999", "null"])
def test_origin_guard_refuses_foreign_origin(listener: HttpListener, origin: str) -> None:
    assert _status(listener, {**GOOD, "Origin": origin}) == 403


def test_origin_guard_admits_loopback_origin(listener: HttpListener) -> None:
    assert _status(listener, {**GOOD, "Origin": f"http://localhost:{PORT}"}) is None


@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_token_guard_refuses_missing_or_wrong_token(listener: HttpListener, auth: str | None) -> None:
    headers = {k: v for k, v in GOOD.items() if k != "Authorization"}
    if auth is not None:
        headers["Authorization"] = auth
    assert _status(listener, headers) == 401


def test_size_guard_refuses_declared_oversized_body(listener: HttpListener) -> None:
    assert _status(listener, {**GOOD, "Content-Length": "4096"}) == 413


def test_bound_route_to_unknown_connection_is_404(listener: HttpListener) -> None:
    assert _status(listener, GOOD, "/mcp/c/nope", {"name": "nope"}) == 404
    assert _status(listener, GOOD, "/mcp/c/gpt", {"name": "gpt"}) is None


def test_only_an_initialize_request_opens_a_session() -> None:
    init = initialize_of(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"x","version":"2"}}}')
    assert init is not None and init.params is not None and init.params.clientInfo.name == "x"
    assert initialize_of(b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}') is None
    assert initialize_of(b"[1,2]") is None and initialize_of(b"garbage") is None


async def test_a_request_needing_an_sdk_that_could_not_load_is_answered_503(listener: HttpListener,
                                                                             aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    """Nothing waits forever for the SDK: after abandon() such requests get 503 at once."""
    from aiohttp import web

    listener.abandon()
    app = web.Application()
    app.router.add_route("*", "/mcp", listener.handle)
    client = await aiohttp_client(app)
    body = {"jsonrpc": "2.0", "id": 1, "method": "resources/list"}
    response = await client.post("/mcp", json=body, headers={**GOOD, "Accept": "application/json"})
    assert response.status == 503
    assert "could not load its MCP server" in (await response.json())["error"]["message"]


async def test_a_request_waiting_for_the_sdk_when_the_daemon_stops_is_answered_503(
    listener: HttpListener, aiohttp_client  # type: ignore[no-untyped-def]
) -> None:
    from aiohttp import web

    await listener.stop()
    app = web.Application()
    app.router.add_route("*", "/mcp", listener.handle)
    client = await aiohttp_client(app)
    body = {"jsonrpc": "2.0", "id": 1, "method": "resources/list"}
    response = await client.post("/mcp", json=body, headers={**GOOD, "Accept": "application/json"})
    assert response.status == 503 and "stopping" in (await response.json())["error"]["message"]
    assert response.headers["Retry-After"]
