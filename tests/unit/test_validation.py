"""DESIGN's rules for names, providers, models, credentials, options and base URLs."""

from __future__ import annotations

import pytest

from synapsed import validation as v
from synapsed.catalog import PROVIDERS
from synapsed.errors import SynapseError


@pytest.mark.parametrize("name", ["a", "openai-main", "x.y_z-1", "0" * 63])
def test_valid_names_pass(name: str) -> None:
    assert v.check_name(name) == name


@pytest.mark.parametrize("name", ["", "-lead", "Upper", "has space", "a" * 64, "slash/no", "ünï"])
def test_invalid_names_fail_with_the_rule_in_the_hint(name: str) -> None:
    with pytest.raises(SynapseError) as caught:
        v.check_name(name)
    assert caught.value.kind == "config_invalid"
    assert "1-63 chars" in caught.value.hint


def test_unknown_provider_lists_known_ones() -> None:
    with pytest.raises(SynapseError) as caught:
        v.check_provider("openia")
    assert "openai" in caught.value.hint and "azure-openai" in caught.value.hint


def test_every_design_provider_is_known() -> None:
    design = {"openai", "azure-openai", "anthropic", "gemini", "ollama", "groq", "openrouter", "deepseek", "xai",
              "mistral", "together", "huggingface", "fireworks", "cerebras", "perplexity", "nvidia", "lmstudio", "vllm",
              "openai-compatible", "bedrock", "vertex", "custom-rest"}
    assert set(PROVIDERS) == design


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-sonnet-4-5@20250929", "llama3.2:3b", "meta-llama/Llama-3.3-70B"])
def test_valid_models_pass(model: str) -> None:
    assert v.check_model(model) == model


@pytest.mark.parametrize("model", ["", "gpt 4o", "x" * 201, "\nmodel"])
def test_invalid_models_fail(model: str) -> None:
    with pytest.raises(SynapseError):
        v.check_model(model)


@pytest.mark.parametrize("timeout", [0, 0.5, 601, -1])
def test_timeouts_out_of_range_fail(timeout: float) -> None:
    with pytest.raises(SynapseError) as caught:
        v.check_timeout(timeout)
    assert "between 1 and 600" in caught.value.hint


@pytest.mark.parametrize("ref", ["keyring", "env:OPENAI_API_KEY", "file:/etc/keys/openai", "file:~/keys/x"])
def test_valid_credential_refs(ref: str) -> None:
    assert v.check_credential_ref(ref) == ref


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [("env:1BAD", "env:VARNAME"), ("env:", "env:VARNAME"), ("file:relative/key", "absolute"), ("sk-abc123", "keys never go in config.toml")],
)
def test_invalid_credential_refs_explain(ref: str, fragment: str) -> None:
    with pytest.raises(SynapseError) as caught:
        v.check_credential_ref(ref)
    assert fragment in caught.value.hint


def test_invalid_credential_ref_never_echoes_the_value() -> None:
    with pytest.raises(SynapseError) as caught:
        v.check_credential_ref("sk-proj-thisLooksLikeAKey123456")
    assert "thisLooksLikeAKey" not in caught.value.message


def test_options_unknown_and_missing_are_explained() -> None:
    with pytest.raises(SynapseError) as caught:
        v.check_options(PROVIDERS["openai"], {"deployment": "x"})
    assert "organization, project" in caught.value.hint
    with pytest.raises(SynapseError) as caught:
        v.check_options(PROVIDERS["azure-openai"], {"deployment": "x"})
    assert "api_version" in caught.value.message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("https://API.Example.com:8443/v1", "https://api.example.com:8443/v1"),
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("http://localhost:1234/v1", "http://localhost:1234/v1"),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
        ("  https://openrouter.ai/api/v1  ", "https://openrouter.ai/api/v1"),
    ],
)
def test_valid_base_urls_are_normalised(url: str, expected: str) -> None:
    assert v.check_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "hint_fragment"),
    [
        ("api.openai.com/v1", "including the scheme"),
        ("ftp://api.openai.com/v1", "including the scheme"),
        ("https://user:pw@api.openai.com/v1", "never in the URL"),
        ("https://api.openai.com/v1?key=abc", "leak into logs"),
        ("https://api.openai.com/v1#frag", "leak into logs"),
        ("http://api.openai.com/v1", "only for a loopback host"),
        ("http://10.0.0.5:8000/v1", "only for a loopback host"),
        ("https://api.openai.com/v1/chat/completions", "probably https://api.openai.com/v1"),
        ("https://api.anthropic.com/v1/messages", "probably https://api.anthropic.com/v1"),
        ("http://127.0.0.1:11434/api/chat", "probably http://127.0.0.1:11434"),
        ("https://api.groq.com/openai/v1/v1", "single /v1"),
        ("https://host:99999/v1", "write it like"),
    ],
)
def test_base_url_mistakes_are_explained(url: str, hint_fragment: str) -> None:
    with pytest.raises(SynapseError) as caught:
        v.check_base_url(url)
    assert caught.value.kind == "base_url_invalid"
    assert hint_fragment in caught.value.hint
