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


def load(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRAS.get(module.split(".")[0], "") or EXTRAS.get(".".join(module.split(".")[:2]), "")
        raise SynapseError(
            "config_invalid",
            f"{WHO_NEEDS.get(extra, 'this connection')} needs the {exc.name or module} library, which is not installed",
            hint=f"pip install 'mcp-synapse[{extra}]' (in synapsed's environment), then restart synapsed",
            missing=exc.name or module,
        ) from None
