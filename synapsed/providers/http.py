"""The one HTTP path to providers: a single attempt, a total timeout, a response-size cap, and the
mapping of every transport and HTTP failure onto DESIGN's error kinds.

Nothing here retries. aiohttp's own silent re-send of idempotent requests on a dropped
keep-alive connection is switched off in `new_session`.
"""

from __future__ import annotations

import functools
import re
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
import yarl

from synapsed import __version__
from synapsed.errors import SynapseError
from synapsed.json_input import MALFORMED
from synapsed.providers.base import CallContext
from synapsed.providers.bounded_body import ACCEPT_ENCODING, BodyTooLarge, BoundedBody, CorruptBody, UnknownEncoding
from synapsed.redaction import redact_text
from synapsed.secrets import renew_hint

# What a provider call can fail with: the HTTP mapping below and the transport errors of send().
# The provider guides explain each of these (a doc test holds them to it).
ADAPTER_KINDS = (
    "auth_failed", "permission_denied", "rate_limited", "quota_exceeded", "model_not_found", "bad_request",
    "context_too_long", "timeout", "network_unreachable", "tls_error", "upstream_error", "upstream_malformed",
)
# What the gateway and preflight add around any provider call.
CONNECTION_KINDS = (
    "config_invalid", "base_url_invalid", "credential_missing", "credential_unreadable", "credential_empty",
    "keyring_unavailable", "connection_disabled", "budget_exceeded",
)

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
MAX_UPSTREAM_MESSAGE = 500
USER_AGENT = f"mcp-synapse/{__version__}"

CONTEXT_TOO_LONG = re.compile(
    r"context[_ ]length|maximum context|context window|prompt is too long|too many tokens"
    r"|exceeds the maximum number of tokens|input token count .* exceeds|reduce the length",
    re.IGNORECASE,
)


def new_session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=256, limit_per_host=64, ttl_dns_cache=300, keepalive_timeout=30)
    # trust_env=False: aiohttp would otherwise read ~/.netrc on every request (in a thread) and
    # could attach credentials we never asked for. Proxies from the environment are applied
    # explicitly per host by proxy_for().
    # auto_decompress=False: the size cap counts decoded bytes as they arrive (bounded_body), which
    # aiohttp's own decoding cannot promise; we advertise only the encodings decoded that way.
    session = aiohttp.ClientSession(
        connector=connector, headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
        trust_env=False, auto_decompress=False,
    )
    # No hidden retry: aiohttp re-sends GET/HEAD once on a stale keep-alive connection by default.
    session._retry_connection = False
    return session


@functools.lru_cache(maxsize=256)
def proxy_for(scheme: str, host: str) -> str | None:
    """HTTP(S)_PROXY from the environment unless NO_PROXY covers the host; never for loopback."""
    from synapsed.validation import is_loopback_host

    if is_loopback_host(host) or urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(scheme)


@functools.lru_cache(maxsize=1024)
def _target(url: str) -> tuple[str, str | None]:
    """The host to name in errors and the proxy to use, per URL (the same few, call after call)."""
    parts = urlsplit(url)
    return parts.netloc or url, proxy_for(parts.scheme, parts.hostname or "")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    latency_ms: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def upstream_text(message: str) -> str:
    """Provider-supplied text, redacted (providers echo partial keys) and bounded."""
    message = redact_text(" ".join(message.split()))
    return message if len(message) <= MAX_UPSTREAM_MESSAGE else message[: MAX_UPSTREAM_MESSAGE - 1] + "…"


async def send(
    ctx: CallContext,
    method: str,
    url: str | yarl.URL,
    *,
    headers: dict[str, str],
    json_body: Any = None,
    params: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    """One request, one attempt. Transport failures raise typed errors; HTTP statuses are returned.

    `body` is an already-encoded JSON body (a signed request must send the bytes it signed), and
    a yarl.URL built with encoded=True goes out exactly as signed too."""
    data = msgspec.json.encode(json_body) if json_body is not None else body
    if data is not None and "Content-Type" not in headers:
        headers = {**headers, "Content-Type": "application/json"}
    host, proxy = _target(str(url))
    started = time.perf_counter()
    try:
        async with ctx.session.request(
            method, url, data=data, headers=headers, params=params, timeout=ctx.timeout, allow_redirects=False, proxy=proxy
        ) as response:
            body = await _read_capped(response, ctx.max_response_bytes)
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                body,
                (time.perf_counter() - started) * 1000,
            )
    except SynapseError:
        raise
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise SynapseError(
            "timeout",
            f"{host} did not answer within {ctx.conn.timeout_s:g}s (nothing was retried)",
            hint=f"raise the timeout (`synapsectl connections edit {ctx.name} --timeout 120`) or try later",
        ) from None
    except aiohttp.ClientConnectorDNSError:
        raise SynapseError(
            "network_unreachable",
            f"DNS lookup failed for {host}",
            hint="check the base URL's host name and this machine's DNS / network connection",
        ) from None
    except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
        raise SynapseError(
            "tls_error",
            f"TLS handshake with {host} failed: {upstream_text(str(getattr(exc, 'certificate_error', exc)))}",
            hint="check the base URL; behind a TLS-inspecting proxy set SSL_CERT_FILE to its CA bundle",
        ) from None
    except aiohttp.ClientConnectorError as exc:
        raise SynapseError(
            "network_unreachable",
            f"cannot connect to {host}: {exc.strerror or type(exc.os_error).__name__}",
            hint="is the service running and the port right? check firewall and proxy settings",
        ) from None
    except aiohttp.ServerDisconnectedError:
        raise SynapseError(
            "upstream_error",
            f"{host} closed the connection without answering (nothing was retried)",
            hint="the provider dropped the request; try again later",
        ) from None
    except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
        raise SynapseError(
            "upstream_malformed",
            f"{host} sent a broken HTTP response ({type(exc).__name__})",
            hint="the answer was cut off or malformed; check the base URL and any proxy in between",
        ) from None
    except aiohttp.ClientError as exc:
        raise SynapseError(
            "network_unreachable", f"request to {host} failed: {type(exc).__name__}", hint="check the network path"
        ) from None


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes:
    """The decoded body, refused the moment it passes `cap` (compressed or not, declared or chunked)."""
    declared = response.content_length
    if declared is not None and declared > cap:
        raise _too_large(cap)
    try:
        body = BoundedBody(response.headers.get("Content-Encoding"), cap)
        async for chunk in response.content.iter_chunked(65536):
            body.feed(chunk)
        return body.result()
    except BodyTooLarge:
        raise _too_large(cap) from None
    except UnknownEncoding as exc:
        raise SynapseError(
            "upstream_malformed",
            f"the provider answered in a content encoding synapse did not ask for ({upstream_text(exc.encoding)!r})",
            hint=f"synapse accepts {ACCEPT_ENCODING}; check the base URL and any proxy in between",
        ) from None
    except CorruptBody as exc:
        raise SynapseError(
            "upstream_malformed",
            f"the provider's compressed answer did not decode ({exc})",
            hint="the answer was cut off or corrupted; check the base URL and any proxy in between",
        ) from None


def _too_large(cap: int) -> SynapseError:
    return SynapseError(
        "upstream_malformed",
        f"the provider's response exceeded {cap // (1024 * 1024)} MiB and was dropped",
        hint="a chat answer is never this large; check that the base URL points at the provider's API",
    )


def decode_json(reply: Reply, what: str) -> Any:
    """The body as JSON, or upstream_malformed naming what was expected."""
    if not reply.body.strip():
        raise SynapseError("upstream_malformed", f"the provider sent an empty body where {what} was expected")
    try:
        return msgspec.json.decode(reply.body)
    except MALFORMED:
        snippet = upstream_text(reply.body[:200].decode("utf-8", errors="replace"))
        raise SynapseError(
            "upstream_malformed",
            f"the provider sent non-JSON where {what} was expected: {snippet!r}",
            hint="check that the base URL points at the provider's API root (a proxy or login page answered)",
        ) from None


def decode_or_none(reply: Reply, type_: Any = Any) -> Any:
    """The body as `type_`, or None when it is not that: for reading error bodies, which may be
    anything (HTML from a proxy, plain text, another API's shape)."""
    try:
        return msgspec.json.decode(reply.body, type=type_)
    except MALFORMED:
        return None


def convert(raw: Any, type_: type[Any], what: str, parse_error: Any = None, reply: Reply | None = None) -> Any:
    """`raw` as `type_`, or a typed error: a 200 that carries the family's error body is the
    provider's error (some gateways do that), anything else of the wrong shape is malformed."""
    if parse_error is not None and reply is not None and isinstance(raw, dict) and "error" in raw:
        parsed = parse_error(reply)
        if parsed is not None:
            raise SynapseError(
                "upstream_error",
                f"provider answered {reply.status} with an error body: {upstream_text(parsed.message)}",
                hint="the provider (or a gateway in front of it) reported an error despite the 200 status",
                status=reply.status,
            )
    try:
        return msgspec.convert(raw, type_)
    except msgspec.ValidationError as exc:
        raise SynapseError(
            "upstream_malformed",
            f"the provider's {what} did not have the expected shape ({exc})",
            hint="check the provider id and base URL: another API may be answering",
        ) from None


def redirect_refused(reply: Reply, name: str) -> SynapseError:
    """A redirect is never followed: it would be a second request (a hidden retry), and the key
    header would travel to wherever it points (aiohttp drops Authorization across origins, not
    x-api-key, api-key or x-goog-api-key)."""
    location = upstream_text(reply.header("location") or "") or "nowhere named"
    return SynapseError(
        "upstream_malformed",
        f"the provider answered {reply.status}, a redirect to {location}; synapse follows no redirect "
        "(it would be a second request and could carry the key elsewhere)",
        hint=f"if that address is the API's new home, make it the base URL: `synapsectl connections edit {name} --base-url URL`",
        status=reply.status,
    )


@dataclass(frozen=True)
class UpstreamError:
    """What a family's error body says: message plus the provider's own code/type/status strings."""

    message: str
    codes: tuple[str, ...] = ()


async def get_json(ctx: CallContext, url: str, headers: dict[str, str], type_: type[Any], what: str,
                   parse_error: Any, miss: frozenset[int] = frozenset()) -> Any:
    """GET one JSON document as `type_`; None for a status in `miss`; other statuses are errors."""
    reply = await send(ctx, "GET", url, headers=headers)
    if reply.status in miss:
        return None
    if reply.status != 200:
        raise http_error(reply, parse_error(reply), ctx)
    return convert(decode_json(reply, what), type_, what)


def http_error(reply: Reply, parsed: UpstreamError | None, ctx: CallContext, model: str | None = None) -> SynapseError:
    """Map an HTTP error status (and the family's parsed error body) to a typed error whose hints
    name this connection and the credential it really uses."""
    name = ctx.name
    model = model or ctx.conn.model
    status = reply.status
    codes = {c.lower() for c in (parsed.codes if parsed else ()) if c}
    text = upstream_text(parsed.message) if parsed and parsed.message else f"HTTP {status} with no error message"
    detail: dict[str, Any] = {"status": status}
    request_id = reply.header("x-request-id") or reply.header("request-id")
    if request_id:
        detail["request_id"] = request_id

    def err(kind: str, hint: str | None = None) -> SynapseError:
        return SynapseError(kind, f"provider answered {status}: {text}", hint=hint, **detail)  # type: ignore[arg-type]

    if status == 401 or codes & {"invalid_api_key", "api_key_invalid", "authentication_error", "unauthenticated"}:
        return err("auth_failed", renew_hint(name, ctx.conn.credential))
    if status == 403 or codes & {"permission_error", "permission_denied"}:
        return err("permission_denied")
    if status == 429 or codes & {"rate_limit_error", "resource_exhausted"}:
        retry_after = reply.header("retry-after")
        if retry_after:
            detail["retry_after_s"] = retry_after
        if codes & {"insufficient_quota", "billing_hard_limit_reached"}:
            return err("quota_exceeded")
        wait = f" (the provider suggests {retry_after}s; synapse did not wait or retry)" if retry_after else ""
        return err("rate_limited", f"the provider is rate-limiting this key; wait before sending more{wait}")
    if status == 404 or codes & {"model_not_found", "not_found_error", "deploymentnotfound"}:
        if parsed is None:
            return err("model_not_found", "no such endpoint or model: check the model id and that the base URL is the API root")
        return err("model_not_found", f"check the model id {model!r} with `synapsectl preflight {name}` (it lists close matches)")
    if status == 408:
        return err("timeout")
    if 300 <= status < 400:
        return redirect_refused(reply, name)
    if 400 <= status < 500:
        if codes & {"context_length_exceeded", "string_above_max_length"} or CONTEXT_TOO_LONG.search(text):
            return err("context_too_long")
        return err("bad_request")
    if status >= 500:
        return err("upstream_error")
    return SynapseError("upstream_malformed", f"unexpected HTTP {status} from the provider", **detail)
