"""What the providers' schemas showed we dropped: cached input tokens, withheld answers and
refusals are read, not lost."""

from __future__ import annotations

import json
from typing import Any

import pytest

from synapsed.errors import SynapseError
from synapsed.providers.anthropic import message_result
from synapsed.providers.bedrock import converse_result
from synapsed.providers.gemini import content_result
from synapsed.providers.http import Reply, decode_json, decode_or_none
from synapsed.providers.openai import completion_result
from tests.contracts.schemas import anthropic_validate, bedrock_validate, genai_validate, openai_validate


def _reply(body: Any) -> Reply:
    return Reply(200, {}, json.dumps(body).encode(), 1.0)


def test_anthropic_cached_input_counts_as_input() -> None:
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-8", "stop_reason": "end_turn",
            "stop_sequence": None, "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 5, "output_tokens": 2, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 900}}
    anthropic_validate("Message", body)
    assert message_result(_reply(body)).input_tokens == 1005


def test_anthropic_one_hour_cache_writes_are_read_apart() -> None:
    body = {"id": "msg_3", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5",
            "stop_reason": "end_turn", "stop_sequence": None, "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 5, "output_tokens": 2, "cache_creation_input_tokens": 3000,
                      "cache_read_input_tokens": 0, "cache_creation": {"ephemeral_5m_input_tokens": 1000,
                                                                        "ephemeral_1h_input_tokens": 2000}}}
    anthropic_validate("Message", body)
    result = message_result(_reply(body))
    assert (result.cache_write_tokens, result.cache_write_1h_tokens) == (3000, 2000)


def test_anthropic_refusal_is_reported_as_its_finish_reason() -> None:
    body = {"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-opus-4-8", "stop_reason": "refusal",
            "stop_sequence": None, "content": [], "usage": {"input_tokens": 5, "output_tokens": 0}}
    anthropic_validate("Message", body)
    result = message_result(_reply(body))
    assert result.text == "" and result.finish_reason == "refusal"


def test_openai_refusal_text_is_the_answer() -> None:
    body = {"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8,
                      "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 4}}}
    openai_validate("CreateChatCompletionResponse", body)
    result = completion_result(_reply(body), "gpt-4o")
    assert result.text == "I can't help with that." and result.output_tokens == 5  # reasoning is inside completion_tokens


@pytest.mark.parametrize("reason", ["SAFETY", "PROHIBITED_CONTENT", "RECITATION"])
def test_gemini_withheld_answer_is_a_bad_request_not_an_empty_success(reason: str) -> None:
    body = {"candidates": [{"finishReason": reason, "index": 0}], "usageMetadata": {"promptTokenCount": 4}}
    genai_validate("GenerateContentResponse", body)
    with pytest.raises(SynapseError) as caught:
        content_result(_reply(body), "gemini-2.5-flash")
    assert caught.value.kind == "bad_request" and reason in caught.value.message


def test_gemini_thinking_tokens_count_as_output() -> None:
    body = {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "thoughtsTokenCount": 30,
                              "cachedContentTokenCount": 2}}
    genai_validate("GenerateContentResponse", body)
    assert content_result(_reply(body), "gemini-2.5-flash").output_tokens == 31


def test_bedrock_guardrail_without_text_is_a_bad_request() -> None:
    body = {"output": {"message": {"role": "assistant", "content": []}}, "stopReason": "content_filtered",
            "usage": {"inputTokens": 4, "outputTokens": 0, "totalTokens": 4}, "metrics": {"latencyMs": 10}}
    bedrock_validate("bedrock-runtime", "Converse", body, output=True)
    with pytest.raises(SynapseError) as caught:
        converse_result(_reply(body), "amazon.nova-lite-v1:0")
    assert caught.value.kind == "bad_request"


def test_bedrock_cache_reads_count_as_input() -> None:
    body = {"output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": 4, "outputTokens": 1, "totalTokens": 5, "cacheReadInputTokens": 50,
                      "cacheWriteInputTokens": 6}, "metrics": {"latencyMs": 10}}
    bedrock_validate("bedrock-runtime", "Converse", body, output=True)
    assert converse_result(_reply(body), "amazon.nova-lite-v1:0").input_tokens == 60


def test_bedrock_one_hour_cache_writes_are_read_from_cache_details() -> None:
    body = {"output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": 4, "outputTokens": 1, "totalTokens": 3005, "cacheWriteInputTokens": 3000,
                      "cacheDetails": [{"ttl": "1h", "inputTokens": 2000}, {"ttl": "5m", "inputTokens": 1000}]},
            "metrics": {"latencyMs": 10}}
    bedrock_validate("bedrock-runtime", "Converse", body, output=True)
    result = converse_result(_reply(body), "anthropic.claude-opus-4-8")
    assert (result.cache_write_tokens, result.cache_write_1h_tokens) == (3000, 2000)
    plain = {**body, "usage": {"inputTokens": 4, "outputTokens": 1, "totalTokens": 5}}
    assert converse_result(_reply(plain), "anthropic.claude-opus-4-8").cache_write_1h_tokens is None


def test_an_upstream_body_nested_past_the_interpreters_limit_is_malformed_not_internal() -> None:
    garbage = Reply(200, {}, b"[" * 5000 + b"]" * 5000, 1.0)
    with pytest.raises(SynapseError) as bad:
        decode_json(garbage, "a chat completion")
    assert bad.value.kind == "upstream_malformed"
    assert decode_or_none(Reply(400, {}, garbage.body, 1.0)) is None  # an error body read for its message
