"""One upstream request through a named connection: look it up, get its key, call its provider.

Shared by `chat.complete`, preflight and (later) the MCP tools. No retry and no fallback: a
disabled or failing connection fails with its own typed error and nothing else is tried.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import msgspec

from synapsed import secrets
from synapsed.config import ConfigStore, ConnectionConfig, effective_base_url
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.providers import http
from synapsed.providers.base import CallContext, ChatRequest, ChatResult
from synapsed.providers.catalog import PROVIDERS
from synapsed.providers.registry import provider_for
from synapsed.usage.meter import Meter

log = get_logger("synapsed.gateway")


class Gateway:
    def __init__(
        self, config_store: ConfigStore, max_response_bytes: int = http.MAX_RESPONSE_BYTES, meter: Meter | None = None
    ) -> None:
        self.config_store = config_store
        self.meter = meter or Meter(None, config_store)
        self.max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None
        # Keyring reads can block on D-Bus / Keychain and take a thread hop; the daemon holds the
        # values in memory instead. env: and file: are read on every call (cheap, never stale).
        self._keyring_cache: dict[str, str] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = http.new_session()  # one pooled session for the daemon's lifetime
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def connection(self, name: str) -> ConnectionConfig:
        conn = self.config_store.config.connections.get(name)
        if conn is None:
            raise SynapseError("not_found", f"no connection named {name!r}", name=name)
        return conn

    def forget_keys(self, name: str | None = None) -> None:
        """Drop cached keyring values (one connection's, or all): after key set/rm and reload."""
        if name is None:
            self._keyring_cache.clear()
        else:
            self._keyring_cache.pop(name, None)

    async def key_for(self, name: str, conn: ConnectionConfig, fresh: bool = False) -> str | None:
        """The key, or None for a keyless provider (Ollama, LM Studio, vLLM) that has none set.

        `fresh` bypasses the keyring cache (preflight checks what is stored now)."""
        try:
            if conn.credential != "keyring":
                return secrets.resolve(name, conn.credential)
            cached = None if fresh else self._keyring_cache.get(name)
            if cached is None:
                cached = await asyncio.to_thread(secrets.resolve, name, conn.credential)
                self._keyring_cache[name] = cached
            return cached
        except SynapseError as exc:
            if not PROVIDERS[conn.provider].needs_key and exc.kind in (
                "credential_missing",
                "keyring_unavailable",
            ):
                return None
            raise

    def context(self, name: str, conn: ConnectionConfig, key: str | None) -> CallContext:
        base_url = effective_base_url(conn)
        if base_url is None:
            raise SynapseError("base_url_invalid", f"connection {name!r} has no base URL", field="base_url")
        return CallContext(name, conn, base_url, key, self.session, self.max_response_bytes)

    async def complete(
        self, name: str, request: ChatRequest, caller: str = "synapsectl", session: str | None = None
    ) -> tuple[ConnectionConfig, ChatResult]:
        conn = self.connection(name)
        try:
            if not conn.enabled:
                raise SynapseError(
                    "connection_disabled",
                    f"connection {name!r} is disabled (no other connection was tried)",
                    hint=f"enable it with `synapsectl connections enable {name}`",
                )
            reservation = self.meter.admit(name, conn, request)
        except SynapseError as exc:
            await self.meter.refused(name, conn, caller, session, exc)
            log.warning("request refused", connection=name, caller=caller, kind=exc.kind, error=exc.message)
            raise
        started = time.perf_counter()
        try:
            key = await self.key_for(name, conn)
            ctx = self.context(name, conn, key)
            result = await provider_for(conn.provider).complete(ctx, request)
        except SynapseError as exc:
            await self.meter.failed(reservation, caller, session, exc)
            log.warning(
                "upstream call failed",
                connection=name,
                provider=conn.provider,
                model=conn.model,
                caller=caller,
                kind=exc.kind,
                error=exc.message,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            raise
        except BaseException as exc:
            # The caller went away (cancelled) or a bug: release the reservation, record the attempt.
            kind = "cancelled" if isinstance(exc, asyncio.CancelledError) else "internal"
            failure = SynapseError(kind, f"{type(exc).__name__} during the upstream call")
            await asyncio.shield(self.meter.failed(reservation, caller, session, failure))
            raise
        cost = await self.meter.succeeded(reservation, caller, session, result)
        result = msgspec.structs.replace(
            result, cost_usd=cost.usd, cost_source=cost.source, budget_warnings=reservation.warnings or None
        )
        # Per-request detail belongs to the ledger; the log keeps it at debug level so that a busy
        # daemon does not render, redact and write two lines per request at the default level.
        log.debug(
            "upstream call",
            connection=name,
            provider=conn.provider,
            model=result.model,
            caller=caller,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            cost_usd=result.cost_usd,
            cost_source=result.cost_source,
            latency_ms=result.latency_ms,
        )
        return conn, result
