"""Staged connection checks that explain each failure in plain words.

config -> base_url -> credential -> reach (DNS, TCP, TLS) -> auth (free model listing) ->
model (listed, else the provider's own free per-model lookup, which resolves aliases) ->
probe (opt-in, one billed completion). The first failure stops the run; later checks are
reported as skipped, so the output always names every stage.

A least-privilege key may call the model but not list models. Such a refusal is a warning,
not a failure: the later stages still run, and `--probe` proves whether the key works.
"""

from __future__ import annotations

import asyncio
import difflib
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from synapsed import model_rules
from synapsed.catalog import PROVIDERS
from synapsed.config import ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.gateway import Gateway
from synapsed.paths import write_atomic
from synapsed.protocol import ChatRequest, CheckStatus, LastPreflight, Message, PreflightCheck, PreflightReport
from synapsed.providers.base import AuthCheck, CallContext, ModelAccess, OwnCredentials, Provider
from synapsed.providers.registry import provider_for
from synapsed.secrets import fingerprint, source_of
from synapsed.usage.meter import Origin
from synapsed.validation import effective_base_url, validate_fields, validated_base_url

STAGES = ("config", "base_url", "credential", "reach", "auth", "model", "probe")
REACH_TIMEOUT_S = 10.0
PROBE_PROMPT = "Reply with the single word: ok"
# Generous on purpose: reasoning models spend tokens before answering, and a probe cut off by
# its own budget would blame the connection for the probe's fault.
PROBE_MAX_TOKENS = 512
# How providers word "this key is valid but may not do that" (OpenAI project keys answer 401
# "You have insufficient permissions ... Missing scopes: api.model.read").
PERMISSION_TEXT = re.compile(r"missing scope|insufficient permission|not have permission|not authorized to|restricted key",
                             re.IGNORECASE)

Progress = Callable[[str, PreflightCheck], Awaitable[None]]
Outcome = tuple[CheckStatus, str, dict[str, object] | None]


async def _no_progress(_name: str, _check: PreflightCheck) -> None:
    return None


def is_permission_refusal(exc: SynapseError) -> bool:
    """A refusal that says the key lacks a permission, as opposed to a key that is wrong."""
    return exc.kind == "permission_denied" or (exc.kind == "auth_failed" and bool(PERMISSION_TEXT.search(exc.message)))


class Probe:
    """One connection's checks: each stage is a method, run in order with timing and progress."""

    def __init__(self, gateway: Gateway, name: str, probe: bool, progress: Progress, origin: float) -> None:
        self.gateway = gateway
        self.name = name
        self.probe = probe
        self.progress = progress
        self.origin = origin
        self.checks: list[PreflightCheck] = []
        self.failed = False
        self.conn: ConnectionConfig | None = None
        self.key: str | None = None
        self.models: list[str] | None = None  # None: the listing was refused (or not reached)
        self.listing_refusal: SynapseError | None = None
        self.model_proof: str | None = None  # what an AuthCheck provider's auth stage proved
        self.unlisted = False  # the service has no model listing at all

    async def run(self) -> list[PreflightCheck]:
        for stage, action in (
            ("config", self.check_config),
            ("base_url", self.check_base_url),
            ("credential", self.check_credential),
            ("reach", self.check_reach),
            ("auth", self.check_auth),
            ("model", self.check_model),
            ("probe", self.check_probe),
        ):
            await self._step(stage, action)
        return self.checks

    async def _step(self, stage: str, action: Callable[[], Awaitable[Outcome]]) -> None:
        if self.failed:
            check = PreflightCheck(stage, "skip", 0.0, "skipped: an earlier check failed")
        else:
            started = time.perf_counter()
            try:
                status, message, detail = await action()
                check = PreflightCheck(stage, status, 0.0, message, detail=detail)
            except SynapseError as exc:
                extra = {k: v for k, v in exc.detail.items() if k != "field"} or None
                check = PreflightCheck(stage, "fail", 0.0, exc.message, kind=exc.kind, hint=exc.hint, detail=extra)
                self.failed = True
            check.duration_ms = round((time.perf_counter() - started) * 1000, 3)
            check.started_at = round(started - self.origin, 6)
        self.checks.append(check)
        await self.progress(self.name, check)

    @property
    def _conn(self) -> ConnectionConfig:
        assert self.conn is not None  # noqa: S101 - set by the config stage, which runs first
        return self.conn

    def _context(self) -> CallContext:
        return self.gateway.context(self.name, self._conn, self.key)

    # ---- stages -------------------------------------------------------------------------------

    async def check_config(self) -> Outcome:
        conn = self.gateway.connection(self.name)
        validate_fields(self.name, conn)
        self.conn = conn
        if not conn.enabled:
            raise SynapseError(
                "connection_disabled",
                f"connection {self.name!r} is disabled",
                hint=f"enable it with `synapsectl connections enable {self.name}` before IDEs can use it",
            )
        return "pass", f"{conn.provider} / {conn.model}", None

    async def check_base_url(self) -> Outcome:
        explicit = validated_base_url(self._conn)
        self.conn = msgspec.structs.replace(self._conn, base_url=explicit)
        url = effective_base_url(self._conn) or ""
        return "pass", url if explicit else f"{url} (provider default)", None

    async def check_credential(self) -> Outcome:
        provider = provider_for(self._conn.provider)
        if PROVIDERS[self._conn.provider].own_credentials(self._conn.credential) and isinstance(provider, OwnCredentials):
            return "pass", await provider.credentials_source(self._context(), fresh=True), None
        self.key = await self.gateway.key_for(self.name, self._conn, fresh=True)
        if self.key is None:
            return "pass", f"{self._conn.provider} needs no key (none set)", None
        return "pass", f"{source_of(self._conn.credential)}: {fingerprint(self.key)}", None

    async def check_reach(self) -> Outcome:
        return await reach(effective_base_url(self._conn) or "", min(self._conn.timeout_s, REACH_TIMEOUT_S))

    async def check_auth(self) -> Outcome:
        provider = provider_for(self._conn.provider)
        if isinstance(provider, AuthCheck):
            message, self.model_proof = await provider.check_auth(self._context())
            return "pass", message, None
        if not PROVIDERS[self._conn.provider].lists_models:
            self.unlisted = True
            return "warn", (f"{self._conn.provider} offers no model listing, so nothing free can check the key; "
                            "--probe (one billed request) does"), None
        try:
            self.models = await provider.list_models(self._context())
        except SynapseError as exc:
            if is_permission_refusal(exc):
                self.listing_refusal = exc
                return "warn", (
                    f"the key may not list models ({exc.message}); a least-privilege key can still call the model. "
                    "Later stages still run; --probe proves the key works"
                ), {"kind": exc.kind}
            if exc.kind == "auth_failed" and self.probe:
                # The listing may need a permission the key lacks without saying so: let the
                # billed probe decide, which was asked for.
                self.listing_refusal = exc
                return "warn", f"the model listing refused the key ({exc.message}); the requested probe will decide", \
                    {"kind": exc.kind}
            raise self._root_hint(exc) from None
        return "pass", f"key accepted; {len(self.models)} model(s) listed (free endpoint)", None

    def _root_hint(self, exc: SynapseError) -> SynapseError:
        """A listing that is not there at all (404) under an OpenAI-style root without /v1: the
        base URL is probably missing it, which later shows up as a bogus model_not_found."""
        base = self._context().base_url.rstrip("/")
        family = PROVIDERS[self._conn.provider].family
        if exc.detail.get("status") == 404 and family == "openai" and not re.search(r"/v\d+(beta)?$", base):
            return SynapseError("base_url_invalid", f"{base}/models answered 404: the base URL is probably not the "
                                "API root", hint=f"most OpenAI-compatible servers serve it under /v1: try "
                                f"`synapsectl connections edit {self.name} --base-url {base}/v1`",
                                field="base_url", status=404)
        return exc

    async def check_model(self) -> Outcome:
        status, message, detail = await self._check_model()
        if model_rules.endpoint_for(self._conn.provider, self._conn.model) == "responses":
            message += "; called on the Responses API (/responses): this model is served only there"
        return status, message, detail

    async def _check_model(self) -> Outcome:
        conn = self._conn
        provider = provider_for(conn.provider)
        if self.unlisted:
            return "skip", "the service lists no models; --probe confirms the model with one billed request", None
        if isinstance(provider, AuthCheck):
            if self.model_proof is not None:
                return "pass", self.model_proof, None
            return "skip", "this connection has no free way to confirm the model; --probe sends one request", None
        if not provider.can_check_model:
            return "skip", "deployments cannot be listed with this key; run with --probe to confirm it", None
        outcome = await self._find_model(provider)
        if outcome[0] == "pass" and isinstance(provider, ModelAccess):
            access = await provider.check_access(self._context())
            return "pass", f"{outcome[1]}; {access}", outcome[2]
        return outcome

    async def _find_model(self, provider: Provider) -> Outcome:
        conn = self._conn
        if self.models is not None and any(provider.matches_model(conn.model, m) for m in self.models):
            return "pass", f"{conn.model} is available", None
        try:
            resolved = await provider.lookup_model(self._context())
        except SynapseError as exc:
            if self.models is None and exc.kind in ("auth_failed", "permission_denied"):
                return "warn", "the key may not read model details either; run with --probe to confirm the model", \
                    {"kind": exc.kind}
            if exc.kind != "model_not_found":
                raise
            resolved = None
        if resolved is not None:
            if resolved == conn.model:
                return "pass", f"{conn.model} is available", None
            return "pass", f"{conn.model} → {resolved} (resolved by the provider)", {"resolved": resolved}
        if self.models is None:
            return "warn", "the model could not be checked with this key; run with --probe to confirm it", None
        raise self._model_missing(self.models)

    def _model_missing(self, models: list[str]) -> SynapseError:
        model = self._conn.model
        close = difflib.get_close_matches(model, models, n=3, cutoff=0.5)
        hint = (
            f"did you mean {', '.join(close)}? fix it with `synapsectl connections edit {self.name} --model {close[0]}`"
            if close
            else f"the provider lists {len(models)} model(s) for this key and {model!r} is not among them"
        )
        return SynapseError("model_not_found", f"model {model!r} is not available to this key", hint=hint,
                            suggestions=close)

    async def check_probe(self) -> Outcome:
        if not self.probe:
            if self.listing_refusal is not None:
                return "skip", "not requested: with this key only --probe (one billed completion) can confirm the model", None
            return "skip", "not requested (--probe sends one billed completion)", None
        request = ChatRequest(messages=[Message("user", PROBE_PROMPT)], max_output_tokens=PROBE_MAX_TOKENS)
        _, result = await self.gateway.complete(self.name, request, Origin("preflight"))
        if not result.text.strip():
            raise SynapseError(
                "upstream_malformed",
                f"the probe completion came back empty (finish_reason={result.finish_reason})",
                hint="the model answered with no text; check the model id and any provider-side filters",
            )
        tokens = f"{result.input_tokens or '?'} in / {result.output_tokens or '?'} out"
        works = " — the key works for calls even though it may not list models" if self.listing_refusal else ""
        return "pass", (f"billed probe answered {result.text.strip()[:40]!r} ({tokens}, {result.latency_ms:.0f} ms)"
                        f"{works}"), None


async def reach(url: str, timeout_s: float) -> Outcome:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s)
    except socket.gaierror as exc:
        raise SynapseError(
            "network_unreachable",
            f"DNS lookup for {host} failed ({exc.strerror})",
            hint="check the host name in the base URL and this machine's DNS / network",
        ) from None
    except TimeoutError:
        raise SynapseError("timeout", f"DNS lookup for {host} took longer than {timeout_s:g}s") from None
    address = infos[0][4][0]
    tls = ssl.create_default_context() if parts.scheme == "https" else None
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None), timeout_s
        )
    except ssl.SSLCertVerificationError as exc:
        raise SynapseError(
            "tls_error",
            f"TLS certificate of {host} was rejected ({exc.verify_message})",
            hint="check the base URL; behind a TLS-inspecting proxy set SSL_CERT_FILE to its CA bundle",
        ) from None
    except ssl.SSLError as exc:
        raise SynapseError("tls_error", f"TLS handshake with {host}:{port} failed ({exc.reason or exc})") from None
    except TimeoutError:
        raise SynapseError(
            "timeout", f"connecting to {host}:{port} took longer than {timeout_s:g}s", hint="a firewall may be dropping packets"
        ) from None
    except OSError as exc:
        raise SynapseError(
            "network_unreachable",
            f"cannot connect to {host}:{port} ({exc.strerror or exc})",
            hint="is the service running and the port right? check firewall and proxy settings",
        ) from None
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (TimeoutError, OSError, ssl.SSLError):
        pass
    what = "TLS ok" if tls else "TCP ok"
    return "pass", f"{host}:{port} reachable ({address}, {what})", None


async def run_one(
    gateway: Gateway, name: str, *, probe: bool = False, progress: Progress = _no_progress, origin: float | None = None
) -> PreflightReport:
    started = time.perf_counter()
    checks = await Probe(gateway, name, probe, progress, origin if origin is not None else started).run()
    conn = gateway.config_store.config.connections.get(name)
    return PreflightReport(
        connection=name,
        provider=conn.provider if conn else "?",
        model=conn.model if conn else "?",
        ok=not any(c.status == "fail" for c in checks),
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        checks=checks,
        probe=probe,
    )


async def run_many(
    gateway: Gateway, names: list[str], *, probe: bool = False, progress: Progress = _no_progress
) -> list[PreflightReport]:
    """All connections at once: total time is about the slowest connection, not the sum."""
    origin = time.perf_counter()
    return list(await asyncio.gather(*(run_one(gateway, n, probe=probe, progress=progress, origin=origin) for n in names)))


def summarize(report: PreflightReport) -> LastPreflight:
    failed = next((c for c in report.checks if c.status == "fail"), None)
    warnings = sum(1 for c in report.checks if c.status == "warn")
    return LastPreflight(ok=report.ok, at=report.at, failed_check=failed.name if failed else None,
                         kind=failed.kind if failed else None, warnings=warnings)


class LastResults:
    """The latest preflight outcome per connection, kept in the state dir across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.results: dict[str, LastPreflight] = {}

    def load(self) -> None:
        try:
            self.results = msgspec.json.decode(self.path.read_bytes(), type=dict[str, LastPreflight])
        except FileNotFoundError:
            self.results = {}
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, OSError):
            self.results = {}  # a damaged cache only loses history, never blocks start-up

    async def record(self, reports: list[PreflightReport]) -> None:
        for report in reports:
            self.results[report.connection] = summarize(report)
        data = msgspec.json.encode(self.results).decode()
        await asyncio.to_thread(write_atomic, self.path, data)

    def get(self, name: str) -> LastPreflight | None:
        return self.results.get(name)
