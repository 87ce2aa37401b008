"""The MCP service inside synapsed: the SDK's server and Streamable HTTP session manager, served
on 127.0.0.1 by aiohttp (token, Host, Origin and size checks first), plus a Unix socket that
speaks newline-delimited MCP to `synapsectl mcp stdio` bridges.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import json
import uuid
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from aiohttp import web
from mcp.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from synapsed import __version__
from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.mcp import asgi, security
from synapsed.mcp.sessions import Session, SessionRegistry
from synapsed.mcp.tools import TOOLS, Answer, ToolRunner, error_answer, tool_names, tool_schema
from synapsed.redaction import redact_text, redact_value
from synapsed.rpc.peer import peer_allowed

if TYPE_CHECKING:
    from synapsed.app import Daemon

log = get_logger("synapsed.mcp")

BOUND_PREFIX = "/mcp/c/"
BRIDGE_HELLO_TIMEOUT_S = 10.0
INSTRUCTIONS = (
    "mcp synapse gives you the user's own LLM connections (their keys, their providers). "
    "Call list_connections to see them, ask or chat to query one, compare to query several side by side. "
    "Failures come back as errors with a kind and a hint; nothing is retried or silently substituted."
)

# Set per bridge connection; the SDK's handler tasks inherit it (they are spawned inside it).
_stdio_binding: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar("stdio_binding", default=None)


def _jsonrpc_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
    return web.json_response(body, status=status, headers=headers)


class McpService:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.settings = daemon.config_store.config.mcp  # host/port/limits apply at start
        self.sessions = SessionRegistry(self.settings.session_idle_timeout_s)
        self.token = ""
        self.port = 0
        self.server: Server[Any] = Server(
            "mcp-synapse",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self.manager = StreamableHTTPSessionManager(
            app=self.server,
            # Tools answer once and send no progress, so a plain JSON reply per POST is enough
            # and cheaper than opening an SSE stream for each call.
            json_response=True,
            max_request_body_size=self.settings.max_body_bytes,
            session_idle_timeout=self.settings.session_idle_timeout_s,
        )
        self._stop = asyncio.Event()
        self._manager_ready = asyncio.Event()
        self._manager_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._bridge_server: asyncio.AbstractServer | None = None
        self._bridges: set[asyncio.Task[Any]] = set()

    # ---- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"http://{host}:{self.port}/mcp"

    async def start(self) -> None:
        self.token = security.load_or_create_token(self.daemon.paths.token_file)
        self._manager_task = asyncio.create_task(self._run_manager())
        await self._manager_ready.wait()
        await self._start_http()
        await self._start_bridge_socket()
        if not self.settings.require_token:
            log.warning("MCP token requirement is OFF: any local process can use your connections over HTTP",
                        url=self.url)
        log.info("mcp listening", url=self.url, stdio_socket=str(self.daemon.paths.mcp_socket))

    async def _run_manager(self) -> None:
        # The SDK requires run() to be entered and exited in the same task.
        async with self.manager.run():
            self._manager_ready.set()
            await self._stop.wait()

    async def _start_http(self) -> None:
        app = web.Application(client_max_size=self.settings.max_body_bytes)
        app.router.add_route("*", "/mcp", self._http)
        app.router.add_route("*", BOUND_PREFIX + "{name}", self._http)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._stop.set()
            if exc.errno == errno.EADDRINUSE:
                raise SynapseError(
                    "config_invalid",
                    f"MCP port {self.settings.port} on {self.settings.host} is already in use",
                    hint="another synapsed or program holds it: stop it, or set [mcp] port in config.toml",
                    port=self.settings.port,
                ) from None
            raise
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        names = [f"{n}:{self.port}" for n in ("127.0.0.1", "localhost", "[::1]")]
        # The SDK's own DNS-rebinding check, as a second layer behind ours.
        self.manager.security_settings = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=names,
            allowed_origins=[f"http://{n}" for n in names] + [f"https://{n}" for n in names],
        )

    async def _start_bridge_socket(self) -> None:
        path = self.daemon.paths.mcp_socket
        path.unlink(missing_ok=True)  # we hold the instance lock: any file here is stale
        self._bridge_server = await asyncio.start_unix_server(
            self._on_bridge, path=str(path), limit=self.settings.max_body_bytes
        )
        path.chmod(0o600)

    async def stop(self) -> None:
        if self._bridge_server is not None:
            self._bridge_server.close()
            for task in list(self._bridges):
                task.cancel()
            await asyncio.gather(*self._bridges, return_exceptions=True)
            self.daemon.paths.mcp_socket.unlink(missing_ok=True)
        if self._runner is not None:
            await self._runner.cleanup()
        self._stop.set()
        if self._manager_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._manager_task

    def rotate_token(self) -> None:
        self.token = security.rotate_token(self.daemon.paths.token_file)
        log.info("mcp token rotated; HTTP clients need the new one")

    def view(self) -> p.McpView:
        return p.McpView(
            url=self.url,
            port=self.port,
            require_token=self.settings.require_token,
            stdio_socket=str(self.daemon.paths.mcp_socket),
            token_file=str(self.daemon.paths.token_file),
            active_sessions=len(self.sessions),
        )

    # ---- HTTP ---------------------------------------------------------------------------------

    async def _http(self, request: web.Request) -> web.StreamResponse:
        if not security.host_ok(request.headers.get("Host"), self.port):
            log.warning("mcp request refused", reason="foreign Host header")
            return _jsonrpc_error(403, "forbidden: Host must be a loopback name for this port")
        if not security.origin_ok(request.headers.get("Origin"), self.port):
            log.warning("mcp request refused", reason="foreign Origin header")
            return _jsonrpc_error(403, "forbidden: Origin is not a loopback origin for this port")
        if self.settings.require_token and not security.token_ok(request.headers.get("Authorization"), self.token):
            log.warning("mcp request refused", reason="missing or wrong bearer token")
            return _jsonrpc_error(401, "unauthorized", headers={"WWW-Authenticate": 'Bearer realm="mcp-synapse"'})
        bound = request.match_info.get("name")
        if bound is not None and bound not in self.daemon.config_store.config.connections:
            return _jsonrpc_error(404, f"no connection named {bound!r}; see `synapsectl connections list`")
        if request.content_length is not None and request.content_length > self.settings.max_body_bytes:
            return _jsonrpc_error(413, f"request body exceeds {self.settings.max_body_bytes} bytes")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _jsonrpc_error(413, f"request body exceeds {self.settings.max_body_bytes} bytes")
        response = await asgi.serve(self.manager.handle_request, request, body)
        if request.method == "DELETE" and (sid := request.headers.get("mcp-session-id")):
            self.sessions.end(f"http-{sid}")
        return response

    # ---- stdio bridge socket ------------------------------------------------------------------

    async def _on_bridge(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._bridges.add(task)
        try:
            if not peer_allowed(writer.get_extra_info("socket")):
                log.warning("bridge refused", reason="peer is not the daemon's user")
                return
            accepted, bound = await self._bridge_hello(reader, writer)
            if not accepted:
                return
            key = self.sessions.new_stdio_id()
            self.sessions.touch(key, "stdio", "unknown", "", bound or None, None)
            _stdio_binding.set((key, bound or None))
            try:
                await self._serve_bridge(reader, writer)
            finally:
                self.sessions.end(key)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                self._bridges.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _bridge_hello(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[bool, str | None]:
        """The bridge's first line names the binding; our answer says whether to go on."""
        try:
            hello = json.loads(await asyncio.wait_for(reader.readline(), BRIDGE_HELLO_TIMEOUT_S))
        except (asyncio.TimeoutError, ValueError):
            hello = None
        bound = hello.get("connection") if isinstance(hello, dict) else None
        if not isinstance(hello, dict) or hello.get("synapse_bridge") != 1 or not isinstance(bound, (str, type(None))):
            await self._bridge_reply(writer, {"error": {"kind": "bad_request", "message": "expected a synapse bridge hello line",
                                                        "hint": "connect with `synapsectl mcp stdio`"}})
            return False, None
        if bound is not None and bound not in self.daemon.config_store.config.connections:
            await self._bridge_reply(writer, {"error": {"kind": "not_found", "message": f"no connection named {bound!r}",
                                                        "hint": "run `synapsectl connections list` to see the names"}})
            return False, None
        await self._bridge_reply(writer, {"ok": True})
        return True, bound

    @staticmethod
    async def _bridge_reply(writer: asyncio.StreamWriter, body: dict[str, Any]) -> None:
        writer.write(json.dumps({"synapse_bridge": 1, **body}).encode() + b"\n")
        await writer.drain()

    async def _serve_bridge(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](16)
        write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](16)

        async def inbound() -> None:
            async with read_send:
                while True:
                    try:
                        line = await reader.readline()
                    except ValueError:  # a line longer than the body cap
                        log.warning("bridge message over the size cap; closing", limit=self.settings.max_body_bytes)
                        return
                    if not line:
                        return
                    if not line.strip():
                        continue
                    try:
                        message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                    except Exception as exc:  # the SDK answers a parse error for it
                        await read_send.send(exc)
                        continue
                    await read_send.send(SessionMessage(message))

        async def outbound() -> None:
            async with write_recv:
                async for message in write_recv:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    writer.write(data.encode() + b"\n")
                    await writer.drain()

        async with anyio.create_task_group() as tg:
            tg.start_soon(inbound)
            tg.start_soon(outbound)
            await self.server.run(read_recv, write_send, self.server.create_initialization_options())
            tg.cancel_scope.cancel()

    # ---- MCP handlers -------------------------------------------------------------------------

    def _caller(self, ctx: Any) -> tuple[Session, str | None]:
        params = ctx.session.client_params
        info = params.client_info if params is not None else None
        name = info.name if info is not None else "unknown"
        version = info.version if info is not None else ""
        request = ctx.request
        if request is not None and hasattr(request, "url"):
            path = request.url.path
            bound = path[len(BOUND_PREFIX):] if path.startswith(BOUND_PREFIX) else None
            sid = request.headers.get("mcp-session-id")
            key = f"http-{sid}" if sid else f"http-stateless-{name}-{version}"
            return self.sessions.touch(key, "http", name, version, bound, ctx.protocol_version), bound
        key, bound = _stdio_binding.get() or ("stdio-unbound", None)
        return self.sessions.touch(key, "stdio", name, version, bound, ctx.protocol_version), bound

    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        _, bound = self._caller(ctx)
        tools = []
        for name in tool_names(bound):
            spec = TOOLS[name]
            description = spec.description + (f" This endpoint always uses connection {bound!r}." if bound else "")
            tools.append(types.Tool(name=name, title=spec.title, description=description, input_schema=tool_schema(spec, bound)))
        return types.ListToolsResult(tools=tools)

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        session, bound = self._caller(ctx)
        if params.name not in tool_names(bound):
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}; available: {', '.join(tool_names(bound))}")
        config = self.daemon.config_store.config
        runner = ToolRunner(self.daemon.gateway, config.mcp.default_connection)
        try:
            if bound is not None and bound not in config.connections:
                raise SynapseError("not_found", f"connection {bound!r} no longer exists", name=bound)
            answer = await runner.run(params.name, params.arguments, bound, caller=session.label, session=session.id)
        except SynapseError as exc:
            answer = error_answer(exc)
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception("mcp tool failed", tool=params.name, error_id=error_id)
            answer = error_answer(SynapseError("internal", f"internal error in {params.name} (error id {error_id})",
                                               hint=f"see `synapsectl logs` for error_id={error_id}"))
        session.calls += 1
        session.errors += int(answer.is_error)
        return _to_result(answer)


def _to_result(answer: Answer) -> types.CallToolResult:
    # Loaded keys never leave in a result; key-shaped patterns are only scrubbed from our own
    # error text, since model output may legitimately contain `sk-...`-like examples.
    text = redact_text(answer.text, patterns=answer.is_error)
    structured = redact_value(answer.structured, patterns=answer.is_error)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured, is_error=answer.is_error
    )
