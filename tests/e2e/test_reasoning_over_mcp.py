"""What an agent asks of another model, end to end over MCP (both HTTP paths and the stdio bridge):
reasoning effort, a JSON answer it can parse, the reasoning summary, a Responses-only model, and the
typed refusals and mismatches, with what the ledger records for each."""

from __future__ import annotations

import json
from collections.abc import Iterator

import msgspec
import pytest

from synapsed.protocol import UsageFilters, UsageHistoryParams
from tests.e2e.mcp_support import add_connection, http_client, start_with_mcp, stdio_client, text_of
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream, anthropic_thinking_chat, openai_reasoning_chat, openai_response

KEY = "sk-proj-Re4s0nKeyQx2LmN8pVw4ZtY6bHc1"
ANT_KEY = "sk-ant-api03-Re4s0nAnt9yX8wV7uT6sR5q"
SCHEMA = {"type": "object", "properties": {"verdict": {"type": "string"}, "score": {"type": "integer"}},
          "required": ["verdict", "score"], "additionalProperties": False}


@pytest.fixture
def gpt_up() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai", model="gpt-5.2").start()
    yield fake
    fake.stop()


@pytest.fixture
def claude_up() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("anthropic", model="claude-opus-4-8").start()
    yield fake
    fake.stop()


@pytest.fixture(params=["fast", "sdk"])
def daemon(request: pytest.FixtureRequest, daemon_proc: DaemonProcess, gpt_up: FakeUpstream,
           claude_up: FakeUpstream) -> DaemonProcess:
    daemon_proc.env["GPT_KEY"], daemon_proc.env["ANT_KEY"] = KEY, ANT_KEY
    started = start_with_mcp(daemon_proc, "" if request.param == "fast" else "fast_path = false\n")
    add_connection(started, "gpt", "openai", "gpt-5.2", gpt_up.base_url, "GPT_KEY")
    add_connection(started, "claude", "anthropic", "claude-opus-4-8", claude_up.base_url, "ANT_KEY")
    add_connection(started, "pro", "openai", "gpt-5.2-pro", gpt_up.base_url, "GPT_KEY")
    add_connection(started, "mini", "openai", "gpt-4o-mini", gpt_up.base_url, "GPT_KEY")
    return started


def _rows(daemon: DaemonProcess, connection: str) -> list[dict[str, object]]:
    history = daemon.client.usage_history(UsageHistoryParams(filters=UsageFilters(connection=connection)))
    return [msgspec.to_builtins(row) for row in history.rows]


def _no_key_anywhere(daemon: DaemonProcess, *replies: object) -> None:
    for text in (daemon.all_state_text(), daemon.stderr(), json.dumps([str(r) for r in replies])):
        assert KEY not in text and ANT_KEY not in text


async def test_reasoning_and_a_json_answer_over_http(daemon: DaemonProcess, gpt_up: FakeUpstream) -> None:
    gpt_up.reply_chat(openai_reasoning_chat('{"verdict": "sound", "score": 4}'))
    async with http_client(daemon, name="cursor") as client:
        result = await client.call_tool("ask", {"prompt": "review", "connection": "gpt", "reasoning": "max",
                                                "response_schema": SCHEMA})
    assert result.is_error is False
    assert result.structured_content["json"] == {"verdict": "sound", "score": 4}
    assert result.structured_content["usage"]["reasoning_tokens"] == 40
    sent = gpt_up.requests[-1].body
    assert sent["reasoning_effort"] == "xhigh" and sent["response_format"]["json_schema"]["schema"] == SCHEMA
    (row,) = _rows(daemon, "gpt")
    assert row["status"] == "ok" and row["reasoning_tokens"] == 40 and row["cache_read_tokens"] == 8
    _no_key_anywhere(daemon, result)


async def test_a_mismatch_is_billed_recorded_and_never_resent(daemon: DaemonProcess, gpt_up: FakeUpstream) -> None:
    gpt_up.reply_chat(gpt_up.family.chat_ok('{"verdict": "sound"}'))
    async with http_client(daemon) as client:
        result = await client.call_tool("ask", {"prompt": "review", "connection": "gpt", "response_schema": SCHEMA})
    assert result.is_error is True
    error = result.structured_content["error"]
    assert error["kind"] == "schema_mismatch" and error["path"] == "$" and error["raw_answer"] == '{"verdict": "sound"}'
    assert gpt_up.count("POST", gpt_up.chat_path) == 1
    (row,) = _rows(daemon, "gpt")
    assert row["status"] == "error" and row["error_kind"] == "schema_mismatch"
    assert row["input_tokens"] == 12 and row["cost_source"] == "ESTIMATED" and row["cost_usd"]
    _no_key_anywhere(daemon, result)


async def test_a_model_without_reasoning_is_refused_with_nothing_sent(daemon: DaemonProcess, gpt_up: FakeUpstream) -> None:
    async with http_client(daemon) as client:
        result = await client.call_tool("ask", {"prompt": "think", "connection": "mini", "reasoning": "high"})
    assert result.is_error is True and result.structured_content["error"]["kind"] == "bad_request"
    assert "reasoning" in result.structured_content["error"]["message"]
    assert gpt_up.requests == []
    (row,) = _rows(daemon, "mini")
    assert row["status"] == "refused"


async def test_the_reasoning_summary_over_the_stdio_bridge(daemon: DaemonProcess, claude_up: FakeUpstream) -> None:
    claude_up.reply_chat(anthropic_thinking_chat("use the second", "Compared latency and cost."))
    async with stdio_client(daemon, "claude-code") as client:
        result = await client.call_tool("ask", {"prompt": "which?", "connection": "claude", "reasoning": "high",
                                                "include_reasoning": True})
    assert result.structured_content["reasoning"] == {"summary": "Compared latency and cost.", "note": None}
    assert "Compared latency and cost." in text_of(result)
    sent = claude_up.requests[-1].body
    assert sent["thinking"] == {"type": "adaptive", "display": "summarized"} and sent["output_config"] == {"effort": "high"}


async def test_a_pro_model_answers_through_the_responses_api(daemon: DaemonProcess, gpt_up: FakeUpstream) -> None:
    gpt_up.routes[("POST", "/v1/responses")] = openai_response("the deep answer")
    async with http_client(daemon) as client:
        result = await client.call_tool("ask", {"prompt": "hard one", "connection": "pro", "reasoning": "high"})
    assert result.structured_content["text"] == "the deep answer"
    assert result.structured_content["endpoint"] == "responses"
    (sent,) = [r.body for r in gpt_up.requests if r.path == "/v1/responses"]
    assert sent["store"] is False and sent["reasoning"] == {"effort": "high"}
    assert gpt_up.count("POST", gpt_up.chat_path) == 0
