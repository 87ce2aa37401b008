"""Provider id -> the wire implementation that speaks to it. Each family's module is imported
the first time a connection of that family is used, not at start: the daemon imports none of
them before MCP answers, and a machine that only ever uses OpenAI never loads the rest."""

from __future__ import annotations

import importlib

from synapsed.catalog import PROVIDERS
from synapsed.errors import SynapseError
from synapsed.providers.base import OwnCredentials, Provider

# family -> (module, class, constructor keywords). OpenAI deprecated max_tokens (its reasoning
# models reject it); compatible servers mostly only know max_tokens. botocore and google-auth
# load on the bedrock / vertex providers' first request, not when their module is imported.
_FAMILIES: dict[str, tuple[str, str, dict[str, str]]] = {
    "openai": ("openai", "OpenAIProvider", {"max_tokens_field": "max_completion_tokens"}),
    "openai-compatible": ("openai", "OpenAIProvider", {"max_tokens_field": "max_tokens"}),
    "azure-openai": ("azure_openai", "AzureOpenAIProvider", {}),
    "anthropic": ("anthropic", "AnthropicProvider", {}),
    "gemini": ("gemini", "GeminiProvider", {}),
    "ollama": ("ollama", "OllamaProvider", {}),
    "bedrock": ("bedrock", "BedrockProvider", {}),
    "vertex": ("vertex", "VertexProvider", {}),
    "custom-rest": ("custom_rest", "CustomRestProvider", {}),
}
_built: dict[str, Provider] = {}


def _family(key: str) -> Provider:
    provider = _built.get(key)
    if provider is None:
        module, name, keywords = _FAMILIES[key]
        provider = _built[key] = getattr(importlib.import_module(f"synapsed.providers.{module}"), name)(**keywords)
    return provider


def provider_for(provider_id: str) -> Provider:
    info = PROVIDERS.get(provider_id)
    if info is None:
        raise SynapseError("config_invalid", f"unknown provider {provider_id!r}")
    if info.family == "openai":
        return _family("openai" if provider_id == "openai" else "openai-compatible")
    return _family(info.family)


def forget_credentials() -> None:
    """Drop credentials the providers' own libraries resolved (after reload or a key change), so
    the next call resolves the chain again instead of using what was found before. A family
    not built yet has resolved nothing."""
    for provider in _built.values():
        if isinstance(provider, OwnCredentials):
            provider.forget()
