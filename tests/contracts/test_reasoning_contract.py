"""The reasoning and structured-output members each adapter sends, against the providers' own
schemas: OpenAI's OpenAPI document (chat completions and the Responses API), Anthropic's SDK
types, google-genai's types, botocore's Converse model. Each family has a misspelling that fails."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from synapsed.config import ConnectionConfig
from synapsed.protocol import ChatRequest, Message
from synapsed.providers import responses
from synapsed.providers.anthropic import message_body
from synapsed.providers.base import CallContext
from synapsed.providers.bedrock import converse_body
from synapsed.providers.gemini import content_body
from synapsed.providers.openai import chat_body
from tests.contracts.schemas import (
    ContractError,
    anthropic_validate,
    anthropic_validate_request,
    bedrock_validate,
    genai_validate,
    genai_validate_request,
    openai_validate,
)
from tests.support.fake_upstream import (
    anthropic_thinking_chat,
    gemini_thinking_chat,
    openai_reasoning_chat,
    openai_response,
)

SCHEMA = {"type": "object", "properties": {"verdict": {"type": "string"}, "score": {"type": "integer"}},
          "required": ["verdict", "score"], "additionalProperties": False}
BASE = ChatRequest(messages=[Message("user", "is this right?")], system="be exact", max_output_tokens=512)


def _with(**changes: Any) -> ChatRequest:
    return msgspec.structs.replace(BASE, **changes)


def _ctx(provider: str, model: str, **options: str) -> CallContext:
    conn = ConnectionConfig(provider=provider, model=model, credential="env:X", options=options)
    return CallContext("c", conn, "http://127.0.0.1:9/v1", "k", None, 1024)  # type: ignore[arg-type]


# ---- OpenAI chat completions ----------------------------------------------------------------------

@pytest.mark.parametrize("level", ["none", "low", "medium", "high", "max"])
def test_openai_reasoning_effort_is_a_valid_chat_request(level: str) -> None:
    body = chat_body(_ctx("openai", "gpt-5.2"), _with(reasoning=level), "max_completion_tokens")
    assert body["reasoning_effort"] == ("xhigh" if level == "max" else level)
    openai_validate("CreateChatCompletionRequest", body, strict=True)


def test_openai_response_format_json_schema_is_a_valid_chat_request() -> None:
    body = chat_body(_ctx("openai", "gpt-5.2"), _with(response_schema=SCHEMA), "max_completion_tokens")
    assert body["response_format"]["json_schema"]["strict"] is True
    openai_validate("CreateChatCompletionRequest", body, strict=True)


def test_openai_misspelled_reasoning_effort_fails_the_contract() -> None:
    body = chat_body(_ctx("openai", "gpt-5.2"), _with(reasoning="high"), "max_completion_tokens")
    body["reasoning_efort"] = body.pop("reasoning_effort")
    with pytest.raises(ContractError, match="reasoning_efort"):
        openai_validate("CreateChatCompletionRequest", body, strict=True)


def test_the_fake_reasoning_chat_reply_is_a_valid_chat_completion() -> None:
    openai_validate("CreateChatCompletionResponse", openai_reasoning_chat("ok").json)


# ---- OpenAI Responses API -------------------------------------------------------------------------

def test_a_responses_body_with_effort_summary_and_schema_is_a_valid_create_response() -> None:
    body = responses.body(_ctx("openai", "gpt-5.2-pro"), _with(reasoning="max", include_reasoning=True,
                                                                response_schema=SCHEMA), "gpt-5.2-pro")
    assert body["store"] is False and body["reasoning"] == {"effort": "xhigh", "summary": "auto"}
    assert body["instructions"] == "be exact" and "previous_response_id" not in body
    openai_validate("CreateResponse", body, strict=True)


def test_a_misspelled_responses_member_fails_the_contract() -> None:
    body = responses.body(_ctx("openai", "gpt-5-pro"), _with(reasoning="high"), "gpt-5-pro")
    body["max_tokens"] = body.pop("max_output_tokens")
    with pytest.raises(ContractError, match="max_tokens"):
        openai_validate("CreateResponse", body, strict=True)


@pytest.mark.parametrize("summary", [None, "thought it through"])
def test_the_fake_responses_reply_is_a_valid_response(summary: str | None) -> None:
    openai_validate("Response", openai_response("pong", summary).json)


# ---- Anthropic --------------------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["none", "low", "medium", "high", "max"])
def test_anthropic_adaptive_thinking_and_effort_are_a_valid_message_request(level: str) -> None:
    body = {"model": "claude-opus-4-8", **message_body(_with(reasoning=level, include_reasoning=True), "claude-opus-4-8")}
    assert "budget_tokens" not in str(body)
    anthropic_validate_request(body)


@pytest.mark.parametrize("level", ["low", "max"])
def test_anthropic_thinking_budget_for_older_models_is_a_valid_message_request(level: str) -> None:
    body = {"model": "claude-sonnet-4-5", **message_body(_with(reasoning=level), "claude-sonnet-4-5")}
    assert body["max_tokens"] > body["thinking"]["budget_tokens"]
    anthropic_validate_request(body)


def test_anthropic_output_config_format_is_a_valid_message_request() -> None:
    anthropic_validate_request({"model": "claude-opus-4-8", **message_body(_with(response_schema=SCHEMA), "claude-opus-4-8")})


def test_anthropic_misspelled_output_config_fails_the_contract() -> None:
    body = {"model": "claude-opus-4-8", **message_body(_with(reasoning="high"), "claude-opus-4-8")}
    body["output_confg"] = body.pop("output_config")
    with pytest.raises(ContractError, match="output_confg"):
        anthropic_validate_request(body)


def test_the_fake_thinking_reply_is_a_valid_message() -> None:
    anthropic_validate("Message", anthropic_thinking_chat("pong").json)


# ---- Gemini ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "level"), [("gemini-3.1-pro-preview", "medium"), ("gemini-3-flash-preview", "low"),
                                              ("gemini-2.5-flash", "none"), ("gemini-2.5-pro", "max")])
def test_gemini_thinking_config_is_a_valid_generate_content_request(model: str, level: str) -> None:
    body = content_body(_with(reasoning=level, include_reasoning=True, response_schema=SCHEMA), model)
    genai_validate_request(body)


def test_gemini_misspelled_thinking_config_fails_the_contract() -> None:
    body = content_body(_with(reasoning="low"), "gemini-3.1-pro-preview")
    body["generationConfig"]["thinkingConfig"]["thinkingLvl"] = body["generationConfig"]["thinkingConfig"].pop("thinkingLevel")
    with pytest.raises(ContractError, match="thinkingLvl"):
        genai_validate_request(body)


def test_the_fake_thought_reply_is_a_valid_response() -> None:
    genai_validate("GenerateContentResponse", gemini_thinking_chat("pong").json)


# ---- Bedrock Converse ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "level"), [("us.anthropic.claude-opus-4-8-v1:0", "high"),
                                              ("anthropic.claude-sonnet-4-5-20250929-v1:0", "medium")])
def test_bedrock_claude_thinking_and_output_config_are_a_valid_converse_request(model: str, level: str) -> None:
    body = converse_body(_with(reasoning=level, response_schema=SCHEMA), model)
    assert "thinking" in body["additionalModelRequestFields"]
    bedrock_validate("bedrock-runtime", "Converse", {"modelId": model, **body})


def test_bedrock_misspelled_output_config_fails_the_contract() -> None:
    body = converse_body(_with(reasoning="high"), "us.anthropic.claude-opus-4-8-v1:0")
    body["outputConfig"]["efort"] = body["outputConfig"].pop("effort")
    with pytest.raises(ContractError, match="efort"):
        bedrock_validate("bedrock-runtime", "Converse", {"modelId": "m", **body})
