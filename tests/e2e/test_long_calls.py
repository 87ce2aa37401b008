"""A call a provider takes long to answer still reaches its client: the HTTP reply turns into an
SSE stream after [mcp] sse_after_s (headers at once, the answer when it comes), a client that
sent a progressToken hears what the call waits for, and an answer nobody received is marked in
the ledger as paid for and undelivered."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.mcp_support import add_connection, http_client, mcp_url, sse_messages, start_with_mcp, stdio_client, token
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream

KEY = "sk-proj-L0ngCallKeyVv81mQzRt5Xw2PnB7"
DELAY_S = 3.0
FAST = "sse_after_s = 0.5\nprogress_interval_s = 1\n"


@pytest.fixture
def slow_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()
    fake.echo_chat(prefix="slow:", delay=DELAY_S)
    yield fake
    fake.stop()


def _start(daemon: DaemonProcess, upstream: FakeUpstream, extra: str = FAST) -> DaemonProcess:
    daemon.env["GPT_KEY"] = KEY
    start_with_mcp(daemon, extra)
    add_connection(daemon, "gpt", "openai", "m", upstream.base_url, "GPT_KEY")
    return daemon


async def _session(http: aiohttp.ClientSession, daemon: DaemonProcess) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token(daemon)}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw-ide", "version": "1"}}}
    async with http.post(mcp_url(daemon), json=init, headers=headers) as r:
        assert r.status == 200
        headers = {**headers, "mcp-session-id": r.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
    async with http.post(mcp_url(daemon), json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                         headers=headers) as r:
        assert r.status == 202
    return headers


def _ask(prompt: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "ask", "arguments": {"prompt": prompt, "connection": "gpt"}}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params}


def _no_key_anywhere(daemon: DaemonProcess) -> None:
    assert KEY not in daemon.stderr()
    assert KEY.encode() not in daemon.paths.ledger_file.read_bytes()


async def test_a_slow_call_sends_its_headers_at_once_and_its_answer_on_an_sse_stream(
    daemon_proc: DaemonProcess, slow_upstream: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, slow_upstream)
    async with aiohttp.ClientSession() as http:
        headers = await _session(http, daemon)
        started = time.monotonic()
        async with http.post(mcp_url(daemon), json=_ask("patience"), headers=headers) as r:
            headers_after = time.monotonic() - started
            body = await r.text()
            answered_after = time.monotonic() - started
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    assert headers_after < DELAY_S - 1 and answered_after >= DELAY_S
    assert ": waiting" in body  # keep-alive comments while the provider works
    (reply,) = sse_messages(body)
    assert reply["id"] == 5 and reply["result"]["structuredContent"]["text"] == "slow:patience"
    _no_key_anywhere(daemon)


async def test_a_quick_call_stays_a_plain_json_reply(daemon_proc: DaemonProcess) -> None:
    quick = FakeUpstream("openai").start()
    quick.echo_chat()
    try:
        daemon = _start(daemon_proc, quick, "sse_after_s = 5\n")
        async with aiohttp.ClientSession() as http:
            headers = await _session(http, daemon)
            async with http.post(mcp_url(daemon), json=_ask("quick"), headers=headers) as r:
                reply = await r.json()
        assert r.headers["Content-Type"].startswith("application/json")
        assert reply["result"]["structuredContent"]["text"] == "echo:quick"
    finally:
        quick.stop()


async def test_a_client_that_accepts_only_json_gets_json_however_long_the_call(
    daemon_proc: DaemonProcess, slow_upstream: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, slow_upstream)
    async with aiohttp.ClientSession() as http:
        headers = await _session(http, daemon)
        async with http.post(mcp_url(daemon), json=_ask("json only"),
                             headers={**headers, "Accept": "application/json"}) as r:
            reply = await r.json()
    assert r.headers["Content-Type"].startswith("application/json")
    assert reply["result"]["structuredContent"]["text"] == "slow:json only"


async def test_a_progress_token_hears_what_the_call_waits_for_until_the_answer(
    daemon_proc: DaemonProcess, slow_upstream: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, slow_upstream)
    async with aiohttp.ClientSession() as http:
        headers = await _session(http, daemon)
        started = time.monotonic()
        async with http.post(mcp_url(daemon), json=_ask("tick", {"progressToken": "t-1"}), headers=headers) as r:
            headers_after = time.monotonic() - started
            messages = sse_messages(await r.text())
    assert headers_after < 1.0  # a progress token streams from the start
    *notes, reply = messages
    assert reply["result"]["structuredContent"]["text"] == "slow:tick"
    assert len(notes) >= 2 and all(n["method"] == "notifications/progress" for n in notes)
    values = [n["params"]["progress"] for n in notes]
    assert values == sorted(set(values))  # MCP: each larger than the last
    assert all(n["params"]["progressToken"] == "t-1" and "total" not in n["params"] for n in notes)
    assert notes[0]["params"]["message"].startswith("waiting for gpt, ")


async def test_the_sdk_client_gets_heartbeats_over_http_with_the_default_config(
    daemon_proc: DaemonProcess, slow_upstream: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, slow_upstream, "progress_interval_s = 1\n")
    heard: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append((progress, total, message))

    async with http_client(daemon) as client:
        result = await client.call_tool("ask", {"prompt": "sdk", "connection": "gpt"}, progress_callback=on_progress)
    assert result.structured_content["text"] == "slow:sdk"
    assert len(heard) >= 2 and all((m or "").startswith("waiting for gpt") for _, _, m in heard)


async def test_stdio_calls_with_a_progress_token_hear_the_same_heartbeat(
    daemon_proc: DaemonProcess, slow_upstream: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, slow_upstream)
    heard: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append(message)

    async with stdio_client(daemon) as client:
        result = await client.call_tool("ask", {"prompt": "pipe", "connection": "gpt"}, progress_callback=on_progress)
    assert result.structured_content["text"] == "slow:pipe"
    assert len(heard) >= 2 and all((m or "").startswith("waiting for gpt, ") for m in heard)


async def _usage_totals(daemon: DaemonProcess) -> dict[str, Any]:
    result = daemon.ctl("usage", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["today"]["totals"]  # type: ignore[no-any-return]


# Who writes the reply: the fast path (JSON, or SSE after sse_after_s), or the SDK (its JSON
# reply with the fast path off; its SSE stream with stream_responses on).
WRITERS = {"json": "sse_after_s = 10\n", "sse": FAST, "sdk-json": "fast_path = false\n",
           "sdk-sse": "stream_responses = true\n"}


@pytest.mark.parametrize("writer", list(WRITERS))
async def test_an_answer_whose_client_left_is_marked_undelivered_in_the_ledger(
    daemon_proc: DaemonProcess, slow_upstream: FakeUpstream, writer: str
) -> None:
    daemon = _start(daemon_proc, slow_upstream, WRITERS[writer])
    async with aiohttp.ClientSession() as http:
        headers = await _session(http, daemon)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.5):
                async with http.post(mcp_url(daemon), json=_ask("gone"), headers=headers) as r:
                    await r.read()
    deadline = time.monotonic() + 15
    while (totals := await _usage_totals(daemon))["undelivered_requests"] == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert totals["undelivered_requests"] == 1 and totals["ok"] == 1
    history = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
    assert [row["undelivered"] for row in history] == [1]
    assert "mcp answer not delivered" in daemon.stderr()
    summary = daemon.ctl("usage")
    assert "1 answer(s) in 30 days were paid for but never reached their client" in summary.stdout
    _no_key_anywhere(daemon)


@pytest.mark.parametrize("writer", list(WRITERS))
async def test_a_delivered_answer_is_not_marked(daemon_proc: DaemonProcess, slow_upstream: FakeUpstream,
                                               writer: str) -> None:
    daemon = _start(daemon_proc, slow_upstream, WRITERS[writer])
    async with http_client(daemon) as client:
        await client.call_tool("ask", {"prompt": "kept", "connection": "gpt"})
    totals = await _usage_totals(daemon)
    assert totals["ok"] == 1 and totals["undelivered_requests"] == 0
    history = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
    assert [row["undelivered"] for row in history] == [None]
