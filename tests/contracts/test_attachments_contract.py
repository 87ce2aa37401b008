"""Files and images as each API's own parts, and Claude's cache breakpoints, against the
providers' published schemas: OpenAI's OpenAPI document (chat completions and the Responses
API), Anthropic's SDK types, google-genai's types, botocore's Converse model. Each family has a
misspelling that fails, so a check that cannot fail would show."""

from __future__ import annotations

import base64
import typing
from typing import Any

import pytest

from synapsed.config import ConnectionConfig
from synapsed.protocol import ChatRequest, ImageFile, Message, TextFile
from synapsed.providers import responses
from synapsed.providers.anthropic import message_body
from synapsed.providers.base import CallContext
from synapsed.providers.bedrock import converse_body
from synapsed.providers.gemini import content_body
from synapsed.providers.openai import chat_body
from tests.contracts.schemas import (
    ContractError,
    anthropic_validate_request,
    bedrock_validate,
    genai_validate_request,
    openai_validate,
)

PNG = base64.b64encode(base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")).decode()
IMAGE = ImageFile(media_type="image/png", data=PNG, size=70, path="/w/shot.png")
CODE = TextFile(path="/w/app.py", text="def f():\n    return 1\n" * 400, size=9200)  # long enough to cache
ASKED = Message("user", "review this", attachments=[CODE, IMAGE])
THREAD = ChatRequest(messages=[Message("user", "earlier question " * 800), Message("assistant", "earlier answer"),
                               ASKED], system="be exact " * 2000, max_output_tokens=512)


def _ctx(provider: str, model: str, **options: str) -> CallContext:
    conn = ConnectionConfig(provider=provider, model=model, credential="env:X", options=options)
    return CallContext("c", conn, "http://127.0.0.1:9/v1", "k", None, 1024)  # type: ignore[arg-type]


# ---- OpenAI ------------------------------------------------------------------------------------------

def test_openai_chat_text_and_image_url_parts_are_a_valid_request() -> None:
    body = chat_body(_ctx("openai", "gpt-5.2"), THREAD, "max_completion_tokens")
    parts = body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    openai_validate("CreateChatCompletionRequest", body, strict=True)


def test_openai_misspelled_image_part_fails_the_contract() -> None:
    body = chat_body(_ctx("openai", "gpt-5.2"), THREAD, "max_completion_tokens")
    body["messages"][-1]["content"][1]["image_url"] = {"ur1": "data:image/png;base64,x"}
    with pytest.raises(ContractError):
        openai_validate("CreateChatCompletionRequest", body, strict=True)


def test_responses_input_text_and_input_image_are_a_valid_create_response() -> None:
    body = responses.body(_ctx("openai", "gpt-5.2-pro"), THREAD, "gpt-5.2-pro")
    assert [p["type"] for p in body["input"][-1]["content"]] == ["input_text", "input_image", "input_text"]
    # The document's input items are a oneOf in which a user message with a parts list matches both
    # EasyInputMessage and InputMessage (the API takes it): each item is checked on its own.
    for item in body["input"]:
        openai_validate("EasyInputMessage", item, strict=True)
    openai_validate("CreateResponse", {**body, "input": "text"}, strict=True)


def test_a_text_only_request_keeps_plain_string_content() -> None:
    body = chat_body(_ctx("openai", "gpt-5.2"), ChatRequest(messages=[Message("user", "hi")]), "max_completion_tokens")
    assert body["messages"] == [{"role": "user", "content": "hi"}]


# ---- Anthropic -----------------------------------------------------------------------------------------

def _block_keys() -> set[str]:
    from anthropic.types import CacheControlEphemeralParam, ImageBlockParam, TextBlockParam

    hints = [typing.get_type_hints(t) for t in (TextBlockParam, ImageBlockParam, CacheControlEphemeralParam)]
    return set().union(*hints) | {"source", "media_type", "data"}


def _anthropic_valid(body: dict[str, Any]) -> None:
    anthropic_validate_request(body)
    known = _block_keys()
    for container in [*body["messages"], {"content": body.get("system")}]:
        blocks = container["content"] if isinstance(container["content"], list) else []
        for block in blocks:
            nested = {**block, **block.get("source", {}), **block.get("cache_control", {})}
            unknown = set(nested) - known
            if unknown:
                raise ContractError(f"Anthropic content block: unknown member(s) {sorted(unknown)}")


def test_anthropic_image_blocks_and_cache_breakpoints_are_a_valid_request() -> None:
    body = {"model": "claude-opus-4-8", **message_body(THREAD, "claude-opus-4-8")}
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][1]["content"][-1]["cache_control"] == {"type": "ephemeral"}  # the earlier turns
    files, image, question = body["messages"][-1]["content"]
    assert image["type"] == "image" and image["cache_control"] == {"type": "ephemeral"} and "cache_control" not in question
    assert sum(str(block).count("cache_control") for m in body["messages"] for block in m["content"]) + 1 <= 4
    _anthropic_valid(body)


def test_anthropic_one_hour_cache_and_off() -> None:
    hour = {"model": "claude-opus-4-8", **message_body(THREAD, "claude-opus-4-8", "1h")}
    assert hour["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    _anthropic_valid(hour)
    off = message_body(THREAD, "claude-opus-4-8", "off")
    assert "cache_control" not in str(off) and isinstance(off["system"], str)


def test_a_short_prompt_carries_no_breakpoint() -> None:
    body = message_body(ChatRequest(messages=[Message("user", "hi")], system="short"), "claude-opus-4-8")
    assert body["messages"] == [{"role": "user", "content": "hi"}] and body["system"] == "short"


def test_anthropic_misspelled_cache_control_fails_the_contract() -> None:
    body = {"model": "claude-opus-4-8", **message_body(THREAD, "claude-opus-4-8")}
    body["messages"][1]["content"][-1]["cache_contrl"] = body["messages"][1]["content"][-1].pop("cache_control")
    with pytest.raises(ContractError, match="cache_contrl"):
        _anthropic_valid(body)


# ---- Gemini --------------------------------------------------------------------------------------------

def test_gemini_inline_data_is_a_valid_generate_content_request() -> None:
    body = content_body(THREAD, "gemini-3.1-pro-preview")
    parts = body["contents"][-1]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    genai_validate_request(body)


def test_gemini_misspelled_inline_data_fails_the_contract() -> None:
    body = content_body(THREAD, "gemini-3.1-pro-preview")
    body["contents"][-1]["parts"][1] = {"inlineDat": body["contents"][-1]["parts"][1]["inlineData"]}
    with pytest.raises(ContractError):
        genai_validate_request(body)


# ---- Bedrock Converse ----------------------------------------------------------------------------------

def test_bedrock_image_bytes_and_claude_cache_points_are_a_valid_converse_request() -> None:
    model = "us.anthropic.claude-opus-4-8-v1:0"
    body = converse_body(THREAD, model)
    assert {"cachePoint": {"type": "default"}} in body["system"]
    last = body["messages"][-1]["content"]
    assert last[1]["image"]["format"] == "png" and last[2] == {"cachePoint": {"type": "default"}}
    bedrock_validate("bedrock-runtime", "Converse", {"modelId": model, **body})


def test_bedrock_without_claude_sends_no_cache_point() -> None:
    body = converse_body(THREAD, "amazon.nova-pro-v1:0")
    assert "cachePoint" not in str(body)
    bedrock_validate("bedrock-runtime", "Converse", {"modelId": "amazon.nova-pro-v1:0", **body})


def test_bedrock_misspelled_cache_point_fails_the_contract() -> None:
    model = "us.anthropic.claude-opus-4-8-v1:0"
    body = converse_body(THREAD, model)
    body["system"][-1] = {"cachePoin": {"type": "default"}}
    with pytest.raises(ContractError):
        bedrock_validate("bedrock-runtime", "Converse", {"modelId": model, **body})
