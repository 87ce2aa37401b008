"""The HTTP fast path against the SDK: the same raw requests to a daemon with `[mcp] fast_path`
on and one with it off must get the same replies (status, media type, session header, JSON-RPC
body), modulo session ids, thread ids and measured latency. Both eras, both routes, valid and
invalid arguments, tool errors, unknown tools, and the malformed requests the fast path hands
to the SDK."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.mcp_support import add_connection, mcp_url, sse_messages, start_with_mcp, token
from tests.support.daemon import REPO, DaemonProcess, isolated_env
from tests.support.fake_upstream import FakeUpstream

KEY = "sk-proj-Fast7Qx2LmN8pVw4ZtY6bHc1DfGj3"
HANDSHAKE = "2025-06-18"
MODERN = "2026-07-28"
THREAD_ID = re.compile(r"th-[0-9a-f]{16}")
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "diff", "version": "1"},
}


def _daemon(root: Path, upstream: FakeUpstream, fast: bool) -> DaemonProcess:
    # Each daemon has its own home and keyring file; keys come from the environment.
    home = root / ("fast" if fast else "sdk")
    proc = DaemonProcess(home, {**isolated_env(root, home, root / f"keyring-{fast}.json"), "GPT_KEY": KEY})
    daemon = start_with_mcp(proc, "" if fast else "fast_path = false\n")
    add_connection(daemon, "gpt", "openai", "test-model", upstream.base_url, "GPT_KEY")
    add_connection(daemon, "dead", "openai", "test-model", "http://127.0.0.1:9/v1", "GPT_KEY")
    return daemon


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[DaemonProcess, DaemonProcess]]:
    """One daemon per path for the whole module: every case runs against both."""
    root = Path(tempfile.mkdtemp(prefix="syn-", dir="/tmp"))
    upstream = FakeUpstream("openai").start()
    upstream.echo_chat()
    started: list[DaemonProcess] = []
    try:
        for fast in (True, False):
            started.append(_daemon(root, upstream, fast))
        yield started[0], started[1]
    finally:
        for daemon in started:
            daemon.cleanup()
        upstream.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def slow_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()
    fake.echo_chat(delay=3.0)
    yield fake
    fake.stop()


@dataclass
class Endpoint:
    url: str
    token: str
    session: str = ""
    version: str = HANDSHAKE

    def headers(self, era: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        base = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream"}
        if era == "handshake":
            base.update({"mcp-session-id": self.session, "mcp-protocol-version": self.version})
        else:
            base["mcp-protocol-version"] = MODERN
        return {k: v for k, v in {**base, **(extra or {})}.items() if v is not None}


async def _open(http: aiohttp.ClientSession, daemon: DaemonProcess, version: str = HANDSHAKE) -> Endpoint:
    endpoint = Endpoint(mcp_url(daemon), token(daemon), version=version)
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "diff", "version": "1"}}}
    async with http.post(endpoint.url, json=init, headers=endpoint.headers("modern", {"mcp-protocol-version": None})) as r:
        assert r.status == 200
        endpoint.session = r.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    async with http.post(endpoint.url, json=note, headers=endpoint.headers("handshake")) as r:
        assert r.status == 202
    return endpoint


def _fast_answers(daemon: DaemonProcess) -> int:
    mcp = daemon.client.daemon_status().mcp
    assert mcp is not None and mcp.fast_path_answers is not None
    return mcp.fast_path_answers


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k != "latency_ms"}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return THREAD_ID.sub("th-X", value)
    return value


async def _send(http: aiohttp.ClientSession, endpoint: Endpoint, era: str, body: Any, path: str = "",
                headers: dict[str, str] | None = None, raw: bytes | None = None) -> dict[str, Any]:
    data = raw if raw is not None else json.dumps(body).encode()
    async with http.post(endpoint.url + path, data=data, headers=endpoint.headers(era, headers)) as r:
        text = await r.text()
        session = r.headers.get("mcp-session-id")
        seen: dict[str, Any] = {
            "status": r.status,
            "type": r.headers.get("Content-Type", "").split(";")[0],
            "session": None if session is None else session == endpoint.session,
        }
    if seen["type"] == "text/event-stream":
        events = sse_messages(text)
        seen["body"] = _scrub(events[-1])  # the response ends the stream
        seen["notifications"] = [e["method"] for e in events[:-1]]
        return seen
    try:
        seen["body"] = _scrub(json.loads(text))
    except ValueError:
        seen["body"] = text
    return seen


def _call(name: str, arguments: Any = None, request_id: Any = 1, **params: Any) -> dict[str, Any]:
    call_params: dict[str, Any] = {"name": name, **params}
    if arguments is not None:
        call_params["arguments"] = arguments
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": call_params}


def _modern(body: dict[str, Any]) -> dict[str, Any]:
    params = {**body.get("params", {}), "_meta": MODERN_META}
    return {**body, "params": params}


def _modern_headers(body: dict[str, Any]) -> dict[str, str]:
    headers = {"mcp-method": body["method"]}
    if body["method"] == "tools/call":
        headers["mcp-name"] = body["params"]["name"]
    return headers


def _nested_call(depth: int) -> dict[str, Any]:
    """An ask whose body nests `depth` containers deep (the body, params, arguments, a list...)."""
    extra: list[Any] = []
    for _ in range(depth - 4):
        extra = [extra]
    return _call("ask", {"prompt": "x", "connection": "gpt", "extra": extra})


LIST = {"jsonrpc": "2.0", "id": "list-1", "method": "tools/list"}
CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    ("tools/list", LIST, "", True),
    ("tools/list on a bound route", LIST, "/c/gpt", True),
    ("list_connections", _call("list_connections", {}), "", True),
    ("ask", _call("ask", {"prompt": "hello", "connection": "gpt"}), "", True),
    ("ask with every option", _call("ask", {"prompt": "hi", "connection": "gpt", "system": "be brief",
                                            "max_output_tokens": 50, "temperature": 0.2}, request_id=0), "", True),
    ("ask with a string id", _call("ask", {"prompt": "hi", "connection": "gpt"}, request_id="req-7"), "", True),
    ("ask on a bound route", _call("ask", {"prompt": "bound"}), "/c/gpt", True),
    ("ask naming another connection on a bound route", _call("ask", {"prompt": "x", "connection": "dead"}), "/c/gpt", True),
    ("ask without a connection and no default", _call("ask", {"prompt": "x"}), "", True),
    ("ask an unknown connection", _call("ask", {"prompt": "x", "connection": "nope"}), "", True),
    ("ask a connection whose upstream is down", _call("ask", {"prompt": "x", "connection": "dead"}), "", True),
    ("ask with an empty prompt", _call("ask", {"prompt": ""}), "", True),
    ("ask with an unknown argument", _call("ask", {"prompt": "x", "colour": "red"}), "", True),
    ("ask with a wrongly typed argument", _call("ask", {"prompt": 5}), "", True),
    ("ask with no arguments", _call("ask"), "", True),
    ("ask on a new thread", _call("ask", {"prompt": "remember", "connection": "gpt", "thread": "new"}), "", True),
    ("ask on a malformed thread id", _call("ask", {"prompt": "x", "connection": "gpt", "thread": "th-zz"}), "", True),
    ("ask on an unknown thread", _call("ask", {"prompt": "x", "connection": "gpt",
                                               "thread": "th-0123456789abcdef"}), "", True),
    ("chat", _call("chat", {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                         {"role": "user", "content": "c"}], "connection": "gpt"}), "", True),
    ("chat ending with the assistant", _call("chat", {"messages": [{"role": "assistant", "content": "b"}],
                                                      "connection": "gpt"}), "", True),
    ("compare with one failing leg", _call("compare", {"prompt": "p", "connections": ["gpt", "dead"]}), "", True),
    ("compare naming a connection twice", _call("compare", {"prompt": "p", "connections": ["gpt", "gpt"]}), "", True),
    ("compare on a bound route", _call("compare", {"prompt": "p", "connections": ["gpt", "dead"]}), "/c/gpt", True),
    ("an unknown tool", _call("summon", {}), "", True),
    ("params without a name", {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"arguments": {}}}, "", False),
    ("arguments that are not an object", _call("ask", ["hello"]), "", False),
    ("an unknown params field", _call("ask", {"prompt": "x", "connection": "gpt"}, inputResponses={}), "", True),
    ("a progress token", {**_call("ask", {"prompt": "p", "connection": "gpt"}),
                          "params": {"name": "ask", "arguments": {"prompt": "p", "connection": "gpt"},
                                     "_meta": {"progressToken": 7}}}, "", True),
    ("a boolean id", _call("ask", {"prompt": "x", "connection": "gpt"}, request_id=True), "", False),
    ("a wrong jsonrpc version", {**_call("list_connections", {}), "jsonrpc": "1.0"}, "", False),
    ("an unknown method", {"jsonrpc": "2.0", "id": 9, "method": "tools/summon", "params": {}}, "", False),
    # pydantic-core (the SDK's parser) takes 201 levels of nesting, the body itself included.
    ("nesting as deep as the SDK's parser takes", _nested_call(201), "", True),
    ("nesting one level deeper", _nested_call(202), "", False),
    ("a prompt full of brackets", _call("ask", {"prompt": "{[" * 300, "connection": "gpt"}), "", True),
    # The handshake era's parser refuses "\ud800"; the 2026-07-28 one (the stdlib's) passes it on.
    ("a lone surrogate in a prompt", _call("ask", {"prompt": "\ud800", "connection": "gpt"}), "", False),
    ("a lone surrogate in a chat message", _call("chat", {"messages": [{"role": "user", "content": "a\udfff"}],
                                                          "connection": "gpt"}), "", False),
    ("a zero id", _call("ask", {"prompt": "x", "connection": "gpt"}, request_id=0), "", True),
    ("a fractional id", _call("ask", {"prompt": "x", "connection": "gpt"}, request_id=1.5), "", False),
]


@pytest.mark.parametrize(("case", "body", "path", "taken"), CASES, ids=[c[0] for c in CASES])
async def test_handshake_era_replies_are_identical_on_both_paths(
    pair: tuple[DaemonProcess, DaemonProcess], case: str, body: dict[str, Any], path: str, taken: bool
) -> None:
    async with aiohttp.ClientSession() as http:
        fast, sdk = [await _open(http, daemon) for daemon in pair]
        before = _fast_answers(pair[0])
        on_fast = await _send(http, fast, "handshake", body, path)
        on_sdk = await _send(http, sdk, "handshake", body, path)
        if case == "a progress token":
            # Asked for progress, the fast path streams (the SDK in JSON mode cannot send it):
            # the same response ends the stream.
            assert on_fast.pop("type") == "text/event-stream" and on_fast.pop("notifications") == []
            assert on_sdk.pop("type") == "application/json"
        assert on_fast == on_sdk
    assert _fast_answers(pair[0]) - before == int(taken)  # the case really ran on the path it names
    assert pair[1].client.daemon_status().mcp.fast_path_answers is None  # type: ignore[union-attr]


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-11-25"])
async def test_sessions_of_other_handshake_versions_get_identical_replies(
    pair: tuple[DaemonProcess, DaemonProcess], version: str
) -> None:
    """Older versions' results lack fields we send (title, structuredContent): the SDK trims them."""
    async with aiohttp.ClientSession() as http:
        fast, sdk = [await _open(http, daemon, version) for daemon in pair]
        for body in (LIST, _call("ask", {"prompt": "hello", "connection": "gpt"}), _call("summon", {})):
            assert await _send(http, fast, "handshake", body) == await _send(http, sdk, "handshake", body)


@pytest.mark.parametrize(("case", "body", "path", "taken"), CASES, ids=[c[0] for c in CASES])
async def test_stateless_era_replies_are_identical_on_both_paths(
    pair: tuple[DaemonProcess, DaemonProcess], case: str, body: dict[str, Any], path: str, taken: bool
) -> None:
    modern = _modern(body) if isinstance(body.get("params", {}), dict) else body
    headers = _modern_headers(modern) if "name" in modern.get("params", {}) or modern["method"] != "tools/call" else {}
    async with aiohttp.ClientSession() as http:
        fast, sdk = (Endpoint(mcp_url(d), token(d)) for d in pair)
        before = _fast_answers(pair[0])
        assert await _send(http, fast, "modern", modern, path, headers) == await _send(http, sdk, "modern", modern, path, headers)
    assert _fast_answers(pair[0]) - before == int(taken)


def _past_recursion_limit(body: dict[str, Any], depth: int = 5000) -> bytes:
    """`body` with `depth` nested lists among its arguments: msgspec raises RecursionError there
    (past 5000 even where it only skips them, as the undelivered-answer check does)."""
    body["params"]["arguments"]["extra"] = "NEST"
    return json.dumps(body).encode().replace(b'"NEST"', b"[" * depth + b"]" * depth)


RAW_CASES: list[tuple[str, str, bytes, dict[str, Any]]] = [
    ("a batch", "handshake", json.dumps([_call("list_connections", {})]).encode(), {}),
    ("garbage", "handshake", b"{not json", {}),
    ("a text/plain Accept", "handshake", json.dumps(LIST).encode(), {"Accept": "text/plain"}),
    ("a wildcard Accept", "handshake", json.dumps(LIST).encode(), {"Accept": "*/*"}),
    ("a text/plain Content-Type", "handshake", json.dumps(LIST).encode(), {"Content-Type": "text/plain"}),
    ("a charset on the Content-Type", "handshake", json.dumps(LIST).encode(),
     {"Content-Type": "application/json; charset=utf-8"}),
    ("no protocol version header", "handshake", json.dumps(LIST).encode(), {"mcp-protocol-version": None}),
    ("an unknown session", "handshake", json.dumps(LIST).encode(), {"mcp-session-id": "0" * 32}),
    ("a modern call whose Mcp-Name disagrees", "modern",
     json.dumps(_modern(_call("ask", {"prompt": "x", "connection": "gpt"}))).encode(),
     {"mcp-method": "tools/call", "mcp-name": "chat"}),
    ("a modern call with Mcp-Param headers no tool declares", "modern",
     json.dumps(_modern(_call("ask", {"prompt": "x", "connection": "gpt"}))).encode(),
     {"mcp-method": "tools/call", "mcp-name": "ask", "Mcp-Param-Connection": "dead", "Mcp-Param-Prompt": "y"}),
    ("a modern call without _meta", "modern", json.dumps(_call("ask", {"prompt": "x", "connection": "gpt"})).encode(),
     {"mcp-method": "tools/call", "mcp-name": "ask"}),
    ("null params", "handshake", json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": None}).encode(), {}),
    ("nesting past the interpreter's limit", "handshake", _past_recursion_limit(_call("ask", {"prompt": "x"})), {}),
    ("modern nesting past the interpreter's limit", "modern",
     _past_recursion_limit(_modern(_call("ask", {"prompt": "x"}))), {"mcp-method": "tools/call", "mcp-name": "ask"}),
    ("a modern call from a client whose name holds a lone surrogate", "modern",
     json.dumps(_modern(_call("ask", {"prompt": "x", "connection": "gpt"}))).replace('"name": "diff"', '"name": "\\ud800"').encode(),
     {"mcp-method": "tools/call", "mcp-name": "ask"}),
    ("a modern call with an unknown version", "modern",
     json.dumps(_modern(_call("ask", {"prompt": "x", "connection": "gpt"}))).encode(),
     {"mcp-method": "tools/call", "mcp-name": "ask", "mcp-protocol-version": "2099-01-01"}),
]


@pytest.mark.parametrize(("case", "era", "raw", "headers"), RAW_CASES, ids=[c[0] for c in RAW_CASES])
async def test_malformed_requests_get_the_sdk_reply_on_both_paths(
    pair: tuple[DaemonProcess, DaemonProcess], case: str, era: str, raw: bytes, headers: dict[str, Any]
) -> None:
    async with aiohttp.ClientSession() as http:
        replies = []
        for endpoint in [await _open(http, daemon) for daemon in pair]:
            replies.append(await _send(http, endpoint, era, None, raw=raw, headers=headers))
        assert replies[0] == replies[1]


async def test_a_call_nested_100000_deep_gets_a_json_rpc_refusal_on_both_paths_not_a_500(
    pair: tuple[DaemonProcess, DaemonProcess],
) -> None:
    """Both daemons hand it to the SDK, whose reply is the JSON-RPC one; the check for answers
    nobody received reads the same body first and must take such nesting as malformed too."""
    raw = _past_recursion_limit(_call("ask", {"prompt": "x"}), 100_000)
    async with aiohttp.ClientSession() as http:
        replies = [await _send(http, await _open(http, daemon), "handshake", None, raw=raw) for daemon in pair]
    assert replies[0] == replies[1]
    assert replies[0]["status"] < 500 and isinstance(replies[0]["body"], dict) and "error" in replies[0]["body"]


async def test_a_client_name_with_a_lone_surrogate_is_shown_with_a_replacement_character(
    pair: tuple[DaemonProcess, DaemonProcess],
) -> None:
    """The 2026-07-28 parser passes it on; the ledger and every reply need UTF-8, so the label
    gets U+FFFD instead of the call failing."""
    raw = json.dumps(_modern(_call("ask", {"prompt": "x", "connection": "gpt"}))).replace(
        '"name": "diff"', '"name": "ide \\ud800"').encode()
    async with aiohttp.ClientSession() as http:
        for daemon in pair:  # both, so that their usage stays alike for the tests that compare it
            endpoint = Endpoint(mcp_url(daemon), token(daemon))
            reply = await _send(http, endpoint, "modern", None, raw=raw,
                                headers={"mcp-method": "tools/call", "mcp-name": "ask"})
            assert reply["status"] == 200 and reply["body"]["result"]["isError"] is False
            assert "ide \ufffd" in [s.client_name for s in daemon.client.mcp_sessions().sessions]
            rows = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
            assert "mcp:ide \ufffd" in [row["caller"] for row in rows]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "sdk"])
async def test_a_cancelled_call_is_answered_request_cancelled(
    pair: tuple[DaemonProcess, DaemonProcess], slow_upstream: FakeUpstream, fast: bool
) -> None:
    daemon = pair[0] if fast else pair[1]
    name = "slow"  # once per daemon: each parameter uses the other one
    add_connection(daemon, name, "openai", "test-model", slow_upstream.base_url, "GPT_KEY")
    async with aiohttp.ClientSession() as http:
        endpoint = await _open(http, daemon)
        call = asyncio.create_task(_send(http, endpoint, "handshake", _call("ask", {"prompt": "slow", "connection": name},
                                                                            request_id=41)))
        await asyncio.sleep(0.5)
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 41}}
        assert (await _send(http, endpoint, "handshake", cancel))["status"] == 202
        reply = await asyncio.wait_for(call, 2.0)
    assert reply["body"] == {"jsonrpc": "2.0", "id": 41, "error": {"code": -32800, "message": "Request cancelled"}}
    assert len(slow_upstream.requests) == 1  # sent once, never again


async def test_a_call_in_flight_when_its_session_is_deleted_gets_the_sdks_500_on_both_paths(
    pair: tuple[DaemonProcess, DaemonProcess], slow_upstream: FakeUpstream
) -> None:
    replies = []
    async with aiohttp.ClientSession() as http:
        for daemon in pair:
            add_connection(daemon, "slow-delete", "openai", "test-model", slow_upstream.base_url, "GPT_KEY")
            endpoint = await _open(http, daemon)
            call = asyncio.create_task(_send(http, endpoint, "handshake",
                                             _call("ask", {"prompt": "slow", "connection": "slow-delete"}, request_id=42)))
            await asyncio.sleep(0.5)
            async with http.delete(endpoint.url, headers=endpoint.headers("handshake")) as deleted:
                assert deleted.status == 200
            replies.append(await asyncio.wait_for(call, 2.0))
    assert replies[0] == replies[1]
    assert replies[0]["status"] == 500
    assert replies[0]["body"] == {"jsonrpc": "2.0", "id": None,
                                  "error": {"code": -32603, "message": "Session terminated before the request completed"}}
    assert len(slow_upstream.requests) == 2  # one per daemon, none re-sent


def _initialize(version: str = HANDSHAKE, **params: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"protocolVersion": version, "capabilities": {},
                            "clientInfo": {"name": "diff", "version": "1"}}
    return {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {**base, **params}}


INITIALIZE_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("the current version", _initialize(), True),
    ("an older version", _initialize("2024-11-05"), True),
    ("an unknown version (the newest is offered)", _initialize("2099-01-01"), True),
    ("client capabilities", _initialize(capabilities={"roots": {"listChanged": True}, "sampling": {}}), True),
    ("a client title", _initialize(clientInfo={"name": "diff", "version": "1", "title": "Diff IDE"}), True),
    ("no clientInfo", {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                       "params": {"protocolVersion": HANDSHAKE, "capabilities": {}}}, False),
    ("capabilities that are not an object", _initialize(capabilities=[]), False),
]


@pytest.mark.parametrize(("case", "body", "taken"), INITIALIZE_CASES, ids=[c[0] for c in INITIALIZE_CASES])
async def test_initialize_replies_are_identical_on_both_paths(
    pair: tuple[DaemonProcess, DaemonProcess], case: str, body: dict[str, Any], taken: bool
) -> None:
    async with aiohttp.ClientSession() as http:
        fast, sdk = (Endpoint(mcp_url(d), token(d)) for d in pair)
        before = _fast_answers(pair[0])
        headers = {"mcp-protocol-version": None}
        assert await _send(http, fast, "modern", body, headers=headers) == await _send(http, sdk, "modern", body,
                                                                                         headers=headers)
    assert _fast_answers(pair[0]) - before == int(taken)


SDK_METHODS: list[tuple[str, dict[str, Any]]] = [
    ("resources/list", {"jsonrpc": "2.0", "id": 11, "method": "resources/list"}),
    ("resources/read", {"jsonrpc": "2.0", "id": 12, "method": "resources/read",
                        "params": {"uri": "synapse://connections"}}),
    ("resources/read of an unknown uri", {"jsonrpc": "2.0", "id": 13, "method": "resources/read",
                                          "params": {"uri": "synapse://nope"}}),
    ("logging/setLevel", {"jsonrpc": "2.0", "id": 14, "method": "logging/setLevel", "params": {"level": "info"}}),
    ("prompts/list (not offered)", {"jsonrpc": "2.0", "id": 15, "method": "prompts/list"}),
    ("ping", {"jsonrpc": "2.0", "id": 16, "method": "ping"}),
]


async def test_a_session_the_fast_path_opened_serves_every_sdk_method_then_ends(
    pair: tuple[DaemonProcess, DaemonProcess],
) -> None:
    """The SDK gets a twin of a fast-path session on its first SDK-only request; the client
    never sees another session id, and DELETE ends both."""
    async with aiohttp.ClientSession() as http:
        fast, sdk = [await _open(http, daemon) for daemon in pair]
        for _, body in SDK_METHODS:
            assert await _send(http, fast, "handshake", body) == await _send(http, sdk, "handshake", body)
        sessions = json.loads(pair[0].ctl("mcp", "sessions", "--json").stdout)
        assert fast.session in [s["id"].removeprefix("http-") for s in sessions]
        assert next(s for s in sessions if s["id"] == f"http-{fast.session}")["log_level"] == "info"
        for endpoint in (fast, sdk):
            async with http.delete(endpoint.url, headers=endpoint.headers("handshake")) as r:
                assert r.status == 200 and r.headers["mcp-session-id"] == endpoint.session
        after = [await _send(http, e, "handshake", LIST) for e in (fast, sdk)]
    assert after[0] == after[1] and after[0]["status"] == 404
    assert f"http-{fast.session}" not in [s["id"] for s in json.loads(pair[0].ctl("mcp", "sessions", "--json").stdout)]


class Bridge:
    """`synapsectl mcp stdio` for one daemon, line by line."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "synapsectl", "--home", str(daemon.home), "mcp", "stdio",
                                      "--no-autostart"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=daemon.env, cwd=REPO)

    def send(self, message: Any) -> None:
        self.send_raw(json.dumps(message).encode())

    def send_raw(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def handshake(self) -> None:
        """initialize answered, then `initialized` sent."""
        self.send(_initialize())
        self.until_reply(0)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def until_reply(self, request_id: Any) -> list[Any]:
        """Every line up to and including the reply to `request_id`."""
        assert self.proc.stdout is not None
        lines = []
        while True:
            line = json.loads(self.proc.stdout.readline())
            lines.append(_scrub(line))
            if line.get("id") == request_id and "method" not in line:
                return lines

    def until_replies(self, request_ids: set[Any]) -> list[Any]:
        """Every line up to the last of the replies to `request_ids`, in any order."""
        lines: list[Any] = []
        while request_ids - {line.get("id") for line in lines if "method" not in line}:
            lines += self.until_reply(next(iter(request_ids - {line.get("id") for line in lines})))
        return lines

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


STDIO_CASES = [body for _, body, path, taken in CASES if not path and taken and "_meta" not in body.get("params", {})]


def test_stdio_bridge_lines_are_identical_on_both_paths(pair: tuple[DaemonProcess, DaemonProcess]) -> None:
    """The bridge's fast path against the SDK over stdio: every call's reply and the log
    messages it sends (a failing connection, a failed compare leg), at two log levels."""
    bridges = [Bridge(daemon) for daemon in pair]
    before = _fast_answers(pair[0])
    try:
        for bridge in bridges:
            bridge.handshake()
        for level in ("warning", "error"):
            for bridge in bridges:
                bridge.send({"jsonrpc": "2.0", "id": f"level-{level}", "method": "logging/setLevel",
                             "params": {"level": level}})
                bridge.until_reply(f"level-{level}")
            for body in STDIO_CASES:
                for bridge in bridges:
                    bridge.send(body)
                fast, sdk = (bridge.until_reply(body["id"]) for bridge in bridges)
                assert fast == sdk, body
    finally:
        for bridge in bridges:
            bridge.close()
    assert _fast_answers(pair[0]) - before == 1 + 2 * len(STDIO_CASES)  # its initialize, and each case twice


@pytest.mark.parametrize(("case", "body", "taken"), INITIALIZE_CASES, ids=[c[0] for c in INITIALIZE_CASES])
def test_stdio_initialize_replies_are_identical_on_both_paths(
    pair: tuple[DaemonProcess, DaemonProcess], case: str, body: dict[str, Any], taken: bool
) -> None:
    """Over the bridge the daemon opens the session too (the SDK's own session gets the
    initialize replayed); what follows an initialize it answered is in the next test."""
    bridges = [Bridge(daemon) for daemon in pair]
    before = _fast_answers(pair[0])
    try:
        for bridge in bridges:
            bridge.send(body)
        fast, sdk = (bridge.until_reply(0) for bridge in bridges)
    finally:
        for bridge in bridges:
            bridge.close()
    assert fast == sdk
    assert _fast_answers(pair[0]) - before == int(taken)


def test_a_session_the_bridge_opened_goes_on_in_the_sdk(pair: tuple[DaemonProcess, DaemonProcess]) -> None:
    """After an initialize the fast path answered, the SDK's own methods see an initialized
    session (the replay), and the initialize is answered before anything sent after it (a
    pipelined fast-path reply may overtake an SDK one: JSON-RPC replies go by id)."""
    bridges = [Bridge(daemon) for daemon in pair]
    try:
        for bridge in bridges:
            for message in (_initialize(), {"jsonrpc": "2.0", "method": "notifications/initialized"},
                            {"jsonrpc": "2.0", "id": 21, "method": "tools/list"}, *[m for _, m in SDK_METHODS]):
                bridge.send(message)
        expected = {0, 21, *[m["id"] for _, m in SDK_METHODS]}
        fast, sdk = (bridge.until_replies(expected) for bridge in bridges)
    finally:
        for bridge in bridges:
            bridge.close()
    assert {line["id"]: line for line in fast} == {line["id"]: line for line in sdk}
    assert fast[0]["id"] == sdk[0]["id"] == 0
    assert sorted(line["id"] for line in fast) == sorted(expected)


def test_a_cancelled_stdio_call_gets_no_reply_on_either_path(
    pair: tuple[DaemonProcess, DaemonProcess], slow_upstream: FakeUpstream
) -> None:
    for daemon in pair:
        add_connection(daemon, "slow-stdio", "openai", "test-model", slow_upstream.base_url, "GPT_KEY")
    bridges = [Bridge(daemon) for daemon in pair]
    try:
        for bridge in bridges:
            bridge.handshake()
            bridge.send(_call("ask", {"prompt": "slow", "connection": "slow-stdio"}, request_id=51))
        time.sleep(0.5)
        for bridge in bridges:
            bridge.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 51}})
            bridge.send({"jsonrpc": "2.0", "id": 52, "method": "ping"})
        started = time.monotonic()
        for bridge in bridges:
            assert bridge.until_reply(52) == [{"jsonrpc": "2.0", "id": 52, "result": {}}]  # nothing for 51
        assert time.monotonic() - started < 2.5
    finally:
        for bridge in bridges:
            bridge.close()


UNPARSED_LINES = [
    # (what, the line, the reply's id, its code): the SDK's stdio transport drops these lines;
    # the daemon answers them as the SDK's HTTP transport answers such a body.
    ("a lone surrogate", b'{"jsonrpc": "2.0", "id": 61, "method": "tools/call", "params": {"name": "ask", '
                         b'"arguments": {"prompt": "\\ud800", "connection": "gpt"}}}', 61, -32700),
    ("nesting past the SDK parser's limit", json.dumps(_nested_call(202) | {"id": 62}).encode(), 62, -32700),
    ("nesting past the interpreter's limit", _past_recursion_limit(_call("ask", {"prompt": "x"}, request_id=63)), 63, -32700),
    ("a wrong jsonrpc version", b'{"jsonrpc": "1.0", "id": 64, "method": "ping"}', 64, -32602),
    ("garbage", b"{not json", None, -32700),
]


@pytest.mark.parametrize(("case", "line", "request_id", "code"), UNPARSED_LINES, ids=[c[0] for c in UNPARSED_LINES])
def test_a_stdio_line_the_sdk_cannot_parse_is_answered_alike_on_both_paths(
    pair: tuple[DaemonProcess, DaemonProcess], case: str, line: bytes, request_id: Any, code: int
) -> None:
    bridges = [Bridge(daemon) for daemon in pair]
    try:
        for bridge in bridges:
            bridge.handshake()
            bridge.send_raw(line)
            bridge.send({"jsonrpc": "2.0", "id": "after", "method": "ping"})
        fast, sdk = (bridge.until_replies({request_id, "after"}) for bridge in bridges)
    finally:
        for bridge in bridges:
            bridge.close()
    assert sorted(map(json.dumps, fast)) == sorted(map(json.dumps, sdk))
    refusal = next(reply for reply in fast if reply.get("id") == request_id)
    assert refusal["error"]["code"] == code and refusal["error"]["message"]


def _raw_post(endpoint: Endpoint, extra_headers: bytes, body: bytes, target: bytes = b"/mcp") -> tuple[int, Any]:
    """A POST with header bytes aiohttp's client will not send (it writes only UTF-8)."""
    url = urllib.parse.urlsplit(endpoint.url)
    head = b"".join(f"{k}: {v}\r\n".encode() for k, v in endpoint.headers("handshake").items())
    with socket.create_connection((url.hostname, url.port), timeout=10) as raw:
        raw.sendall(b"POST %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s%sContent-Length: %d\r\n\r\n%s"
                    % (target, url.netloc.encode(), head, extra_headers, len(body), body))
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    return int(status_line.split()[1]), _scrub(json.loads(rest.partition(b"\r\n\r\n")[2]))


@pytest.mark.parametrize("header", [b"User-Agent: caf\xe9\r\n", b"X-Anything: \xff\xfe\r\n", b"Last-Event-ID: \xff\r\n"],
                         ids=["latin-1", "not text", "last-event-id"])
@pytest.mark.parametrize("body", [LIST, _call("list_connections", {})], ids=["tools/list", "call"])
async def test_header_bytes_that_are_not_utf8_get_the_same_answer_on_both_paths(
    pair: tuple[DaemonProcess, DaemonProcess], header: bytes, body: dict[str, Any]
) -> None:
    """Requests the SDK answers went through its ASGI app with headers re-encoded as Latin-1,
    which the lone surrogates aiohttp decodes such bytes to cannot be: a text/plain 500."""
    async with aiohttp.ClientSession() as http:
        endpoints = [await _open(http, daemon) for daemon in pair]
    replies = [_raw_post(endpoint, header, json.dumps(body).encode()) for endpoint in endpoints]
    assert replies[0] == replies[1] and replies[0][0] == 200
    sdk_only = [_raw_post(endpoint, header, json.dumps(SDK_METHODS[0][1]).encode()) for endpoint in endpoints]
    assert sdk_only[0] == sdk_only[1] and sdk_only[0][0] == 200  # resources/list: the SDK's on both


async def test_a_query_string_beyond_latin1_gets_the_same_answer_on_both_paths(
    pair: tuple[DaemonProcess, DaemonProcess],
) -> None:
    async with aiohttp.ClientSession() as http:
        endpoints = [await _open(http, daemon) for daemon in pair]
    body = json.dumps(SDK_METHODS[0][1]).encode()
    replies = [_raw_post(endpoint, b"", body, target=b"/mcp?note=%E2%82%AC") for endpoint in endpoints]
    assert replies[0] == replies[1] and replies[0][0] == 200
