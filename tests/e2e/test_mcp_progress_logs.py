"""What reaches the IDE during a call: compare's progress per connection as it completes, and the
call's failure kinds as MCP log messages at the level the client set (logging/setLevel)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import mcp_types as types
import pytest

from tests.e2e.mcp_support import http_client, start_gpt_and_claude, stdio_client
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream, anthropic_error

pytestmark = pytest.mark.filterwarnings("ignore:The logging capability is deprecated")

KEY = "sk-proj-Pr0gressKeyQx2LmN8pVw4ZtY6bHc1"
ANT_KEY = "sk-ant-api03-Pr0gressAnt9yX8wV7uT6sR5"


@pytest.fixture
def openai_up() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()
    fake.reply_chat(lambda r: fake.family.chat_ok("gpt answer"))
    yield fake
    fake.stop()


@pytest.fixture
def anthropic_up() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("anthropic").start()
    fake.reply_chat(anthropic_error(401, f"invalid x-api-key {ANT_KEY}", "authentication_error"))
    yield fake
    fake.stop()


def _start(daemon: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream, extra: str = "") -> DaemonProcess:
    return start_gpt_and_claude(daemon, openai_up.base_url, anthropic_up.base_url, (KEY, ANT_KEY), ("m", "c"), extra)


class Seen:
    def __init__(self) -> None:
        self.progress: list[tuple[float, float | None, str | None]] = []
        self.logs: list[types.LoggingMessageNotificationParams] = []

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params)


def _check_compare_progress(seen: Seen) -> None:
    assert [(p, t) for p, t, _ in seen.progress] == [(1, 2), (2, 2)]
    messages = " | ".join(m or "" for _, _, m in seen.progress)
    assert "gpt (served-model): gpt answer" in messages and "claude: error auth_failed" in messages
    assert ANT_KEY not in messages


async def test_compare_reports_each_connection_as_progress_over_stdio(
    daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, openai_up, anthropic_up)
    seen = Seen()
    async with stdio_client(daemon) as client:
        result = await client.call_tool("compare", {"prompt": "q", "connections": ["gpt", "claude"]},
                                        progress_callback=seen.on_progress)
    assert result.structured_content["answered"] == 1
    _check_compare_progress(seen)


async def test_compare_progress_reaches_http_clients_with_streamed_responses(
    daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, openai_up, anthropic_up, "stream_responses = true\n")
    seen = Seen()
    async with http_client(daemon) as client:
        await client.call_tool("compare", {"prompt": "q", "connections": ["gpt", "claude"]},
                               progress_callback=seen.on_progress)
    _check_compare_progress(seen)


async def test_a_failed_call_is_logged_to_the_calling_session_redacted(
    daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, openai_up, anthropic_up)
    seen = Seen()
    async with stdio_client(daemon, "log-ide", logging_callback=seen.on_log) as client:
        result = await client.call_tool("ask", {"prompt": "q", "connection": "claude"})
    assert result.is_error
    assert len(seen.logs) == 1 and seen.logs[0].level == "error" and seen.logs[0].logger == "synapse"
    data = seen.logs[0].data
    assert data["kind"] == "auth_failed" and data["connection"] == "claude"
    assert ANT_KEY not in json.dumps(data)


async def test_set_level_silences_what_is_below_it(
    daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, openai_up, anthropic_up)
    seen = Seen()
    async with stdio_client(daemon, "quiet-ide", logging_callback=seen.on_log) as client:
        await client.set_logging_level("critical")
        await client.call_tool("ask", {"prompt": "q", "connection": "claude"})
        await client.set_logging_level("debug")
        await client.call_tool("compare", {"prompt": "q", "connections": ["gpt", "claude"]})
    assert [(log.level, log.data["kind"]) for log in seen.logs] == [("warning", "auth_failed")]


async def test_logging_set_level_is_answered_over_http(
    daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, openai_up, anthropic_up)
    async with http_client(daemon) as client:
        assert client.server_capabilities is not None and client.server_capabilities.logging is not None
        await client.set_logging_level("info")
        sessions = daemon.client.mcp_sessions().sessions
    assert [(s.client_name, s.log_level) for s in sessions] == [("test-ide", "info")]


async def test_compare_progress_reaches_http_clients_with_the_default_config(
    daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    """A progressToken turns the reply into a stream on the fast path: no setting needed."""
    daemon = _start(daemon_proc, openai_up, anthropic_up)
    seen = Seen()
    async with http_client(daemon) as client:
        await client.call_tool("compare", {"prompt": "q", "connections": ["gpt", "claude"]},
                               progress_callback=seen.on_progress)
    _check_compare_progress(seen)
    assert daemon.client.daemon_status().mcp.fast_path_answers  # type: ignore[union-attr]


async def test_log_messages_reach_an_http_session_that_set_a_level(
    daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, openai_up, anthropic_up)
    seen = Seen()
    async with http_client(daemon, logging_callback=seen.on_log) as client:
        await client.set_logging_level("warning")
        result = await client.call_tool("ask", {"prompt": "q", "connection": "claude"})
    assert result.is_error
    assert [(log.level, log.data["kind"]) for log in seen.logs] == [("error", "auth_failed")]
    assert ANT_KEY not in json.dumps([log.data for log in seen.logs])
