"""model_rules.py: which value each API gets for each level, model by model, and what is refused."""

from __future__ import annotations

import pytest

from synapsed import model_rules
from synapsed.errors import SynapseError

LEVELS = ("none", "low", "medium", "high", "max")
# provider, model -> the API value per level (None: refused before sending).
TABLE = {
    ("openai", "gpt-5.2"): ("none", "low", "medium", "high", "xhigh"),
    ("openai", "gpt-5.4-mini"): ("none", "low", "medium", "high", "xhigh"),
    ("openai", "gpt-5.1"): ("none", "low", "medium", "high", "high"),
    ("openai", "gpt-5"): (None, "low", "medium", "high", "high"),
    ("openai", "gpt-5-mini-2025-08-07"): (None, "low", "medium", "high", "high"),
    ("openai", "o3"): (None, "low", "medium", "high", "high"),
    ("openai", "o4-mini"): (None, "low", "medium", "high", "high"),
    ("openai", "gpt-5-pro"): (None, None, None, "high", "high"),
    ("openai", "gpt-5.2-pro"): (None, None, "medium", "high", "xhigh"),
    ("openai", "gpt-5.1-codex"): (None, "low", "medium", "high", "high"),
    ("openai", "gpt-5.1-codex-max"): (None, "low", "medium", "high", "xhigh"),
    ("openai", "gpt-4o-mini"): (None, None, None, None, None),
    ("azure-openai", "gpt-5.2"): ("none", "low", "medium", "high", "xhigh"),
    ("anthropic", "claude-opus-4-8"): ("disabled", "low", "medium", "high", "max"),
    ("anthropic", "claude-opus-4-7"): ("disabled", "low", "medium", "high", "max"),
    ("anthropic", "claude-sonnet-4-6"): ("disabled", "low", "medium", "high", "max"),
    ("anthropic", "claude-sonnet-4-5-20250929"): (0, 2048, 8192, 16384, 24576),
    ("anthropic", "claude-haiku-4-5"): (0, 2048, 8192, 16384, 24576),
    ("anthropic", "claude-opus-4-1"): (0, 2048, 8192, 16384, 24576),
    ("anthropic", "claude-3-5-haiku-latest"): (None, None, None, None, None),
    ("gemini", "gemini-3.1-pro-preview"): (None, "low", "medium", "high", "high"),
    ("gemini", "gemini-3-pro-preview"): (None, "low", None, "high", "high"),
    ("gemini", "gemini-3-flash-preview"): (None, "low", "medium", "high", "high"),
    ("gemini", "gemini-2.5-pro"): (None, 1024, 8192, 24576, 32768),
    ("gemini", "gemini-2.5-flash"): (0, 1024, 8192, 16384, 24576),
    ("gemini", "gemini-2.0-flash"): (None, None, None, None, None),
    ("vertex", "gemini-2.5-flash"): (0, 1024, 8192, 16384, 24576),
    ("vertex", "claude-opus-4-8@20260101"): ("disabled", "low", "medium", "high", "max"),
    ("bedrock", "us.anthropic.claude-opus-4-8-v1:0"): ("disabled", "low", "medium", "high", "max"),
    ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"): (0, 2048, 8192, 16384, 24576),
    ("bedrock", "amazon.nova-pro-v1:0"): (None, None, None, None, None),
    ("openrouter", "anthropic/claude-opus-4.8"): ("none", "low", "medium", "high", "xhigh"),
    ("groq", "openai/gpt-oss-120b"): (None, None, None, None, None),
    ("ollama", "llama3.2"): (None, None, None, None, None),
    ("mistral", "mistral-large-latest"): (None, None, None, None, None),
}


@pytest.mark.parametrize(("provider", "model", "level", "expected"),
                         [(p, m, lvl, v) for (p, m), values in TABLE.items() for lvl, v in zip(LEVELS, values, strict=True)])
def test_each_level_maps_to_the_apis_value_or_is_refused(provider: str, model: str, level: str, expected: object) -> None:
    if expected is None:
        with pytest.raises(SynapseError) as refused:
            model_rules.resolve(provider, model, level)
        assert refused.value.kind == "bad_request" and refused.value.detail["field"] == "reasoning"
        assert model in refused.value.message
    else:
        resolved = model_rules.resolve(provider, model, level)
        assert resolved is not None and resolved.value == expected


def test_no_level_is_no_reasoning_anywhere() -> None:
    assert model_rules.resolve("groq", "anything", None) is None


def test_a_refusal_says_what_the_model_takes() -> None:
    with pytest.raises(SynapseError) as refused:
        model_rules.resolve("openai", "gpt-5-pro", "low")
    assert "high" in (refused.value.hint or "") and "openai.com" in (refused.value.hint or "")


def test_an_unknown_model_follows_its_familys_current_rule() -> None:
    assert model_rules.resolve("openai", "gpt-7-turbo", "max").value == "xhigh"  # type: ignore[union-attr]
    assert model_rules.resolve("anthropic", "claude-fable-9", "low").value == "low"  # type: ignore[union-attr]
    assert model_rules.resolve("gemini", "gemini-4-pro", "medium").value == "medium"  # type: ignore[union-attr]


@pytest.mark.parametrize(("provider", "model", "endpoint"), [
    ("openai", "gpt-5-pro", "responses"), ("openai", "gpt-5.2-pro", "responses"), ("openai", "gpt-5.1-codex", "responses"),
    ("openai", "o3-pro", "responses"), ("openai", "gpt-5.2", "chat"), ("openai", "gpt-4o", "chat"),
    ("azure-openai", "gpt-5-pro", "responses"), ("groq", "gpt-5-pro", "chat"),
])
def test_the_endpoint_each_model_is_served_on(provider: str, model: str, endpoint: str) -> None:
    assert model_rules.endpoint_for(provider, model) == endpoint


def test_every_rule_cites_its_page() -> None:
    assert all(rule.source.startswith("https://") for rule in model_rules.RULES)
