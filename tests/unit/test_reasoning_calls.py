"""reasoning, include_reasoning and response_schema through the gateway to fakes of each family:
the exact member each level sends, what is refused with nothing sent, the JSON that comes back,
a mismatch after exactly one request, and OpenAI's Responses-only models on /v1/responses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from synapsed.config import ConfigStore, ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.gateway import Gateway
from synapsed.protocol import ChatRequest, ChatResult, Message
from tests.support.fake_upstream import (
    Canned,
    FakeUpstream,
    anthropic_thinking_chat,
    gemini_thinking_chat,
    openai_reasoning_chat,
    openai_response,
)

SCHEMA = {"type": "object", "properties": {"verdict": {"type": "string"}, "score": {"type": "integer"}},
          "required": ["verdict", "score"], "additionalProperties": False}
FAMILY = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini", "openrouter": "openai", "groq": "openai",
          "ollama": "ollama"}


class Harness:
    def __init__(self, upstream: FakeUpstream, gateway: Gateway) -> None:
        self.upstream, self.gateway = upstream, gateway

    async def ask(self, **kw: Any) -> ChatResult:
        _, result = await self.gateway.complete("c", ChatRequest(messages=[Message("user", "judge this")], **kw))
        return result

    async def fail(self, **kw: Any) -> SynapseError:
        with pytest.raises(SynapseError) as caught:
            await self.ask(**kw)
        return caught.value

    def sent(self, path: str | None = None) -> list[Any]:
        path = path or self.upstream.chat_path
        return [r.body for r in self.upstream.requests if r.path == path]


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstreams: list[FakeUpstream]):
    gateways: list[Gateway] = []

    async def build(provider: str, model: str, **options: str) -> Harness:
        monkeypatch.setenv("TEST_KEY", "sk-test-R3as0nKey0123456789")
        upstream = FakeUpstream(FAMILY[provider], model=model).start()
        upstreams.append(upstream)
        store = ConfigStore(tmp_path / f"config-{len(upstreams)}.toml")
        store.load()
        conn = ConnectionConfig(provider=provider, model=model, base_url=upstream.base_url, credential="env:TEST_KEY",
                                timeout_s=5.0, options=options)
        await store.mutate(lambda c: msgspec.structs.replace(c, connections={"c": conn}))
        gateway = Gateway(store)
        gateways.append(gateway)
        return Harness(upstream, gateway)

    yield build
    # Gateways close with their sessions at the end of each test's loop.


# ---- the member each level sends ---------------------------------------------------------------------

@pytest.mark.parametrize(("level", "effort"), [("none", "none"), ("low", "low"), ("medium", "medium"), ("high", "high"),
                                               ("max", "xhigh")])
async def test_openai_sends_reasoning_effort_for_each_level(make, level: str, effort: str) -> None:
    h = await make("openai", "gpt-5.2")
    h.upstream.reply_chat(openai_reasoning_chat("pong"))
    result = await h.ask(reasoning=level)
    assert h.sent()[-1]["reasoning_effort"] == effort
    assert result.reasoning_tokens == 40 and result.cache_read_tokens == 8
    await h.gateway.close()


async def test_openai_include_reasoning_on_chat_completions_says_none_is_given(make) -> None:
    h = await make("openai", "gpt-5.2")
    result = await h.ask(reasoning="low", include_reasoning=True)
    assert result.reasoning_summary is None and "Responses API" in (result.reasoning_note or "")
    await h.gateway.close()


@pytest.mark.parametrize(("level", "thinking", "effort"), [
    ("none", {"type": "disabled"}, None), ("low", {"type": "adaptive"}, "low"), ("high", {"type": "adaptive"}, "high"),
    ("max", {"type": "adaptive"}, "max")])
async def test_anthropic_adaptive_models_get_adaptive_thinking_and_effort(make, level: str, thinking: dict[str, Any],
                                                                          effort: str | None) -> None:
    h = await make("anthropic", "claude-opus-4-8")
    await h.ask(reasoning=level)
    body = h.sent()[-1]
    assert body["thinking"] == thinking and "budget_tokens" not in str(body)
    assert body.get("output_config", {}).get("effort") == effort
    await h.gateway.close()


async def test_anthropic_older_thinking_models_get_a_budget_with_max_tokens_above_it(make) -> None:
    h = await make("anthropic", "claude-sonnet-4-5-20250929")
    await h.ask(reasoning="medium", max_output_tokens=1000)
    body = h.sent()[-1]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192} and body["max_tokens"] == 9192
    await h.gateway.close()


async def test_anthropic_thinking_summary_cache_tokens_and_their_price(make) -> None:
    h = await make("anthropic", "claude-opus-4-8")
    h.upstream.reply_chat(anthropic_thinking_chat("pong", "I weighed both options."))
    result = await h.ask(reasoning="high", include_reasoning=True)
    assert h.sent()[-1]["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert result.text == "pong" and result.reasoning_summary == "I weighed both options."
    assert result.input_tokens == 1212 and result.cache_read_tokens == 1000 and result.cache_write_tokens == 200
    assert result.reasoning_tokens == 70
    # Opus 4.8: $5 input, $0.50 cache read, $6.25 cache write, $25 output per million tokens.
    assert result.cost_source == "ESTIMATED"
    assert result.cost_usd == pytest.approx((12 * 5 + 1000 * 0.5 + 200 * 6.25 + 80 * 25) / 1e6)
    await h.gateway.close()


@pytest.mark.parametrize(("model", "level", "config"), [
    ("gemini-3.1-pro-preview", "medium", {"thinkingLevel": "medium"}),
    ("gemini-3-pro-preview", "max", {"thinkingLevel": "high"}),
    ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
    ("gemini-2.5-pro", "low", {"thinkingBudget": 1024}),
])
async def test_gemini_sends_thinking_level_or_budget(make, model: str, level: str, config: dict[str, Any]) -> None:
    h = await make("gemini", model)
    await h.ask(reasoning=level)
    assert h.sent()[-1]["generationConfig"]["thinkingConfig"] == config
    await h.gateway.close()


async def test_gemini_thought_summary_is_returned_apart_from_the_answer(make) -> None:
    h = await make("gemini", "gemini-3.1-pro-preview")
    h.upstream.reply_chat(gemini_thinking_chat("pong", "Considering the options."))
    result = await h.ask(reasoning="high", include_reasoning=True)
    assert h.sent()[-1]["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "high", "includeThoughts": True}
    assert result.text == "pong" and result.reasoning_summary == "Considering the options."
    assert result.reasoning_tokens == 50 and result.output_tokens == 53 and result.cache_read_tokens == 4
    await h.gateway.close()


async def test_openrouter_gets_its_reasoning_object(make) -> None:
    h = await make("openrouter", "anthropic/claude-opus-4.8")
    await h.ask(reasoning="max")
    body = h.sent()[-1]
    assert body["reasoning"] == {"effort": "xhigh"} and "reasoning_effort" not in body
    await h.gateway.close()


# ---- refused before anything is sent ---------------------------------------------------------------------

@pytest.mark.parametrize(("provider", "model", "level"), [
    ("openai", "gpt-4o-mini", "high"), ("openai", "gpt-5-pro", "low"), ("anthropic", "claude-3-5-haiku-latest", "low"),
    ("gemini", "gemini-2.5-pro", "none"), ("groq", "openai/gpt-oss-120b", "high"), ("ollama", "llama3.2", "low")])
async def test_a_level_the_model_cannot_take_is_refused_with_nothing_sent(make, provider: str, model: str,
                                                                          level: str) -> None:
    h = await make(provider, model)
    error = await h.fail(reasoning=level)
    assert error.kind == "bad_request" and error.detail["field"] == "reasoning" and model in error.message
    assert h.upstream.requests == []
    await h.gateway.close()


async def test_a_schema_where_the_service_documents_none_is_refused_with_nothing_sent(make) -> None:
    h = await make("groq", "llama-3.3-70b-versatile")
    await h.gateway.config_store.mutate(lambda c: c.with_connection("c", msgspec.structs.replace(
        c.connections["c"], provider="deepseek")))
    error = await h.fail(response_schema=SCHEMA)
    assert error.kind == "bad_request" and error.detail["field"] == "response_schema"
    assert h.upstream.requests == []
    await h.gateway.close()


async def test_the_connections_default_reasoning_applies_when_the_call_names_none(make) -> None:
    h = await make("openai", "gpt-5.2", reasoning="low")
    await h.ask()
    await h.ask(reasoning="high")
    assert [b["reasoning_effort"] for b in h.sent()] == ["low", "high"]
    await h.gateway.close()


# ---- structured answers ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("provider", "model"), [("openai", "gpt-5.2"), ("anthropic", "claude-opus-4-8"),
                                                 ("gemini", "gemini-3.1-pro-preview"), ("ollama", "llama3.2")])
async def test_a_schema_answer_comes_back_parsed_as_json(make, provider: str, model: str) -> None:
    h = await make(provider, model)
    h.upstream.reply_chat(h.upstream.family.chat_ok('{"verdict": "sound", "score": 4}'))
    result = await h.ask(response_schema=SCHEMA)
    assert result.json == {"verdict": "sound", "score": 4}
    body = h.sent()[-1]
    sent = {"openai": lambda b: b["response_format"]["json_schema"]["schema"],
            "anthropic": lambda b: b["output_config"]["format"]["schema"],
            "gemini": lambda b: b["generationConfig"]["responseJsonSchema"],
            "ollama": lambda b: b["format"]}[provider](body)
    assert sent == SCHEMA
    await h.gateway.close()


@pytest.mark.parametrize(("answer", "says"), [('{"verdict": "sound"}', "'score' is a required property"),
                                              ("Sure! Here it is: {", "not JSON")])
async def test_a_mismatch_is_schema_mismatch_after_exactly_one_request(make, answer: str, says: str) -> None:
    h = await make("openai", "gpt-5.2")
    h.upstream.reply_chat(h.upstream.family.chat_ok(answer))
    error = await h.fail(response_schema=SCHEMA)
    assert error.kind == "schema_mismatch" and says in error.message
    assert error.detail["raw_answer"] == answer
    assert len(h.sent()) == 1
    await h.gateway.close()


@pytest.mark.parametrize(("schema", "says"), [({"type": "object", "properties": {"a": {"type": "strnig"}}}, "not a valid"),
                                              ({"type": "string"}, "object at its top level"),
                                              ("not a schema", "JSON Schema object")])
async def test_a_bad_schema_is_refused_before_sending(make, schema: Any, says: str) -> None:
    from synapsed.gateway import build_chat_request

    with pytest.raises(SynapseError) as caught:
        build_chat_request([Message("user", "x")], response_schema=schema)
    assert caught.value.kind == "bad_request" and says in caught.value.message


def test_a_schema_too_deep_or_too_big_is_refused() -> None:
    from synapsed import structured

    deep: dict[str, Any] = {"type": "object"}
    node = deep
    for _ in range(40):
        node["properties"] = {"x": {"type": "object"}}
        node = node["properties"]["x"]
    with pytest.raises(SynapseError, match="deeper"):
        structured.check_schema(deep)
    big = {"type": "object", "properties": {f"p{i}": {"type": "string", "description": "x" * 100} for i in range(1000)}}
    with pytest.raises(SynapseError, match="bytes"):
        structured.check_schema(big)


# ---- OpenAI's Responses API -------------------------------------------------------------------------------

async def test_a_pro_model_is_called_on_the_responses_api_with_store_false_and_its_effort(make) -> None:
    h = await make("openai", "gpt-5.2-pro")
    h.upstream.routes[("POST", "/v1/responses")] = openai_response("deep answer", summary="weighed it")
    result = await h.ask(reasoning="max", include_reasoning=True, max_output_tokens=2000)
    (body,) = h.sent("/v1/responses")
    assert body["store"] is False and body["reasoning"] == {"effort": "xhigh", "summary": "auto"}
    assert body["max_output_tokens"] == 2000 and body["input"] == [{"role": "user", "content": "judge this"}]
    assert h.sent() == []  # nothing went to /chat/completions
    assert result.text == "deep answer" and result.reasoning_summary == "weighed it"
    assert result.endpoint == "responses" and result.reasoning_tokens == 64
    await h.gateway.close()


async def test_the_store_option_lets_openai_keep_the_response(make) -> None:
    h = await make("openai", "gpt-5-pro", store="true")
    h.upstream.routes[("POST", "/v1/responses")] = openai_response("ok")
    await h.ask()
    assert h.sent("/v1/responses")[-1]["store"] is True
    await h.gateway.close()


async def test_a_responses_error_maps_into_the_same_taxonomy(make) -> None:
    h = await make("openai", "gpt-5-pro")
    h.upstream.routes[("POST", "/v1/responses")] = Canned(429, {"error": {"message": "slow down", "type": "requests",
                                                                            "param": None, "code": "rate_limit_exceeded"}})
    assert (await h.fail()).kind == "rate_limited"
    assert len(h.sent("/v1/responses")) == 1
    await h.gateway.close()
