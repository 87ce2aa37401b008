"""The provider interface: one typed request, one typed result, and the per-call context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiohttp

from synapsed.config import ConnectionConfig
from synapsed.protocol import ChatRequest, ChatResult, Message

__all__ = ["CallContext", "ChatRequest", "ChatResult", "Message", "Provider"]

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

    def auth_headers(self, ctx: CallContext) -> dict[str, str]: ...
