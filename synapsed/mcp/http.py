"""The HTTP MCP listener on loopback: our own guards (Host, Origin, bearer token, body size)
in front of the fast path and the SDK's Streamable HTTP session manager, served by aiohttp.

It listens before the SDK has loaded (importing it takes about a second): the fast path opens
sessions and answers tools/list at once; a request that needs the SDK waits for it. Sessions
the fast path opened get a twin in the SDK when a request first needs one (the initialize is
replayed through the SDK's public HTTP handling) and the Mcp-Session-Id is swapped in between.

The SDK's DNS-rebinding check stays on as a second layer; tests exercise ours on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from aiohttp import web

from synapsed.config import McpSettings
from synapsed.errors import SynapseError
from synapsed.json_input import MALFORMED, encoded_body
from synapsed.logging import get_logger
from synapsed.mcp import asgi, roots, security
from synapsed.mcp.conn_guard import ConnectionGuard, GuardedSite, GuardSettings, connection_cap
from synapsed.mcp.deliveries import Deliveries, carries_reply, tools_call_id
from synapsed.mcp.fast_path import FastPath
from synapsed.mcp.listing import BOUND_PREFIX, HANDSHAKE_VERSIONS, SDK_FAILED, negotiated
from synapsed.mcp.sessions import Session, SessionRegistry

log = get_logger("synapsed.mcp")
SWEEP_INTERVAL_S = 5.0
RETRY_AFTER_S = 5


class _ClientInfo(msgspec.Struct):
    name: str = "unknown"
    version: str = ""


class _InitializeParams(msgspec.Struct):
    clientInfo: _ClientInfo = msgspec.field(default_factory=_ClientInfo)  # noqa: N815 - wire name
    protocolVersion: str | None = None  # noqa: N815
    capabilities: dict[str, Any] | None = None


class _Initialize(msgspec.Struct):
    """Just enough of a JSON-RPC message to tell an initialize request (which opens a session)."""

    method: str = ""
    params: _InitializeParams | None = None


def initialize_of(body: bytes) -> _Initialize | None:
    # Stateless-era tools/call requests come without a session id too: a substring test keeps
    # the decode of their (possibly large) bodies off the hot path.
    if b"initialize" not in body:
        return None
    try:
        message = msgspec.json.decode(body, type=_Initialize)
    except MALFORMED:
        return None  # a batch, garbage or another shape: the SDK answers it
    return message if message.method == "initialize" else None


def jsonrpc_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def _modern_era(request: web.Request) -> bool:
    """The SDK routes by this header alone: any version outside the handshake era is 2026-07-28 style."""
    version = request.headers.get("mcp-protocol-version")
    return version is not None and version not in HANDSHAKE_VERSIONS


class HttpListener:
    def __init__(
        self,
        fast: FastPath | None,
        settings: McpSettings,
        sessions: SessionRegistry,
        token: Callable[[], str],
        has_connection: Callable[[str], bool],
        make_room: Callable[[], Awaitable[None]],
        mounts: Mapping[str, web.Application] | None = None,
        want_sdk: Callable[[], None] = lambda: None,
        deliveries: Deliveries | None = None,
    ) -> None:
        self.settings = settings
        self.deliveries = deliveries  # which SDK-written answers reached their client
        self.want_sdk = want_sdk  # a request is waiting for the SDK: load it now
        self.mounts = dict(mounts or {})  # prefix -> sub-application with its own guards (the console)
        self.sessions = sessions
        self.token = token
        self.has_connection = has_connection
        self.make_room = make_room
        self._sweeper: asyncio.Task[None] | None = None
        self.port = 0
        self.manager: Any = None  # the SDK's StreamableHTTPSessionManager, once attached
        # Streamed replies carry progress and log messages only the SDK sends.
        self.fast = None if settings.stream_responses else fast
        self._names: list[str] = []
        self._stop = asyncio.Event()
        self._sdk_ready = asyncio.Event()
        self._sdk_failed = False  # abandon(): it will never load in this process
        self._manager_ready = asyncio.Event()
        self._manager_task: asyncio.Task[None] | None = None
        self._twin_locks: dict[str, asyncio.Lock] = {}
        self._runner: web.AppRunner | None = None
        self.guard = ConnectionGuard(GuardSettings(
            settings.head_timeout_s, settings.idle_timeout_s, connection_cap(settings.max_connections)))

    @property
    def url(self) -> str:
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"http://{host}:{self.port}/mcp"

    async def start(self) -> None:
        """Listen now; the SDK joins through attach()."""
        app = web.Application(client_max_size=self.settings.max_body_bytes, middlewares=[self.guard.middleware()])
        app.router.add_route("*", "/mcp", self.handle)
        app.router.add_route("*", BOUND_PREFIX + "{name}", self.handle)
        for prefix, sub in self.mounts.items():
            app.add_subapp(prefix, sub)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = GuardedSite(self._runner, self.settings.host, self.settings.port, self.guard)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            if exc.errno == errno.EADDRINUSE:
                raise SynapseError(
                    "config_invalid",
                    f"MCP port {self.settings.port} on {self.settings.host} is already in use",
                    hint="another synapsed or program holds it: stop it, or set [mcp] port in config.toml",
                    port=self.settings.port,
                ) from None
            raise
        self.port = site.bound_port
        self._sweeper = asyncio.create_task(self._sweep())
        self._names = [f"{n}:{self.port}" for n in ("127.0.0.1", "localhost", "[::1]")]
        if self.fast is not None:
            self.fast.allow(self._names, self._origins())

    def _origins(self) -> list[str]:
        return [f"http://{n}" for n in self._names] + [f"https://{n}" for n in self._names]

    async def attach(self, sdk_server: Any) -> None:
        """The SDK has loaded (`sdk_server` is its low-level Server with our handlers): run its
        session manager and hand it what the fast path does not take."""
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
        from mcp.server.transport_security import TransportSecuritySettings

        self.manager = StreamableHTTPSessionManager(
            app=sdk_server,
            # A plain JSON reply per POST is cheaper than an SSE stream per call; streams carry
            # compare's progress and log messages to HTTP clients when [mcp] stream_responses is on.
            json_response=not self.settings.stream_responses,
            max_request_body_size=self.settings.max_body_bytes,
            # The daemon keeps the idle clock (sessions.expired): fast-path calls never reach the SDK.
            session_idle_timeout=None,
            # The daemon's registry caps sessions (make_room); twins must never be refused.
            max_sessions=None,
            # The SDK's own DNS-rebinding check, as a second layer behind ours.
            security_settings=TransportSecuritySettings(
                enable_dns_rebinding_protection=True, allowed_hosts=self._names, allowed_origins=self._origins()),
        )
        self._manager_task = asyncio.create_task(self._run_manager())
        await self._manager_ready.wait()
        self._sdk_ready.set()

    def abandon(self) -> None:
        """The SDK could not be loaded: requests waiting for it are answered 503, not left hanging."""
        self._sdk_failed = True
        self._stop.set()
        self._sdk_ready.set()

    async def _run_manager(self) -> None:
        # The SDK requires run() to be entered and exited in the same task.
        async with self.manager.run():
            self._manager_ready.set()
            await self._stop.wait()

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._stop.set()
        self._sdk_ready.set()  # requests still waiting for the SDK give up (see _sdk)
        if self._manager_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._manager_task

    def refusal(self, request: web.Request) -> web.Response | None:
        """Our own guards, each on its own: None when the request may reach the SDK."""
        if not security.host_ok(request.headers.get("Host"), self.port):
            log.warning("mcp request refused", reason="foreign Host header")
            return jsonrpc_error(403, "forbidden: Host must be a loopback name for this port")
        if not security.origin_ok(request.headers.get("Origin"), self.port):
            log.warning("mcp request refused", reason="foreign Origin header")
            return jsonrpc_error(403, "forbidden: Origin is not a loopback origin for this port")
        if self.settings.require_token and not security.token_ok(request.headers.get("Authorization"), self.token()):
            log.warning("mcp request refused", reason="missing or wrong bearer token")
            return jsonrpc_error(401, "unauthorized", headers={"WWW-Authenticate": 'Bearer realm="mcp-synapse"'})
        bound = request.match_info.get("name")
        if bound is not None and not self.has_connection(bound):
            return jsonrpc_error(404, f"no connection named {bound!r}; see `synapsectl connections list`")
        if request.content_length is not None and request.content_length > self.settings.max_body_bytes:
            return jsonrpc_error(413, f"request body exceeds {self.settings.max_body_bytes} bytes")
        if encoded_body(request.headers.get("Content-Encoding")):
            return jsonrpc_error(415, "compressed request bodies are not accepted; send the JSON as it is")
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refused = self.refusal(request)
        if refused is not None:
            return refused
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return jsonrpc_error(413, f"request body exceeds {self.settings.max_body_bytes} bytes")
        sid = request.headers.get("mcp-session-id")
        if sid is not None:
            return await self._in_session(request, body, f"http-{sid}")
        opening = initialize_of(body) if request.method == "POST" else None
        if opening is not None:
            try:
                await self.make_room()
            except SynapseError as exc:
                log.warning("mcp session refused: at the session cap", max_sessions=self.settings.max_sessions)
                return jsonrpc_error(503, f"{exc.message}; {exc.hint}", headers={"Retry-After": str(RETRY_AFTER_S)})
            if self.fast is not None:
                opened = self.fast.initialize(request, body)
                if opened is not None:
                    return opened
        unavailable = await self._sdk()
        if unavailable is not None:
            return unavailable
        if self.fast is not None and _modern_era(request):
            answered = await self.fast.stateless(request, body)
            if answered is not None:
                return answered
        response = await asgi.serve(self.manager.handle_request, request, body)
        new_sid = response.headers.get("mcp-session-id")
        if opening is not None and new_sid and self.sessions.get(f"http-{new_sid}") is None:
            params = opening.params or _InitializeParams()
            session = self.sessions.opened(f"http-{new_sid}", "http", params.clientInfo.name,
                                           params.clientInfo.version, request.match_info.get("name"),
                                           negotiated(params.protocolVersion) if params.protocolVersion else None)
            session.roots_capable = "roots" in (params.capabilities or {})
            self.sessions.twinned(session, new_sid)
        return response

    async def _sdk(self) -> web.Response | None:
        """Wait for the SDK to load; a reply when the daemon stops first."""
        if not self._sdk_ready.is_set():
            self.want_sdk()
            await self._sdk_ready.wait()
        if self._sdk_failed:
            return jsonrpc_error(503, SDK_FAILED)
        if self.manager is None or self._stop.is_set():
            return jsonrpc_error(503, "synapsed is stopping", headers={"Retry-After": str(RETRY_AFTER_S)})
        return None

    async def _in_session(self, request: web.Request, body: bytes, key: str) -> web.StreamResponse:
        session = self.sessions.get(key)
        if session is not None and self.sessions.is_expired(session):
            self.sessions.end(key)
            await self.close_session(session)  # idle too long: 404 from here on
            session = None
        if session is not None and request.method == "POST":
            if roots.take_response(session, body):  # the answer to a roots/list we sent on a call's stream
                session.touch_active()
                return web.Response(status=202, headers={"mcp-session-id": session.public_id})
            if b"notifications/roots/list_changed" in body:
                session.roots = None  # asked again at the next call that sends files
        if session is not None and self.fast is not None and not _modern_era(request):
            answered = await self.fast.in_session(request, body, session)
            if answered is not None:
                return answered
            if b"notifications/cancelled" in body:
                self.fast.cancel_from(session.id, body)  # then on to the SDK like every notification
        unavailable = await self._sdk()
        if unavailable is not None:
            return unavailable
        if session is None:
            return await asgi.serve(self.manager.handle_request, request, body)  # the SDK's 404
        sdk_id = await self._twin(session)
        if sdk_id is None:
            return jsonrpc_error(404, "Session not found")
        call_id = tools_call_id(body) if request.method == "POST" and self.deliveries is not None else None
        delivered = False

        def written(chunk: bytes) -> None:
            nonlocal delivered
            delivered = delivered or carries_reply(chunk, call_id)  # type: ignore[arg-type]  # set when used

        session.in_flight += 1
        try:
            response = await asgi.serve(self.manager.handle_request, request, body, (sdk_id, session.public_id),
                                        written if call_id is not None else None)
        finally:
            session.in_flight -= 1
            if call_id is not None and self.deliveries is not None:
                self.deliveries.settled(session, call_id, delivered)
        if request.method == "DELETE" and response.status < 400 and self.fast is not None:
            self.fast.terminate(session.id)
        if request.method == "DELETE" or (response.status == 404 and not _modern_era(request)):
            self.sessions.end(key)
        elif response.status < 400:
            session.touch_active()
        return response

    async def _twin(self, session: Session) -> str | None:
        """The SDK's id for this session, giving the SDK a twin of it first if it has none: the
        client's own initialize (and its initialized notification) replayed through the SDK."""
        if session.sdk_id is not None:
            return session.sdk_id
        lock = self._twin_locks.setdefault(session.id, asyncio.Lock())
        try:
            async with lock:
                if session.sdk_id is None:
                    await self._replay(session)
        finally:
            self._twin_locks.pop(session.id, None)
        return session.sdk_id

    async def _replay(self, session: Session) -> None:
        headers = {"host": self._names[0], "content-type": "application/json",
                   "accept": "application/json, text/event-stream"}
        status, reply = await asgi.call(self.manager.handle_request, "POST", "/mcp", headers, session.opening)
        sdk_id = reply.get("mcp-session-id")
        if status != 200 or not sdk_id:
            log.error("mcp session could not be handed to the SDK", session=session.id, status=status)
            return
        self.sessions.twinned(session, sdk_id)
        if session.initialized:
            note = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
            await asgi.call(self.manager.handle_request, "POST", "/mcp",
                            {**headers, "mcp-session-id": sdk_id, "mcp-protocol-version": session.protocol_version or ""},
                            note)

    async def close_session(self, session: Session) -> None:
        """End one HTTP session, and its SDK twin through the SDK's public DELETE handling."""
        status = 0
        if session.sdk_id is not None and self.manager is not None:
            headers = {"host": f"127.0.0.1:{self.port}", "mcp-session-id": session.sdk_id}
            if session.protocol_version:
                headers["mcp-protocol-version"] = session.protocol_version
            status, _ = await asgi.call(self.manager.handle_request, "DELETE", "/mcp", headers)
        log.info("mcp session closed by the daemon", session=session.id, client=session.client_name,
                 state=session.state, status=status)

    async def _sweep(self) -> None:
        """Close idle sessions, and those that never finished the handshake on their own short timeout."""
        while True:
            await asyncio.sleep(min(SWEEP_INTERVAL_S, self.sessions.uninitialized_timeout_s / 2))
            await self.close_expired()

    async def close_expired(self) -> None:
        for session in self.sessions.expired():
            await self.close_session(session)
