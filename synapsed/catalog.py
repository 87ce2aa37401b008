"""The provider ids synapse knows, their default endpoints and the options each accepts.

Pure data, cheap to import: config validation and the CLI's help both read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Credential references that name no stored key: the provider's own library finds credentials
# (botocore's AWS chain, google-auth's Application Default Credentials).
AMBIENT_CREDENTIALS = {"aws": "the AWS credential chain", "adc": "Google Application Default Credentials"}


@dataclass(frozen=True)
class ProviderInfo:
    id: str
    family: str  # which wire implementation speaks to it
    # None: the user must give one. "{option}" placeholders are filled from the connection's
    # options (Bedrock's region, Vertex AI's location).
    default_base_url: str | None
    needs_key: bool = True
    options: frozenset[str] = field(default_factory=frozenset)
    required_options: frozenset[str] = field(default_factory=frozenset)
    docs: str = ""
    # Which of AMBIENT_CREDENTIALS this provider accepts besides keyring / env: / file:.
    ambient: frozenset[str] = field(default_factory=frozenset)
    # file: names a credential document (a service-account JSON) rather than a bare key.
    file_is_document: bool = False
    # The base URL is the full endpoint (custom REST), not an API root.
    base_url_is_endpoint: bool = False
    # False where the service has no model listing (Perplexity): preflight cannot check the key
    # for free and says so, instead of failing on the missing endpoint.
    lists_models: bool = True
    # The endpoint when option `location` is unset or "global" (Vertex AI: no regional host).
    global_base_url: str | None = None
    # Where the service documents a structured-output control that response_schema maps onto.
    structured: bool = False

    def own_credentials(self, credential: str) -> bool:
        """Whether the provider resolves this credential itself (no key through secrets.resolve)."""
        return credential in self.ambient or (self.file_is_document and credential.startswith("file:"))

    def default_endpoint(self, options: dict[str, str]) -> str | None:
        if self.global_base_url is not None and options.get("location", "global") == "global":
            return self.global_base_url
        if self.default_base_url is None or "{" not in self.default_base_url:
            return self.default_base_url
        try:
            return self.default_base_url.format(**options)
        except KeyError:
            return None  # a required option is missing: validation says which


# Options every connection takes: its default reasoning level (model_rules.LEVELS).
# reasoning: a default level; max_input_tokens: the model's context window where synapse does not
# know it; cache: Claude's prompt-cache TTL (off, 5m, 1h).
COMMON_OPTIONS = frozenset({"reasoning", "max_input_tokens", "cache"})


def _compat(pid: str, url: str | None, needs_key: bool = True, lists_models: bool = True,
            structured: bool = False) -> ProviderInfo:
    return ProviderInfo(pid, "openai", url, needs_key=needs_key, docs="docs/providers/openai-compatible.md",
                        lists_models=lists_models, structured=structured)


PROVIDERS: dict[str, ProviderInfo] = {
    p.id: p
    for p in (
        ProviderInfo(
            "openai",
            "openai",
            "https://api.openai.com/v1",
            options=frozenset({"organization", "project", "store"}),
            docs="docs/providers/openai.md",
            structured=True,
        ),
        ProviderInfo(
            "azure-openai",
            "azure-openai",
            None,
            options=frozenset({"deployment", "api_version"}),
            required_options=frozenset({"deployment", "api_version"}),
            docs="docs/providers/azure-openai.md",
            structured=True,
        ),
        ProviderInfo(
            "anthropic",
            "anthropic",
            "https://api.anthropic.com",
            options=frozenset({"anthropic_version"}),
            docs="docs/providers/anthropic.md",
            structured=True,
        ),
        ProviderInfo(
            "gemini",
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            docs="docs/providers/gemini.md",
            structured=True,
        ),
        ProviderInfo("ollama", "ollama", "http://127.0.0.1:11434", needs_key=False, docs="docs/providers/ollama.md",
                     structured=True),
        ProviderInfo(
            "bedrock",
            "bedrock",
            "https://bedrock-runtime.{region}.amazonaws.com",
            options=frozenset({"region", "profile", "control_endpoint"}),
            required_options=frozenset({"region"}),
            docs="docs/providers/bedrock.md",
            ambient=frozenset({"aws"}),
            structured=True,
        ),
        ProviderInfo(
            "vertex",
            "vertex",
            "https://{location}-aiplatform.googleapis.com",
            options=frozenset({"project", "location"}),
            docs="docs/providers/vertex.md",
            ambient=frozenset({"adc"}),
            file_is_document=True,
            global_base_url="https://aiplatform.googleapis.com",
            structured=True,
        ),
        ProviderInfo(
            "custom-rest",
            "custom-rest",
            None,
            options=frozenset({"method", "headers", "body", "answer", "input_tokens", "output_tokens", "error",
                               "check_url"}),
            required_options=frozenset({"body", "answer"}),
            docs="docs/providers/custom-rest.md",
            base_url_is_endpoint=True,
            needs_key=False,  # only when a header template says {key}
        ),
        _compat("groq", "https://api.groq.com/openai/v1", structured=True),
        _compat("openrouter", "https://openrouter.ai/api/v1", structured=True),
        _compat("deepseek", "https://api.deepseek.com/v1"),
        _compat("xai", "https://api.x.ai/v1", structured=True),
        _compat("mistral", "https://api.mistral.ai/v1", structured=True),
        _compat("together", "https://api.together.xyz/v1", structured=True),
        # Each default as the service's own documentation gives it (docs/providers/openai-compatible.md cites them).
        _compat("huggingface", "https://router.huggingface.co/v1"),
        _compat("fireworks", "https://api.fireworks.ai/inference/v1", structured=True),
        _compat("cerebras", "https://api.cerebras.ai/v1", structured=True),
        _compat("nvidia", "https://integrate.api.nvidia.com/v1"),
        # Sonar's Chat Completions root has no version path and no GET /models.
        _compat("perplexity", "https://api.perplexity.ai", lists_models=False),
        _compat("lmstudio", "http://127.0.0.1:1234/v1", needs_key=False, structured=True),
        _compat("vllm", "http://127.0.0.1:8000/v1", needs_key=False, structured=True),
        _compat("openai-compatible", None),
    )
}


def provider_ids() -> list[str]:
    return list(PROVIDERS)


GUIDE_STAGES = ("config", "base_url", "credential", "reach", "auth", "model", "probe")


def guide_for(provider_id: str, stage: str | None = None) -> str:
    """The provider guide (and the section on one preflight stage) a user should read."""
    from synapsed.docs_location import doc_ref

    info = PROVIDERS.get(provider_id)
    page = info.docs if info is not None and info.docs else "docs/providers/README.md"
    return doc_ref(f"{page}#{stage}-stage" if stage in GUIDE_STAGES else page)
