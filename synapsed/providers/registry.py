"""Provider id -> the wire implementation that speaks to it."""

from __future__ import annotations

from synapsed.catalog import PROVIDERS
from synapsed.errors import SynapseError
from synapsed.providers.anthropic import AnthropicProvider
from synapsed.providers.azure_openai import AzureOpenAIProvider
from synapsed.providers.base import Provider
from synapsed.providers.bedrock import BedrockProvider
from synapsed.providers.custom_rest import CustomRestProvider
from synapsed.providers.gemini import GeminiProvider
from synapsed.providers.ollama import OllamaProvider
from synapsed.providers.openai import OpenAIProvider
from synapsed.providers.vertex import VertexProvider

_FAMILIES: dict[str, Provider] = {
    # OpenAI deprecated max_tokens (its reasoning models reject it); compatible servers mostly
    # only know max_tokens.
    "openai": OpenAIProvider(max_tokens_field="max_completion_tokens"),
    "openai-compatible": OpenAIProvider(max_tokens_field="max_tokens"),
    "azure-openai": AzureOpenAIProvider(),
    "anthropic": AnthropicProvider(),
    "gemini": GeminiProvider(),
    "ollama": OllamaProvider(),
    # botocore and google-auth load on these providers' first request, not here.
    "bedrock": BedrockProvider(),
    "vertex": VertexProvider(),
    "custom-rest": CustomRestProvider(),
}


def provider_for(provider_id: str) -> Provider:
    info = PROVIDERS.get(provider_id)
    if info is None:
        raise SynapseError("config_invalid", f"unknown provider {provider_id!r}")
    if info.family == "openai":
        return _FAMILIES["openai" if provider_id == "openai" else "openai-compatible"]
    return _FAMILIES[info.family]



def forget_credentials() -> None:
    """Drop credentials the providers' own libraries resolved (after reload or a key change), so
    the next call resolves the chain again instead of using what was found before."""
    bedrock = _FAMILIES["bedrock"]
    vertex = _FAMILIES["vertex"]
    assert isinstance(bedrock, BedrockProvider) and isinstance(vertex, VertexProvider)  # noqa: S101 - built above
    bedrock.aws.forget()
    vertex.google.forget()
