"""Optional heavy libraries (botocore, google-auth), imported only when a connection needs one.

A missing library is a typed error whose hint is the exact install command, reported by the
connection's preflight and by every call through it; nothing else in the daemon notices.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from synapsed.errors import SynapseError

# Which extra of the mcp-synapse package brings each library (pyproject.toml's optional deps).
EXTRAS = {"botocore": "aws", "google.auth": "gcp", "google.oauth2": "gcp"}
WHO_NEEDS = {"aws": "Amazon Bedrock with AWS credentials", "gcp": "Google Vertex AI"}


# What a connection needs installed beside synapse, by provider and credential.
NEEDS = {("bedrock", "aws"): "botocore", ("vertex", "adc"): "google.auth", ("vertex", "file:"): "google.auth"}


def install_hint(extra: str, library: str) -> str:
    package = {"botocore": "botocore", "google.auth": "'google-auth[requests]'"}.get(library, library)
    return (f"pip install 'mcp-synapse[{extra}]' in synapsed's environment, or with pipx: pipx inject mcp-synapse "
            f"{package}; then restart synapsed")


def missing_for(provider: str, credential: str) -> SynapseError | None:
    """The library a connection needs and this environment lacks, found without importing it
    (so that `connections add`, list, show, status and doctor say so at once, not preflight)."""
    import importlib.util

    kind = "file:" if credential.startswith("file:") else credential
    library = NEEDS.get((provider, kind))
    if library is None:
        return None
    try:
        found = importlib.util.find_spec(library) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    extra = EXTRAS[library]
    return SynapseError("config_invalid", f"{WHO_NEEDS[extra]} needs the {library} library, which is not installed",
                        hint=install_hint(extra, library), missing=library)


def load(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRAS.get(module.split(".")[0], "") or EXTRAS.get(".".join(module.split(".")[:2]), "")
        raise SynapseError(
            "config_invalid",
            f"{WHO_NEEDS.get(extra, 'this connection')} needs the {exc.name or module} library, which is not installed",
            hint=install_hint(extra, exc.name or module),
            missing=exc.name or module,
        ) from None
