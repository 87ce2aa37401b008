"""One upstream request through a named connection: admit -> call -> settle.

Shared by `chat.complete`, preflight and the MCP tools; `build_chat_request` holds the rules
of a chat request for all of them and `Gateway.connection` is the one lookup of a connection
by name. No retry and no fallback: a disabled or failing connection fails with its own typed
error and nothing else is tried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import msgspec

from synapsed import model_limits, model_rules, secrets, structured
from synapsed.catalog import PROVIDERS
from synapsed.config import ConfigStore, ConnectionConfig
from synapsed.errors import ErrorKind, SynapseError
from synapsed.logging import get_logger
from synapsed.providers import http
from synapsed.providers.base import CallContext, ChatRequest, ChatResult, Message
from synapsed.providers.registry import forget_credentials, provider_for
from synapsed.usage.meter import Meter, Origin, Reservation
from synapsed.validation import MAX_OUTPUT_TOKENS, effective_base_url

log = get_logger("synapsed.gateway")
_stdlib_log = logging.getLogger("synapsed.gateway")  # asked cheaply whether debug lines are wanted
CLI = Origin("synapsectl")


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
        return self.config_store.config.connection(name)

    def forget_keys(self, name: str | None = None) -> None:
        """Drop cached keyring values (one connection's, or all): after key set/rm and reload."""
        if name is None:
            self._keyring_cache.clear()
            forget_credentials()
        else:
            self._keyring_cache.pop(name, None)

    async def key_for(self, name: str, conn: ConnectionConfig, fresh: bool = False) -> str | None:
        """The key, or None for a keyless provider (Ollama, LM Studio, vLLM) that has none set.

        `fresh` bypasses the keyring cache (preflight checks what is stored now). None too where
        the provider resolves its own credentials (the AWS chain, Google ADC, a service account)."""
        if PROVIDERS[conn.provider].own_credentials(conn.credential):
            return None
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
        self, name: str, request: ChatRequest, origin: Origin = CLI
    ) -> tuple[ConnectionConfig, ChatResult]:
        conn = self.connection(name)
        request = with_connection_defaults(request, conn)
        reservation = await self._admit(name, conn, request, origin)
        result = await self._call(name, conn, request, reservation, origin)
        if request.response_schema is not None:
            try:
                parsed = structured.validate_answer(result.text, request.response_schema)
            except SynapseError as exc:
                # Billed and recorded as what it was, and never re-sent.
                await self.meter.succeeded(reservation, origin, result, error_kind=exc.kind)
                log.warning("answer does not match response_schema", connection=name, caller=origin.caller,
                            error=exc.message)
                raise
            result = msgspec.structs.replace(result, json=parsed)
        return conn, await self._settle(name, conn, result, reservation, origin)

    async def _admit(self, name: str, conn: ConnectionConfig, request: ChatRequest, origin: Origin) -> Reservation:
        """Refuse before any upstream call: a disabled connection, a blocking budget."""
        try:
            if not conn.enabled:
                raise SynapseError(
                    "connection_disabled",
                    f"connection {name!r} is disabled (no other connection was tried)",
                    hint=f"enable it with `synapsectl connections enable {name}`",
                )
            check_capabilities(conn, request)
            return self.meter.admit(name, conn, request)
        except SynapseError as exc:
            await self.meter.refused(name, conn, origin, exc)
            log.warning("request refused", connection=name, caller=origin.caller, kind=exc.kind, error=exc.message)
            raise

    async def _call(
        self, name: str, conn: ConnectionConfig, request: ChatRequest, reservation: Reservation, origin: Origin
    ) -> ChatResult:
        """Exactly one upstream request; every failure is recorded against the reservation."""
        started = time.perf_counter()
        try:
            key = await self.key_for(name, conn)
            return await provider_for(conn.provider).complete(self.context(name, conn, key), request)
        except SynapseError as exc:
            await self.meter.failed(reservation, origin, exc)
            log.warning(
                "upstream call failed",
                connection=name,
                provider=conn.provider,
                model=conn.model,
                caller=origin.caller,
                kind=exc.kind,
                error=exc.message,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            raise
        except BaseException as exc:
            # The caller went away (cancelled) or a bug: release the reservation, record the attempt.
            kind: ErrorKind = "cancelled" if isinstance(exc, asyncio.CancelledError) else "internal"
            failure = SynapseError(kind, f"{type(exc).__name__} during the upstream call")
            await asyncio.shield(self.meter.failed(reservation, origin, failure))
            raise

    async def _settle(
        self, name: str, conn: ConnectionConfig, result: ChatResult, reservation: Reservation, origin: Origin
    ) -> ChatResult:
        """Price the answer, commit its ledger row (before the reply leaves) and attach the cost."""
        cost = await self.meter.succeeded(reservation, origin, result)
        result = msgspec.structs.replace(
            result, cost_usd=cost.usd, cost_source=cost.source, budget_warnings=reservation.warnings or None
        )
        # Per-request detail belongs to the ledger; the log keeps it at debug level so that a busy
        # daemon does not render, redact and write two lines per request at the default level
        # (nor build a structlog logger per request to drop the line).
        if _stdlib_log.isEnabledFor(logging.DEBUG):
            log.debug("upstream call", connection=name, provider=conn.provider, model=result.model,
                      caller=origin.caller, input_tokens=result.input_tokens, output_tokens=result.output_tokens,
                      cost_usd=result.cost_usd, cost_source=result.cost_source, latency_ms=result.latency_ms)
        return result



def with_connection_defaults(request: ChatRequest, conn: ConnectionConfig) -> ChatRequest:
    """The connection's default reasoning level where the call named none."""
    default = conn.options.get("reasoning")
    if request.reasoning is None and default:
        return msgspec.structs.replace(request, reasoning=default)
    return request


def check_capabilities(conn: ConnectionConfig, request: ChatRequest) -> None:
    """What the model cannot take is refused before any upstream call: a reasoning level it has
    no control for, structured output where the service documents none."""
    model_rules.resolve(conn.provider, conn.model, request.reasoning, model_rules.family_for(conn.provider, conn.model))
    # Custom REST templates carry text only; every other adapter sends its API's own image parts.
    model_limits.check(conn.provider, conn.model, conn.options, request, takes_images=conn.provider != "custom-rest")
    if request.response_schema is not None and not takes_schema(conn):
        raise SynapseError("bad_request", f"response_schema cannot be sent to {conn.provider}: it documents no "
                           "structured-output control synapse maps onto",
                           hint="leave response_schema out and ask for JSON in the prompt, or use a connection that "
                                "takes it (docs/providers/README.md lists them)", field="response_schema")


def takes_schema(conn: ConnectionConfig) -> bool:
    if conn.provider == "custom-rest":
        return "{response_schema}" in conn.options.get("body", "")
    return PROVIDERS[conn.provider].structured


def build_chat_request(
    messages: list[Message],
    system: str | None = None,
    max_output_tokens: int | None = None,
    temperature: float | None = None,
    stop: list[str] | None = None,
    reasoning: str | None = None,
    include_reasoning: bool = False,
    response_schema: dict[str, Any] | None = None,
) -> ChatRequest:
    """The rules every chat request meets, whether it came over RPC or MCP."""
    if not messages or not any(m.content.strip() for m in messages):
        raise SynapseError("bad_request", "the prompt is empty", hint="send some text to ask")
    if messages[-1].role != "user":
        raise SynapseError("bad_request", "the last message must be from the user", hint="end the messages list with a user turn")
    if max_output_tokens is not None and not 1 <= max_output_tokens <= MAX_OUTPUT_TOKENS:
        raise SynapseError("bad_request", f"max_output_tokens must be 1..{MAX_OUTPUT_TOKENS}", field="max_output_tokens",
                           hint="no model writes more than this in one answer; leave it out for the model's default")
    if temperature is not None and not 0 <= temperature <= 2:
        raise SynapseError("bad_request", "temperature must be between 0 and 2", field="temperature")
    if reasoning is not None and reasoning not in model_rules.LEVELS:
        raise SynapseError("bad_request", f"reasoning {reasoning!r} is not a level",
                           hint=f"one of: {', '.join(model_rules.LEVELS)}", field="reasoning")
    if response_schema is not None:
        structured.check_schema(response_schema)
    return ChatRequest(messages=messages, system=system, max_output_tokens=max_output_tokens,
                       temperature=temperature, stop=stop, reasoning=reasoning,
                       include_reasoning=include_reasoning, response_schema=response_schema)
