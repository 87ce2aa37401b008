"""synapsed/model_limits.py: what a model can take, refused before sending with the numbers."""

from __future__ import annotations

import pytest

from synapsed.errors import SynapseError
from synapsed.model_limits import check, estimate, window
from synapsed.protocol import ChatRequest, ImageFile, Message, TextFile
from synapsed.providers import prompt_cache

IMAGE = ImageFile(media_type="image/png", data="iVBORw0KGgo=", size=8, path="/w/a.png")


def _request(chars: int, images: int = 0, out: int | None = None) -> ChatRequest:
    return ChatRequest(messages=[Message("user", "x" * chars, attachments=[IMAGE] * images)], max_output_tokens=out)


def test_the_window_comes_from_the_table_or_the_connection_option() -> None:
    assert window("gpt-4o-mini", {}) == 128_000 and window("claude-haiku-4-5", {}) == 200_000
    assert window("us.anthropic.claude-haiku-4-5-20251001-v1:0", {}) == 200_000  # Bedrock ids carry the name
    assert window("llama3.2", {}) is None and window("llama3.2", {"max_input_tokens": "8192"}) == 8192


@pytest.mark.parametrize(("model", "expected"), [
    ("claude-opus-5-5", 1_000_000), ("claude-opus-5", 1_000_000), ("claude-sonnet-5-5", 1_000_000),
    ("claude-sonnet-5", 1_000_000), ("claude-haiku-5-5", 1_000_000), ("claude-fable-5-1", 1_000_000),
    ("claude-opus-4-7", 1_000_000), ("claude-opus-4-6", 1_000_000), ("claude-sonnet-4-6", 1_000_000),
    ("claude-opus-4-5-20251101", 200_000), ("claude-sonnet-4-5-20250929", 200_000),
    ("global.anthropic.claude-opus-4-7", 1_000_000),
])
def test_current_claude_models_have_their_pages_windows(model: str, expected: int) -> None:
    assert window(model, {}) == expected


def test_an_estimated_overflow_is_context_too_long_with_the_numbers() -> None:
    with pytest.raises(SynapseError) as refused:
        check("openai", "gpt-4o", {}, _request(510_000, out=1000), takes_images=True)
    error = refused.value
    assert error.kind == "context_too_long" and error.detail["window"] == 128_000
    assert error.detail["estimated_tokens"] == 127_500 + 1000 and "128,000-token window" in error.message


def test_files_count_toward_the_window() -> None:
    big = TextFile(path="/w/big.txt", text="y" * 40_000, size=40_000)
    request = ChatRequest(messages=[Message("user", "q", attachments=[big])])
    assert estimate(request) > 10_000
    with pytest.raises(SynapseError):
        check("ollama", "llama3.2", {"max_input_tokens": "8192"}, request, takes_images=True)


def test_an_unknown_model_without_the_option_is_left_to_the_provider() -> None:
    check("openai", "some-new-model", {}, _request(3_000_000), takes_images=True)


def test_images_to_a_text_only_model_or_adapter_are_bad_requests() -> None:
    for provider, model, takes in (("openai", "gpt-3.5-turbo", True), ("custom-rest", "x", False)):
        with pytest.raises(SynapseError) as refused:
            check(provider, model, {}, _request(10, images=1), takes_images=takes)
        assert refused.value.kind == "bad_request" and refused.value.detail["field"] == "files"


def test_images_over_the_providers_count_limit_are_refused() -> None:
    with pytest.raises(SynapseError) as refused:
        check("bedrock", "anthropic.claude-haiku-4-5", {}, _request(10, images=21), takes_images=True)
    assert "at most 20" in refused.value.message


def test_cache_minimums_follow_the_model() -> None:
    assert prompt_cache.minimum("claude-haiku-4-5") == 4096 and prompt_cache.minimum("claude-sonnet-4-5") == 1024
    short = ChatRequest(messages=[Message("user", "a" * 100)], system="s" * 5000)
    plan = prompt_cache.plan(short, "claude-sonnet-4-5", "5m")
    assert plan is not None and plan.system  # 1,250 tokens of system: over Sonnet's 1,024
    assert prompt_cache.plan(short, "claude-haiku-4-5", "5m") is None  # under Haiku 4.5's 4,096
