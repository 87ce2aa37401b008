"""The provider ids synapse knows, their default endpoints and the options each accepts.

Pure data, cheap to import: config validation and the CLI's help both read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderInfo:
    id: str
    family: str  # which wire implementation speaks to it
    default_base_url: str | None  # None: the user must give one
    needs_key: bool = True
    options: frozenset[str] = field(default_factory=frozenset)
    required_options: frozenset[str] = field(default_factory=frozenset)
    docs: str = ""


def _compat(pid: str, url: str | None, needs_key: bool = True) -> ProviderInfo:
    return ProviderInfo(pid, "openai", url, needs_key=needs_key, docs="docs/providers/openai-compatible.md")


PROVIDERS: dict[str, ProviderInfo] = {
    p.id: p
    for p in (
        ProviderInfo(
            "openai",
            "openai",
            "https://api.openai.com/v1",
            options=frozenset({"organization", "project"}),
            docs="docs/providers/openai.md",
        ),
        ProviderInfo(
            "azure-openai",
            "azure-openai",
            None,
            options=frozenset({"deployment", "api_version"}),
            required_options=frozenset({"deployment", "api_version"}),
            docs="docs/providers/azure-openai.md",
        ),
        ProviderInfo(
            "anthropic",
            "anthropic",
            "https://api.anthropic.com",
            options=frozenset({"anthropic_version"}),
            docs="docs/providers/anthropic.md",
        ),
        ProviderInfo(
            "gemini",
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            docs="docs/providers/gemini.md",
        ),
        ProviderInfo("ollama", "ollama", "http://127.0.0.1:11434", needs_key=False, docs="docs/providers/ollama.md"),
        _compat("groq", "https://api.groq.com/openai/v1"),
        _compat("openrouter", "https://openrouter.ai/api/v1"),
        _compat("deepseek", "https://api.deepseek.com/v1"),
        _compat("xai", "https://api.x.ai/v1"),
        _compat("mistral", "https://api.mistral.ai/v1"),
        _compat("together", "https://api.together.xyz/v1"),
        # Each default as the service's own documentation gives it (docs/providers/openai-compatible.md cites them).
        _compat("huggingface", "https://router.huggingface.co/v1"),
        _compat("fireworks", "https://api.fireworks.ai/inference/v1"),
        _compat("cerebras", "https://api.cerebras.ai/v1"),
        _compat("nvidia", "https://integrate.api.nvidia.com/v1"),
        _compat("lmstudio", "http://127.0.0.1:1234/v1", needs_key=False),
        _compat("vllm", "http://127.0.0.1:8000/v1", needs_key=False),
        _compat("openai-compatible", None),
    )
}


def provider_ids() -> list[str]:
    return list(PROVIDERS)


GUIDE_STAGES = ("config", "base_url", "credential", "reach", "auth", "model", "probe")


def guide_for(provider_id: str, stage: str | None = None) -> str:
    """The provider guide (and the section on one preflight stage) a user should read."""
    info = PROVIDERS.get(provider_id)
    page = info.docs if info is not None and info.docs else "docs/providers/README.md"
    return f"{page}#{stage}-stage" if stage in GUIDE_STAGES else page
