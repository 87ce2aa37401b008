"""The provider interface: one typed request, one typed result, and the per-call context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import aiohttp

from synapsed.config import ConnectionConfig
from synapsed.protocol import ChatRequest, ChatResult, Message

__all__ = ["CallContext", "ChatRequest", "ChatResult", "Message", "AuthCheck", "ModelAccess", "OwnCredentials", "Provider", "LOOKUP_MISS",
           "sampling_options"]

# Statuses with which a per-model lookup says "not here": no such model, or (on compatible
# servers) no per-model endpoint at all. Preflight then consults the listing instead.
LOOKUP_MISS = frozenset({400, 404, 405})


def sampling_options(request: ChatRequest, max_tokens: str, stop: str, temperature: bool = True) -> dict[str, Any]:
    """The request's output limit, temperature and stop sequences under one family's member names,
    unset ones left out. `temperature=False` leaves it out for a model that takes none."""
    options: dict[str, Any] = {}
    if request.max_output_tokens is not None:
        options[max_tokens] = request.max_output_tokens
    if temperature and request.temperature is not None:
        options["temperature"] = request.temperature
    if request.stop:
        options[stop] = request.stop
    return options


@dataclass(frozen=True)
class CallContext:
    """Everything one upstream call needs; built fresh per call from the live config."""

    name: str
    conn: ConnectionConfig
    base_url: str
    key: str | None
    session: aiohttp.ClientSession
    max_response_bytes: int

    @property
    def timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.conn.timeout_s)


class Provider(Protocol):
    family: str
    # False where the free model listing cannot confirm the configured model (Azure deployments).
    can_check_model: bool

    async def complete(self, ctx: CallContext, request: ChatRequest) -> ChatResult: ...

    async def list_models(self, ctx: CallContext) -> list[str]: ...

    def matches_model(self, configured: str, listed: str) -> bool:
        """Whether a listed id is the configured model, by this provider's naming rules."""
        ...

    async def lookup_model(self, ctx: CallContext) -> str | None:
        """The provider's own free per-model lookup: the id it resolves the configured model to
        (aliases included), or None where it has no such model or no such endpoint."""
        ...

    def auth_headers(self, ctx: CallContext) -> dict[str, str]: ...


@runtime_checkable
class OwnCredentials(Protocol):
    """A provider whose library finds credentials itself (botocore's chain, google-auth)."""

    async def credentials_source(self, ctx: CallContext, fresh: bool) -> str:
        """Resolve the credentials now and say where they came from, masked; typed errors on failure."""
        ...

    def forget(self) -> None:
        """Drop what the library resolved, so that the next call resolves the chain again."""
        ...


@runtime_checkable
class ModelAccess(Protocol):
    """A provider with a free check that this account may call the model (Bedrock's model access)."""

    async def check_access(self, ctx: CallContext) -> str:
        """One line on the access found, or a typed error saying what to grant."""
        ...


@runtime_checkable
class AuthCheck(Protocol):
    """A provider whose free auth check is not a model listing (Vertex AI's countTokens, a custom
    REST gateway's health URL). The model stage then reports what that check proved."""

    async def check_auth(self, ctx: CallContext) -> tuple[str, str | None]:
        """(what passed, what it proved about the model or None); typed errors on failure."""
        ...
