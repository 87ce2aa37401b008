"""The provider interface: one typed request, one typed result, and the per-call context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiohttp

from synapsed.config import ConnectionConfig
from synapsed.protocol import ChatRequest, ChatResult, Message

__all__ = ["CallContext", "ChatRequest", "ChatResult", "Message", "Provider", "LOOKUP_MISS"]

# Statuses with which a per-model lookup says "not here": no such model, or (on compatible
# servers) no per-model endpoint at all. Preflight then consults the listing instead.
LOOKUP_MISS = frozenset({400, 404, 405})


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
