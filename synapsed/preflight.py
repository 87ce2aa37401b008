"""Staged connection checks that explain each failure in plain words.

config -> base_url -> credential -> reach (DNS, TCP, TLS) -> auth (free model listing) ->
model (with "did you mean") -> probe (opt-in, one billed completion). The first failure stops
the run; later checks are reported as skipped, so the output always names every stage.
"""

from __future__ import annotations

import asyncio
import difflib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from synapsed.config import ConnectionConfig, effective_base_url, validate_fields, validated_base_url
from synapsed.errors import SynapseError
from synapsed.gateway import Gateway
from synapsed.secrets import fingerprint, source_of
from synapsed.protocol import ChatRequest, CheckStatus, LastPreflight, Message, PreflightCheck, PreflightReport
from synapsed.providers.registry import model_listed, provider_for

STAGES = ("config", "base_url", "credential", "reach", "auth", "model", "probe")
REACH_TIMEOUT_S = 10.0
PROBE_PROMPT = "Reply with the single word: ok"
# Generous on purpose: reasoning models spend tokens before answering, and a probe cut off by
# its own budget would blame the connection for the probe's fault.
PROBE_MAX_TOKENS = 512


Progress = Callable[[str, PreflightCheck], Awaitable[None]]


async def _no_progress(_name: str, _check: PreflightCheck) -> None:
    return None


class _Run:
    """One connection's checks, in order, with timing and progress reporting."""

    def __init__(self, name: str, progress: Progress, origin: float) -> None:
        self.name = name
        self.progress = progress
        self.origin = origin
        self.checks: list[PreflightCheck] = []
        self.failed = False

    async def step(self, stage: str, action: Callable[[], Awaitable[tuple[CheckStatus, str, dict[str, Any] | None]]]) -> None:
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


async def _reach(url: str, timeout_s: float) -> tuple[CheckStatus, str, dict[str, Any] | None]:
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
    except asyncio.TimeoutError:
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
    except asyncio.TimeoutError:
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
    except (asyncio.TimeoutError, OSError, ssl.SSLError):
        pass
    what = "TLS ok" if tls else "TCP ok"
    return "pass", f"{host}:{port} reachable ({address}, {what})", None


async def run_one(
    gateway: Gateway, name: str, *, probe: bool = False, progress: Progress = _no_progress, origin: float | None = None
) -> PreflightReport:
    started = time.perf_counter()
    run = _Run(name, progress, origin if origin is not None else started)
    conn_holder: dict[str, Any] = {}

    async def config() -> tuple[CheckStatus, str, dict[str, Any] | None]:
        conn = gateway.connection(name)
        validate_fields(name, conn)
        conn_holder["conn"] = conn
        if not conn.enabled:
            raise SynapseError(
                "connection_disabled",
                f"connection {name!r} is disabled",
                hint=f"enable it with `synapsectl connections enable {name}` before IDEs can use it",
            )
        return "pass", f"{conn.provider} / {conn.model}", None

    async def base_url() -> tuple[CheckStatus, str, dict[str, Any] | None]:
        conn = conn_holder["conn"]
        explicit = validated_base_url(conn)
        conn_holder["conn"] = msgspec.structs.replace(conn, base_url=explicit)
        url = effective_base_url(conn_holder["conn"])
        return "pass", url if explicit else f"{url} (provider default)", None

    async def credential() -> tuple[CheckStatus, str, dict[str, Any] | None]:
        conn: ConnectionConfig = conn_holder["conn"]
        key = await gateway.key_for(name, conn, fresh=True)
        conn_holder["key"] = key
        if key is None:
            return "pass", f"{conn.provider} needs no key (none set)", None
        return "pass", f"{source_of(conn.credential)}: {fingerprint(key)}", None

    async def reach() -> tuple[CheckStatus, str, dict[str, Any] | None]:
        conn = conn_holder["conn"]
        return await _reach(effective_base_url(conn) or "", min(conn.timeout_s, REACH_TIMEOUT_S))

    async def auth() -> tuple[CheckStatus, str, dict[str, Any] | None]:
        conn = conn_holder["conn"]
        ctx = gateway.context(name, conn, conn_holder.get("key"))
        models = await provider_for(conn.provider).list_models(ctx)
        conn_holder["models"] = models
        return "pass", f"key accepted; {len(models)} model(s) listed (free endpoint)", None

    async def model() -> tuple[CheckStatus, str, dict[str, Any] | None]:
        conn = conn_holder["conn"]
        if not provider_for(conn.provider).can_check_model:
            return "skip", "deployments cannot be listed with this key; run with --probe to confirm it", None
        models: list[str] = conn_holder["models"]
        if model_listed(conn.provider, conn.model, models):
            return "pass", f"{conn.model} is available", None
        close = difflib.get_close_matches(conn.model, models, n=3, cutoff=0.5)
        hint = (
            f"did you mean {', '.join(close)}? fix it with `synapsectl connections edit {name} --model {close[0]}`"
            if close
            else f"the provider lists {len(models)} model(s) for this key and {conn.model!r} is not among them"
        )
        raise SynapseError("model_not_found", f"model {conn.model!r} is not available to this key", hint=hint,
                           suggestions=close)

    async def probe_check() -> tuple[CheckStatus, str, dict[str, Any] | None]:
        if not probe:
            return "skip", "not requested (--probe sends one billed completion)", None
        request = ChatRequest(messages=[Message("user", PROBE_PROMPT)], max_output_tokens=PROBE_MAX_TOKENS)
        _, result = await gateway.complete(name, request, caller="preflight")
        if not result.text.strip():
            raise SynapseError(
                "upstream_malformed",
                f"the probe completion came back empty (finish_reason={result.finish_reason})",
                hint="the model answered with no text; check the model id and any provider-side filters",
            )
        tokens = f"{result.input_tokens or '?'} in / {result.output_tokens or '?'} out"
        return "pass", f"billed probe answered {result.text.strip()[:40]!r} ({tokens}, {result.latency_ms:.0f} ms)", None

    for stage, action in (
        ("config", config),
        ("base_url", base_url),
        ("credential", credential),
        ("reach", reach),
        ("auth", auth),
        ("model", model),
        ("probe", probe_check),
    ):
        await run.step(stage, action)
    conn = gateway.config_store.config.connections.get(name)
    return PreflightReport(
        connection=name,
        provider=conn.provider if conn else "?",
        model=conn.model if conn else "?",
        ok=not run.failed,
        at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        checks=run.checks,
        probe=probe,
    )


async def run_many(gateway: Gateway, names: list[str], *, probe: bool = False, progress: Progress = _no_progress) -> list[PreflightReport]:
    """All connections at once: total time is about the slowest connection, not the sum."""
    origin = time.perf_counter()
    return list(await asyncio.gather(*(run_one(gateway, n, probe=probe, progress=progress, origin=origin) for n in names)))


def summarize(report: PreflightReport) -> LastPreflight:
    failed = next((c for c in report.checks if c.status == "fail"), None)
    return LastPreflight(ok=report.ok, at=report.at, failed_check=failed.name if failed else None, kind=failed.kind if failed else None)


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
        from synapsed.config import write_atomic

        for report in reports:
            self.results[report.connection] = summarize(report)
        data = msgspec.json.encode(self.results).decode()
        await asyncio.to_thread(write_atomic, self.path, data)

    def get(self, name: str) -> LastPreflight | None:
        return self.results.get(name)
