"""The HTTP MCP listener on loopback: our own guards (Host, Origin, bearer token, body size)
in front of the SDK's Streamable HTTP session manager, served by aiohttp.

The SDK's DNS-rebinding check stays on as a second layer; tests exercise ours on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from synapsed.config import McpSettings
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.mcp import asgi, security
from synapsed.mcp.server import BOUND_PREFIX, McpServer
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
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # a batch, garbage or another shape: the SDK answers it
    return message if message.method == "initialize" else None


def jsonrpc_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def _bound_port(site: web.TCPSite) -> int:
    """The port the OS gave us (the config may say 0: any free port)."""
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1])


class HttpListener:
    def __init__(
        self,
        server: McpServer,
        settings: McpSettings,
        sessions: SessionRegistry,
        token: Callable[[], str],
        has_connection: Callable[[str], bool],
        make_room: Callable[[], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.token = token
        self.has_connection = has_connection
        self.make_room = make_room
        self._sweeper: asyncio.Task[None] | None = None
        self.port = 0
        self.manager = StreamableHTTPSessionManager(
            app=server.server,
            # A plain JSON reply per POST is cheaper than an SSE stream per call; streams carry
            # compare's progress and log messages to HTTP clients when [mcp] stream_responses is on.
            json_response=not settings.stream_responses,
            max_request_body_size=settings.max_body_bytes,
            session_idle_timeout=settings.session_idle_timeout_s,
        )
        self._stop = asyncio.Event()
        self._manager_ready = asyncio.Event()
        self._manager_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"http://{host}:{self.port}/mcp"

    async def start(self) -> None:
        self._manager_task = asyncio.create_task(self._run_manager())
        await self._manager_ready.wait()
        app = web.Application(client_max_size=self.settings.max_body_bytes)
        app.router.add_route("*", "/mcp", self.handle)
        app.router.add_route("*", BOUND_PREFIX + "{name}", self.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port, reuse_address=True)
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
        self.port = _bound_port(site)
        self._sweeper = asyncio.create_task(self._sweep())
        names = [f"{n}:{self.port}" for n in ("127.0.0.1", "localhost", "[::1]")]
        # The SDK's own DNS-rebinding check, as a second layer behind ours.
        self.manager.security_settings = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=names,
            allowed_origins=[f"http://{n}" for n in names] + [f"https://{n}" for n in names],
        )

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
        response = await asgi.serve(self.manager.handle_request, request, body)
        new_sid = response.headers.get("mcp-session-id")
        if opening is not None and new_sid and self.sessions.get(f"http-{new_sid}") is None:
            params = opening.params or _InitializeParams()
            self.sessions.opened(f"http-{new_sid}", "http", params.clientInfo.name, params.clientInfo.version,
                                 request.match_info.get("name"), params.protocolVersion)
        return response

    async def _in_session(self, request: web.Request, body: bytes, key: str) -> web.StreamResponse:
        session = self.sessions.get(key)
        if session is not None:
            session.in_flight += 1
        try:
            response = await asgi.serve(self.manager.handle_request, request, body)
        finally:
            if session is not None:
                session.in_flight -= 1
        if request.method == "DELETE":
            self.sessions.end(key)
        elif session is not None and response.status < 400:
            session.touch_active()
        return response

    async def close_session(self, session: Session) -> None:
        """End one HTTP session in the SDK through its public DELETE handling."""
        headers = {"host": f"127.0.0.1:{self.port}", "mcp-session-id": session.id.removeprefix("http-")}
        if session.protocol_version:
            headers["mcp-protocol-version"] = session.protocol_version
        status = await asgi.call(self.manager.handle_request, "DELETE", "/mcp", headers)
        log.info("mcp session closed by the daemon", session=session.id, client=session.client_name,
                 state=session.state, status=status)

    async def _sweep(self) -> None:
        """Drop sessions that never finished the handshake, on their own short timeout."""
        while True:
            await asyncio.sleep(min(SWEEP_INTERVAL_S, self.sessions.uninitialized_timeout_s / 2))
            for session in self.sessions.expired_uninitialized():
                await self.close_session(session)
