"""providers/registry.py: each family's module loads on its first use, once."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from synapsed.errors import SynapseError
from synapsed.providers import registry
from synapsed.providers.bedrock import BedrockProvider
from synapsed.providers.openai import OpenAIProvider


def test_the_daemon_imports_no_provider_family_before_a_connection_is_used() -> None:
    code = ("import sys, synapsed.app, synapsed.mcp.service; "
            "print(sorted(m for m in sys.modules if m.startswith('synapsed.providers.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    # The one HTTP path (and its bounded body decoding) is shared; no family module is loaded.
    assert ast.literal_eval(loaded.stdout) == ["synapsed.providers.base", "synapsed.providers.bounded_body",
                                               "synapsed.providers.http", "synapsed.providers.registry"]


def test_a_family_is_built_once_and_openai_compatible_servers_get_max_tokens() -> None:
    openai = registry.provider_for("openai")
    assert registry.provider_for("openai") is openai and isinstance(openai, OpenAIProvider)
    assert registry.provider_for("groq") is registry.provider_for("vllm") is not openai
    assert registry.provider_for("groq").max_tokens_field == "max_tokens"  # type: ignore[attr-defined]
    assert openai.max_tokens_field == "max_completion_tokens"  # type: ignore[attr-defined]


def test_forgetting_credentials_builds_nothing_and_reaches_the_families_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_built", {})
    registry.forget_credentials()
    assert registry._built == {}
    bedrock = registry.provider_for("bedrock")
    assert isinstance(bedrock, BedrockProvider)
    forgotten: list[str] = []
    monkeypatch.setattr(bedrock.aws, "forget", lambda: forgotten.append("aws"))
    registry.forget_credentials()
    assert forgotten == ["aws"] and set(registry._built) == {"bedrock"}


def test_an_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(SynapseError) as bad:
        registry.provider_for("nope")
    assert bad.value.kind == "config_invalid"
