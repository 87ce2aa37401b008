"""The stdio bridge outlives a daemon restart: the IDE's session is re-opened on the new daemon,
the request in flight at the crash gets a JSON-RPC error and reaches the upstream at most once,
and the next call works without the client reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest
from mcp.shared.exceptions import MCPError

from synapsectl.client import DaemonNotRunning
from tests.e2e.mcp_support import start_with_mcp, stdio_client
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import Canned, FakeUpstream, Recorded

KEY = "sk-proj-Br1dgeKeyQx2LmN8pVw4ZtY6bHc1"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()

    def respond(record: Recorded) -> Canned:
        prompt = record.body["messages"][-1]["content"]
        canned = fake.family.chat_ok(f"echo:{prompt}")
        canned.delay = 3.0 if prompt == "slow" else 0.0
        return canned

    fake.reply_chat(respond)
    yield fake
    fake.stop()


@pytest.fixture
def bridged(daemon_proc: DaemonProcess, upstream: FakeUpstream) -> DaemonProcess:
    daemon_proc.env["GPT_KEY"] = KEY
    start_with_mcp(daemon_proc)
    added = daemon_proc.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "m", "--base-url",
                            upstream.base_url, "--credential", "env:GPT_KEY")
    assert added.returncode == 0
    return daemon_proc


def _restart(daemon: DaemonProcess) -> None:
    daemon.start()
    deadline = time.monotonic() + 20
    while daemon.client.daemon_status().mcp is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)


async def test_the_bridge_answers_after_stop_and_restart(bridged: DaemonProcess) -> None:
    async with stdio_client(bridged, "restart-ide", "--no-autostart") as client:
        first = await client.call_tool("ask", {"prompt": "before", "connection": "gpt"})
        assert first.structured_content["text"] == "echo:before"
        assert bridged.ctl("stop").returncode == 0
        bridged.proc.wait(15)  # type: ignore[union-attr]
        _restart(bridged)
        after = await client.call_tool("ask", {"prompt": "after", "connection": "gpt"})
        sessions = bridged.client.mcp_sessions().sessions
    assert after.is_error is False and after.structured_content["text"] == "echo:after"
    assert [(s.client_name, s.transport) for s in sessions] == [("restart-ide", "stdio")]


async def test_the_call_in_flight_at_a_crash_gets_an_error_and_is_not_resent(
    bridged: DaemonProcess, upstream: FakeUpstream
) -> None:
    async with stdio_client(bridged, "crash-ide", "--no-autostart") as client:
        slow = asyncio.create_task(client.call_tool("ask", {"prompt": "slow", "connection": "gpt"}))
        while not any(r.body and r.body["messages"][-1]["content"] == "slow" for r in upstream.requests):
            await asyncio.sleep(0.05)
        bridged.kill9()
        with pytest.raises(MCPError) as gone:
            await slow
        assert "went away while this request was in flight" in str(gone.value)
        _restart(bridged)
        after = await client.call_tool("ask", {"prompt": "next", "connection": "gpt"})
    assert after.structured_content["text"] == "echo:next"
    await asyncio.sleep(3.5)  # longer than the slow reply: nothing sends it again
    assert sum(1 for r in upstream.requests if r.body and r.body["messages"][-1]["content"] == "slow") == 1


async def test_a_request_sent_while_the_daemon_is_down_waits_for_it(bridged: DaemonProcess) -> None:
    async with stdio_client(bridged, "waiting-ide", "--no-autostart") as client:
        await client.call_tool("ask", {"prompt": "one", "connection": "gpt"})
        assert bridged.ctl("stop").returncode == 0
        bridged.proc.wait(15)  # type: ignore[union-attr]
        await asyncio.sleep(0.5)  # the bridge has seen the daemon go
        pending = asyncio.create_task(client.call_tool("ask", {"prompt": "queued", "connection": "gpt"}))
        await asyncio.sleep(0.5)
        assert not pending.done()
        _restart(bridged)
        result = await asyncio.wait_for(pending, 20)
    assert result.structured_content["text"] == "echo:queued"


async def test_a_crashed_daemon_is_started_again_by_the_bridge(bridged: DaemonProcess) -> None:
    try:
        async with stdio_client(bridged, "autostart-ide") as client:
            await client.call_tool("ask", {"prompt": "one", "connection": "gpt"})
            first_pid = bridged.client.daemon_status().pid
            bridged.kill9()
            after = await asyncio.wait_for(client.call_tool("ask", {"prompt": "two", "connection": "gpt"}), 30)
            second_pid = bridged.client.daemon_status().pid
    finally:  # the bridge started this daemon, not the fixture: stop it even when the test fails
        with contextlib.suppress(DaemonNotRunning, OSError):
            bridged.client.daemon_shutdown()
    assert after.structured_content["text"] == "echo:two" and second_pid != first_pid
