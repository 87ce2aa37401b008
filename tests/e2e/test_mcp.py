"""IDEs over MCP: the SDK's own client over Streamable HTTP and through the stdio bridge, against a
real daemon and fake upstreams on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from tests.e2e.mcp_support import add_connection, http_client, start_with_mcp, stdio_client, text_of
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream, anthropic_error

KEY = "sk-proj-Mcp7Qx2LmN8pVw4ZtY6bHc1DfGj3"
ANT_KEY = "sk-ant-api03-Mcp9yX8wV7uT6sR5qP4oN3mL2"


@pytest.fixture
def anthropic_up() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("anthropic").start()
    yield fake
    fake.stop()


DAEMON_VARIANTS = {
    "fast": "",
    "sdk": "fast_path = false\n",
    "asyncio-loop": "\n[daemon]\nevent_loop = \"asyncio\"\n",
}


@pytest.fixture(params=list(DAEMON_VARIANTS))
def mcp_daemon(request: pytest.FixtureRequest, daemon_proc: DaemonProcess, openai_up: FakeUpstream,
               anthropic_up: FakeUpstream) -> DaemonProcess:
    """Every official-client test runs on both HTTP paths, the fast path (default) and the SDK's,
    and on both event loops: uvloop (the default where installed) and asyncio's own."""
    daemon_proc.env["GPT_KEY"] = KEY
    daemon_proc.env["ANT_KEY"] = ANT_KEY
    daemon = start_with_mcp(daemon_proc, DAEMON_VARIANTS[request.param])
    expected_loop = "asyncio" if request.param == "asyncio-loop" else "uvloop"
    assert daemon.client.daemon_status().event_loop == expected_loop
    add_connection(daemon, "gpt", "openai", "test-model", openai_up.base_url, "GPT_KEY")
    add_connection(daemon, "claude", "anthropic", "test-model", anthropic_up.base_url, "ANT_KEY")
    add_connection(daemon, "off", "openai", "test-model", openai_up.base_url, "GPT_KEY", "--disabled")
    return daemon


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_http_lists_tools_and_asks_through_the_named_connection(mcp_daemon: DaemonProcess, openai_up: FakeUpstream, mode: str) -> None:
    async with http_client(mcp_daemon, mode=mode) as client:
        tools = await client.list_tools()
        assert [t.name for t in tools.tools] == ["list_connections", "ask", "chat", "compare"]
        ask = next(t for t in tools.tools if t.name == "ask")
        assert ask.input_schema["type"] == "object" and "prompt" in ask.input_schema["required"]
        assert "connection" in ask.input_schema["properties"]
        result = await client.call_tool("ask", {"prompt": "hello", "connection": "gpt"})
    assert result.is_error is False
    assert text_of(result) == "echo:hello"
    assert result.structured_content["connection"] == "gpt"
    assert result.structured_content["model"] == "served-model"
    assert result.structured_content["usage"] == {"input_tokens": 12, "output_tokens": 3}
    assert result.structured_content["cost_source"] == "UNKNOWN"
    assert openai_up.count("POST", openai_up.chat_path) == 1


async def test_chat_sends_the_whole_conversation(mcp_daemon: DaemonProcess, openai_up: FakeUpstream) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "again"}]
    async with http_client(mcp_daemon) as client:
        result = await client.call_tool("chat", {"messages": messages, "connection": "gpt", "system": "terse"})
    assert text_of(result) == "echo:again"
    sent = openai_up.requests[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": "terse"} and sent[1:] == messages


async def test_compare_reports_the_failing_connection_beside_the_answer(mcp_daemon: DaemonProcess, anthropic_up: FakeUpstream) -> None:
    anthropic_up.reply_chat(anthropic_error(401, f"invalid x-api-key {ANT_KEY}", "authentication_error"))
    async with http_client(mcp_daemon) as client:
        result = await client.call_tool("compare", {"prompt": "which?", "connections": ["gpt", "claude"]})
    assert result.is_error is False
    by_name = {r["connection"]: r for r in result.structured_content["results"]}
    assert by_name["gpt"]["ok"] is True and by_name["gpt"]["text"] == "echo:which?"
    assert by_name["claude"]["ok"] is False and by_name["claude"]["error"]["kind"] == "auth_failed"
    assert "## claude — error" in text_of(result)
    assert ANT_KEY not in json.dumps(result.structured_content) and ANT_KEY[-10:] not in text_of(result)


async def test_unknown_connection_is_a_tool_error_and_nothing_else_is_tried(mcp_daemon: DaemonProcess, openai_up: FakeUpstream) -> None:
    async with http_client(mcp_daemon) as client:
        result = await client.call_tool("ask", {"prompt": "x", "connection": "nope"})
    assert result.is_error is True
    assert result.structured_content["error"]["kind"] == "not_found"
    assert "hint:" in text_of(result)
    assert openai_up.requests == []


async def test_disabled_connection_is_refused_never_substituted(mcp_daemon: DaemonProcess, openai_up: FakeUpstream) -> None:
    async with http_client(mcp_daemon) as client:
        result = await client.call_tool("ask", {"prompt": "x", "connection": "off"})
        listing = await client.call_tool("list_connections", {})
    assert result.is_error is True
    assert result.structured_content["error"]["kind"] == "connection_disabled"
    assert openai_up.requests == []
    assert [c["name"] for c in listing.structured_content["connections"]] == ["claude", "gpt"]


async def test_omitted_connection_without_default_is_an_explained_error(mcp_daemon: DaemonProcess) -> None:
    async with http_client(mcp_daemon) as client:
        result = await client.call_tool("ask", {"prompt": "x"})
    assert result.is_error is True
    assert "default_connection" in result.structured_content["error"]["hint"]


async def test_invalid_arguments_are_a_tool_error(mcp_daemon: DaemonProcess) -> None:
    async with http_client(mcp_daemon) as client:
        result = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "temperature": 9})
    assert result.is_error is True
    assert result.structured_content["error"]["kind"] == "bad_request"


async def test_bound_endpoint_hides_the_connection_argument(mcp_daemon: DaemonProcess, openai_up: FakeUpstream) -> None:
    async with http_client(mcp_daemon, path="/c/gpt") as client:
        tools = await client.list_tools()
        assert [t.name for t in tools.tools] == ["list_connections", "ask", "chat"]
        assert "connection" not in next(t for t in tools.tools if t.name == "ask").input_schema["properties"]
        result = await client.call_tool("ask", {"prompt": "bound"})
        other = await client.call_tool("ask", {"prompt": "x", "connection": "claude"})
    assert text_of(result) == "echo:bound"
    assert other.is_error is True and "bound to connection 'gpt'" in other.structured_content["error"]["message"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio_bridge_serves_the_same_tools(mcp_daemon: DaemonProcess, mode: str) -> None:
    async with stdio_client(mcp_daemon, mode=mode) as client:
        tools = await client.list_tools()
        assert "compare" in [t.name for t in tools.tools]
        result = await client.call_tool("ask", {"prompt": "via stdio", "connection": "gpt"})
    assert text_of(result) == "echo:via stdio"


async def test_stdio_bridge_bound_to_a_connection(mcp_daemon: DaemonProcess) -> None:
    async with stdio_client(mcp_daemon, "bound-ide", "--connection", "gpt") as client:
        tools = await client.list_tools()
        assert "compare" not in [t.name for t in tools.tools]
        result = await client.call_tool("ask", {"prompt": "b"})
    assert text_of(result) == "echo:b"


async def test_ten_mixed_sessions_at_once_are_answered_and_attributed(mcp_daemon: DaemonProcess) -> None:
    async def one(index: int) -> tuple[str, str]:
        name = f"ide-{index}"
        opener = http_client(mcp_daemon, name=name) if index % 2 else stdio_client(mcp_daemon, name)
        async with opener as client:
            first = await client.call_tool("ask", {"prompt": f"p{index}-a", "connection": "gpt"})
            second = await client.call_tool("ask", {"prompt": f"p{index}-b", "connection": "gpt"})
            if index == 0:  # sample the sessions while all ten are open
                await asyncio.sleep(0.5)
        return text_of(first), text_of(second)

    answers = await asyncio.gather(*(one(i) for i in range(10)))
    for index, (first, second) in enumerate(answers):
        assert (first, second) == (f"echo:p{index}-a", f"echo:p{index}-b")
    for index in range(10):  # the ledger attributes each call to its client and session
        rows = json.loads(mcp_daemon.ctl("usage", "history", "--client", f"mcp:ide-{index}", "--json").stdout)["rows"]
        assert len(rows) == 2 and len({r["caller_session"] for r in rows}) == 1
        assert rows[0]["caller_session"].startswith("stdio-" if index % 2 == 0 else "http-")


async def test_sessions_view_names_clients_transport_and_counts(mcp_daemon: DaemonProcess) -> None:
    async with http_client(mcp_daemon, name="cursor-like") as http, stdio_client(mcp_daemon, "claude-code-like") as stdio:
        await http.call_tool("ask", {"prompt": "1", "connection": "gpt"})
        await stdio.call_tool("ask", {"prompt": "2", "connection": "nope"})
        sessions = json.loads(mcp_daemon.ctl("mcp", "sessions", "--json").stdout)
        table = mcp_daemon.ctl("mcp", "sessions").stdout
    by_client = {s["client_name"]: s for s in sessions}
    assert by_client["cursor-like"]["transport"] == "http" and by_client["cursor-like"]["calls"] == 1
    assert by_client["cursor-like"]["client_version"] == "1.2.3"
    assert by_client["claude-code-like"]["transport"] == "stdio" and by_client["claude-code-like"]["errors"] == 1
    assert "cursor-like" in table and "claude-code-like" in table
