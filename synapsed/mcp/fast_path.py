"""The HTTP fast path: what IDEs send all day, answered without the SDK's per-request machinery
(transport streams, session dispatch, repeated model validation):

- `initialize` (the daemon hands out the session id), its `notifications/initialized`, `ping`,
  `tools/list` and `tools/call` on such a session, and
- self-contained 2026-07-28 `tools/call` / `tools/list` requests that pass the SDK's own
  envelope ladder.

Only requests every SDK check would let through are taken: the exact Host/Origin values the
SDK allows, a JSON Content-Type and Accept, one JSON-RPC object of a known shape, params that
pass the SDK's own per-version surface validation (`mcp_types.methods`). Anything else returns
None and the SDK answers it, so error replies stay the reference's. The SDK's modules are
imported only once the SDK has loaded (`use_sdk_checks`): before that, initialize, ping and a
plain tools/list are answered from `listing` alone, which is how MCP answers within half a
second of the daemon starting. A differential test holds both paths' replies equal;
`[mcp] fast_path = false` turns this off.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, Literal, TypeVar

import msgspec
from aiohttp import web

from synapsed import __version__
from synapsed.errors import SynapseError
from synapsed.json_input import MALFORMED
from synapsed.mcp import roots
from synapsed.mcp.call_reply import WRITE_FAILED, CallReply, accepts, progress_notification, progress_token
from synapsed.mcp.calls import ToolCalls, UnknownTool
from synapsed.mcp.listing import (
    SERVER_NAME,
    declares_param_headers,
    error_body,
    initialize_result,
    input_schema,
    negotiated,
    result_data,
    tools_list_data,
)
from synapsed.mcp.roots import AskRoots
from synapsed.mcp.sessions import Session, SessionRegistry
from synapsed.mcp.tools import Progress, client_logs

# Handshake-era versions whose result vocabulary holds all we send (title, structuredContent);
# the SDK trims results for older ones, so their sessions stay on the SDK path.
FAST_VERSIONS = frozenset({"2025-06-18", "2025-11-25"})
# The handshake-era transport answers a request the client cancelled with this error.
REQUEST_CANCELLED = -32800
INTERNAL_ERROR = -32603
# What the SDK answers (HTTP 500, id null) for a request its session's DELETE left in flight.
TERMINATED = "Session terminated before the request completed"
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"
MODERN_RESULT = {"resultType": "complete", "_meta": {SERVER_INFO_META_KEY: {"name": SERVER_NAME,
                                                                             "version": __version__}}}
# tools/list in the 2026-07-28 era carries the SDK's default cache hint.
MODERN_LIST = {"cacheScope": "private", "ttlMs": 0}
# pydantic-core's JSON parser (the SDK's, over HTTP and stdio) refuses nesting deeper than this.
SDK_MAX_DEPTH = 201
_S = TypeVar("_S", bound=msgspec.Struct)
_R = TypeVar("_R", bound=web.StreamResponse)
JSON_HEADERS = {"Content-Type": "application/json"}


class _Request(msgspec.Struct, forbid_unknown_fields=True):
    """One JSON-RPC request object; anything else (batch, response, other methods) is the SDK's."""

    jsonrpc: Literal["2.0"]
    id: int | str
    method: Literal["tools/call", "tools/list", "ping"]
    params: dict[str, Any] | None = None


class _Notification(msgspec.Struct, forbid_unknown_fields=True):
    jsonrpc: Literal["2.0"]
    method: str
    params: dict[str, Any] | None = None


class _ClientInfo(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    version: str
    title: str | None = None


class _InitializeParams(msgspec.Struct, forbid_unknown_fields=True):
    protocolVersion: str  # noqa: N815 - wire names
    capabilities: dict[str, dict[str, Any]]
    clientInfo: _ClientInfo  # noqa: N815


class _Initialize(msgspec.Struct, forbid_unknown_fields=True):
    jsonrpc: Literal["2.0"]
    id: int | str
    method: Literal["initialize"]
    params: _InitializeParams


class _CancelledParams(msgspec.Struct):
    requestId: int | str  # noqa: N815 - wire name


def _nesting(value: Any) -> int:
    """How deep containers nest in decoded JSON, the outermost counted as 1."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _taken(shape: type[_S]) -> Callable[[bytes], _S | None]:
    decoder = msgspec.json.Decoder(shape)

    def decode(raw: bytes) -> _S | None:
        """`raw` as this shape, or None for the SDK: malformed, another shape, or nested deeper
        than the SDK's parser takes (counting brackets first keeps the walk off the hot path)."""
        try:
            message = decoder.decode(raw)
            if raw.count(b"[") + raw.count(b"{") > SDK_MAX_DEPTH and _nesting(msgspec.json.decode(raw)) > SDK_MAX_DEPTH:
                return None
        except MALFORMED:
            return None
        return message

    return decode


_decode_request = _taken(_Request)
_decode_notification = _taken(_Notification)
_decode_initialize = _taken(_Initialize)
_encode = msgspec.json.Encoder().encode


def accepts_json(accept: str) -> bool:
    """The SDK's Accept rule for JSON replies, wildcards included."""
    return accepts(accept, ("application/json", "application/*", "*/*"))


def _reply(request_id: int | str, result: dict[str, Any], headers: dict[str, str]) -> web.Response:
    body = _encode({"jsonrpc": "2.0", "id": request_id, "result": result})
    return web.Response(body=body, status=200, headers=headers)


def _line_progress(message: _Request, write: Callable[[bytes], bool]) -> Progress | None:
    """Progress notifications as bridge lines, when the request asked for them."""
    token = progress_token(message.params)
    if token is None:
        return None

    async def send(done: float, total: float | None, text: str) -> None:
        if not write(progress_notification(token, done, total, text)):
            raise ConnectionResetError("the stdio bridge is gone")

    return send


ROOTS_INPUT = "roots"


def _asking(session: Session, send: Callable[[bytes], Awaitable[None]]) -> AskRoots | None:
    """roots/list sent to the client by `send`, for a client that declared roots (else None)."""
    if not session.roots_capable:
        return None

    async def ask() -> list[str]:
        return roots.uris_of(await roots.ask(session, send, "roots/list"))

    return ask


def _stream_roots(session: Session, reply: CallReply) -> AskRoots | None:
    """roots/list as an event on the call's own SSE stream; the client POSTs the answer back."""
    async def send(line: bytes) -> None:
        if not reply.can_stream:
            raise SynapseError("file_refused", "the client accepts no event stream, which asking it for its "
                               "workspace roots needs", hint='send Accept: text/event-stream, or set [context] allow')
        await reply.send_event(line)

    return _asking(session, send)


def _line_roots(session: Session, write: Callable[[bytes], bool]) -> AskRoots | None:
    """roots/list as a line to the IDE on the bridge; its answer comes back on the same bridge."""
    async def send(line: bytes) -> None:
        if not write(line):
            raise ConnectionResetError("the stdio bridge is gone")

    return _asking(session, send)


def _modern_roots(message: _Request, capabilities: Any) -> tuple[AskRoots | None, bool]:
    """(how to know the roots, whether the client must be asked first) for a 2026-07-28 call."""
    params = message.params or {}
    arguments = params.get("arguments")
    if message.method != "tools/call" or not isinstance(arguments, dict) or not arguments.get("files"):
        return None, False
    answered = (params.get("inputResponses") or {}).get(ROOTS_INPUT)
    if isinstance(answered, dict):
        async def known() -> list[str]:
            return roots.uris_of(answered)  # a malformed answer fails the call as its tool error

        return known, False
    declared = isinstance(capabilities, Mapping) and "roots" in capabilities
    return None, declared


class FastPath:
    def __init__(self, calls: ToolCalls, sessions: SessionRegistry) -> None:
        self.calls = calls
        self.sessions = sessions
        self.hosts: frozenset[str] = frozenset()
        self.origins: frozenset[str] = frozenset()
        self.answered = 0
        # (session key, JSON-RPC id) -> the task answering it, for notifications/cancelled.
        self._in_flight: dict[tuple[str, int | str], asyncio.Task[Any]] = {}
        # Why a call's task was cancelled here: the client cancelled it, or ended its session.
        self._stopped: dict[tuple[str, int | str], Literal["cancelled", "terminated"]] = {}
        # The SDK's own checks, once it has loaded (see use_sdk_checks).
        self._surface: Callable[[str, str, Mapping[str, Any] | None], None] | None = None
        self._surface_errors: tuple[type[Exception], ...] = ()
        self._modern: Any = None

    def allow(self, hosts: list[str], origins: list[str]) -> None:
        """The exact Host and Origin values the SDK's DNS-rebinding check accepts."""
        self.hosts, self.origins = frozenset(hosts), frozenset(origins)

    def use_sdk_checks(self) -> None:
        """Called once the SDK has loaded: from here on calls and modern requests are validated
        by its own surface models and envelope ladder."""
        from mcp.shared import inbound
        from mcp_types import methods
        from pydantic import ValidationError

        self._surface = methods.validate_client_request
        self._surface_errors = (ValidationError, KeyError, ValueError)
        self._modern = inbound

    # ---- guards -----------------------------------------------------------------------------

    def _headers_pass(self, request: web.Request) -> bool:
        headers = request.headers
        origin = headers.get("Origin")
        content_type = headers.get("Content-Type", "")
        return (request.method == "POST"
                and headers.get("Host") in self.hosts
                and (not origin or origin in self.origins)
                and content_type.split(";", 1)[0].strip() == "application/json"
                and accepts_json(headers.get("Accept", "")))

    def _surface_ok(self, message: _Request, version: str) -> bool:
        """The SDK's own surface validation of the params for this protocol version. Before the
        SDK has loaded only what needs none passes: ping and tools/list without params."""
        if self._surface is None:
            return message.method != "tools/call" and not message.params
        try:
            self._surface(message.method, version, message.params)
        except self._surface_errors:
            return False
        return True

    # ---- handshake era ----------------------------------------------------------------------

    def initialize(self, request: web.Request, body: bytes) -> web.Response | None:
        """Open a session: the daemon's own id, the SDK's exact initialize result. The SDK gets
        a twin of the session (this very initialize, replayed) only if a request needs it."""
        if not self._headers_pass(request):
            return None
        message = _decode_initialize(body)
        if message is None:
            return None
        sid = uuid.uuid4().hex
        params = message.params
        version = negotiated(params.protocolVersion)
        session = self.sessions.opened(f"http-{sid}", "http", params.clientInfo.name, params.clientInfo.version,
                                       request.match_info.get("name"), version)
        session.opening = body
        session.roots_capable = "roots" in params.capabilities
        headers = {**JSON_HEADERS, "mcp-session-id": sid}
        return self._answer(_reply(message.id, initialize_result(params.protocolVersion), headers))

    async def in_session(self, request: web.Request, body: bytes, session: Session) -> web.StreamResponse | None:
        """A request on an established handshake-era session, or None for the SDK."""
        version = session.protocol_version
        if version not in FAST_VERSIONS or session.transport != "http" or not self._headers_pass(request):
            return None
        headers = {**JSON_HEADERS, "mcp-session-id": session.public_id}
        message = _decode_request(body)
        if message is None:
            return self._notification(body, session, headers)
        if not self._surface_ok(message, version):
            return None
        bound = request.match_info.get("name")
        session.touch_active()
        if message.method == "ping":
            return self._answer(_reply(message.id, {}, headers))
        if message.method == "tools/list":
            return self._answer(_reply(message.id, tools_list_data(bound), headers))
        reply = self._reply(request, headers, message, session)
        key = (session.id, message.id)
        session.in_flight += 1
        try:
            with self._cancellable(key):
                try:
                    answer = await reply.wait(self._call(session, bound, message, reply.progress(),
                                                         _stream_roots(session, reply)))
                except UnknownTool as exc:
                    return self._answer(await reply.finish(error_body(message.id, exc.code, exc.message)))
                except asyncio.CancelledError:
                    why = self._stopped.get(key)
                    if why is None:
                        raise  # the client went away or the daemon is stopping
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]
                    if why == "terminated":
                        return self._answer(await reply.finish(error_body(None, INTERNAL_ERROR, TERMINATED), 500))
                    return self._answer(await reply.finish(
                        error_body(message.id, REQUEST_CANCELLED, "Request cancelled")))
        finally:
            session.in_flight -= 1
        return self._answer(await self._deliver(reply, session, message.id, answer, result_data(answer)))

    def _reply(self, request: web.Request, headers: dict[str, str], message: _Request,
               session: Session | None) -> CallReply:
        settings = self.calls.config.config.mcp
        return CallReply(request, headers, sse_after_s=settings.sse_after_s, beat_s=settings.progress_interval_s,
                         token=progress_token(message.params),
                         logs_wanted=session is not None and session.log_level_set,
                         cancel_on_disconnect=session is None)

    async def _deliver(self, reply: CallReply, session: Session, request_id: int | str, answer: Any,
                       result: dict[str, Any]) -> web.StreamResponse:
        """The call's log messages (on a stream), then its result; an answer that could not be
        written is marked undelivered in the ledger."""
        if reply.streaming:
            for level, data in client_logs(answer, session.log_level):
                with contextlib.suppress(*WRITE_FAILED):
                    await reply.notify("notifications/message", {"level": level, "logger": "synapse", "data": data})
        response = await reply.finish(_encode({"jsonrpc": "2.0", "id": request_id, "result": result}))
        if not reply.delivered:
            self.calls.undelivered(session, answer, "the HTTP connection closed before the answer was written")
        return response

    @contextlib.contextmanager
    def _cancellable(self, key: tuple[str, int | str]) -> Iterator[None]:
        """The running task answers `key` (session, request id) until the block ends: a
        notifications/cancelled naming it cancels the task (see cancel)."""
        self._in_flight[key] = asyncio.current_task()  # type: ignore[assignment]
        try:
            yield
        finally:
            self._in_flight.pop(key, None)
            self._stopped.pop(key, None)

    def _notification(self, body: bytes, session: Session, headers: dict[str, str]) -> web.Response | None:
        """A notification on a session the SDK has no twin of yet: accepted (202) as the SDK
        does; `initialized` is remembered for the twin. A cancellation stops a fast-path call."""
        if session.sdk_id is not None:
            return None
        note = _decode_notification(body)
        if note is None:
            return None
        if note.method == "notifications/initialized":
            session.initialized = True
        elif note.method == "notifications/cancelled":
            self.cancel(session.id, note.params)
        session.touch_active()
        return web.Response(status=202, headers=headers)

    def cancel(self, session_key: str, params: dict[str, Any] | None) -> None:
        """Stop the fast-path call a notifications/cancelled names (the SDK knows nothing of it)."""
        try:
            request_id = msgspec.convert(params, _CancelledParams).requestId
        except msgspec.ValidationError:
            return
        key = (session_key, request_id)
        task = self._in_flight.get(key)
        if task is not None and key not in self._stopped:
            self._stopped[key] = "cancelled"
            task.cancel()

    def terminate(self, session_key: str) -> None:
        """The client ended the session (DELETE) with calls still running here: each stops and
        answers as the SDK answers a request its terminated session left in flight."""
        for key, task in list(self._in_flight.items()):
            if key[0] == session_key and self._stopped.get(key) != "terminated":
                self._stopped[key] = "terminated"  # over a cancellation: the session's end answers
                task.cancel()

    def cancel_from(self, session_key: str, body: bytes) -> None:
        """notifications/cancelled on its way to the SDK: it may name a call answered here."""
        note = _decode_notification(body)
        if note is None:
            return
        if note.method == "notifications/cancelled":
            self.cancel(session_key, note.params)

    # ---- the stdio bridge -------------------------------------------------------------------

    def stdio_initialize(self, line: bytes, session: Session) -> bytes | None:
        """A bridge session's first initialize: the reply line, the SDK's exact initialize result
        (the line stays in `session.opening`: the SDK's own session gets it replayed), or None
        when it is not one this path takes. As over HTTP, the daemon opens its sessions."""
        if session.opening:
            return None
        opening = _decode_initialize(line)
        if opening is None:
            return None
        params = opening.params
        session.client_name, session.client_version = params.clientInfo.name, params.clientInfo.version
        session.protocol_version = negotiated(params.protocolVersion)
        session.opening = line
        session.roots_capable = "roots" in params.capabilities
        self.answered += 1
        return _encode({"jsonrpc": "2.0", "id": opening.id, "result": initialize_result(params.protocolVersion)})

    def stdio_before_sdk(self, line: bytes, session: Session, bound: str | None) -> bytes | None:
        """A bridge line answered while the SDK is still loading: the reply line (b"" for a
        notification taken), or None when only the SDK can answer it. The session's first
        initialize opens it (its line is kept in `session.opening` for the SDK's replay);
        `initialized` must follow it; ping and a plain tools/list need both."""
        if not session.opening:
            return self.stdio_initialize(line, session)
        if not session.initialized:
            note = _decode_notification(line)
            if note is None:
                return None
            if note.method != "notifications/initialized":
                return None
            session.initialized = True
            return b""
        version = session.protocol_version
        message = _decode_request(line)
        if message is None:
            return None
        if message.method == "tools/call" or version not in FAST_VERSIONS or not self._surface_ok(message, version):
            return None
        session.touch_active()
        self.answered += 1
        result: dict[str, Any] = {} if message.method == "ping" else tools_list_data(bound)
        return _encode({"jsonrpc": "2.0", "id": message.id, "result": result})

    def stdio_request(self, line: bytes, session: Session) -> _Request | None:
        """A bridge line this path answers (see stdio_answer), or None for the SDK."""
        version = session.protocol_version
        if self._surface is None or version not in FAST_VERSIONS:
            return None
        message = _decode_request(line)
        if message is None:
            return None
        return message if self._surface_ok(message, version) else None

    async def stdio_answer(self, message: _Request, session: Session, bound: str | None,
                           write: Callable[[bytes], bool]) -> None:
        """Answer one bridge request (run as its own task): progress when asked for, the call's
        log messages the session asked for, then the reply, as the SDK writes them. `write`
        says whether the line could go (False: the bridge is gone, and a paid answer is marked
        undelivered). A cancelled call gets no reply (the SDK's stdio rule): the CancelledError
        ends the task."""
        session.touch_active()
        if message.method == "ping":
            write(_encode({"jsonrpc": "2.0", "id": message.id, "result": {}}))
        elif message.method == "tools/list":
            write(_encode({"jsonrpc": "2.0", "id": message.id, "result": tools_list_data(bound)}))
        else:
            try:
                with self._cancellable((session.id, message.id)):
                    answer = await self._call(session, bound, message, _line_progress(message, write),
                                              _line_roots(session, write))
            except UnknownTool as exc:
                write(error_body(message.id, exc.code, exc.message))
            else:
                for level, data in client_logs(answer, session.log_level):
                    write(_encode({"jsonrpc": "2.0", "method": "notifications/message",
                                   "params": {"level": level, "logger": "synapse", "data": data}}))
                if not write(_encode({"jsonrpc": "2.0", "id": message.id, "result": result_data(answer)})):
                    self.calls.undelivered(session, answer, "the stdio bridge closed before the answer was written")
        self.answered += 1

    # ---- 2026-07-28 era ---------------------------------------------------------------------

    async def stateless(self, request: web.Request, body: bytes) -> web.StreamResponse | None:
        """A self-contained 2026-07-28 request, or None for the SDK (also until it has loaded)."""
        inbound = self._modern
        if inbound is None or not self._headers_pass(request):
            return None
        message = _decode_request(body)
        if message is None:
            return None
        if message.method == "ping" or inbound.find_duplicated_routing_header(request.headers.items()) is not None:
            return None
        raw = msgspec.to_builtins(message)
        verdict = inbound.classify_inbound_request(raw, headers={k.lower(): v for k, v in request.headers.items()})
        if not isinstance(verdict, inbound.InboundModernRoute) or not self._surface_ok(message, verdict.protocol_version):
            return None
        if message.method == "tools/call" and self._param_headers_refused(request, message):
            return None
        info = verdict.client_info if isinstance(verdict.client_info, Mapping) else {}
        name, version = str(info.get("name", "unknown")), str(info.get("version", ""))
        bound = request.match_info.get("name")
        session = self.sessions.touch(f"http-stateless-{name}-{version}", "http", name, version, bound,
                                      verdict.protocol_version)
        if message.method == "tools/list":
            return self._answer(_reply(message.id, {**MODERN_LIST, **tools_list_data(bound), **MODERN_RESULT},
                                       JSON_HEADERS))
        ask, wanted = _modern_roots(message, verdict.client_capabilities)
        if wanted:
            # 2026-07-28 has no server-to-client requests: the client is asked to retry with its roots.
            return self._answer(_reply(message.id, {"resultType": "input_required", "inputRequests": {
                ROOTS_INPUT: {"method": "roots/list"}}, "_meta": MODERN_RESULT["_meta"]}, JSON_HEADERS))
        reply = self._reply(request, JSON_HEADERS, message, None)
        try:
            answer = await reply.wait(self._call(session, bound, message, reply.progress(), ask))
        except UnknownTool as exc:
            status = inbound.ERROR_CODE_HTTP_STATUS.get(exc.code, 200)
            return self._answer(await reply.finish(error_body(message.id, exc.code, exc.message),
                                                   200 if reply.streaming else status))
        return self._answer(await self._deliver(reply, session, message.id, answer,
                                                {**result_data(answer), **MODERN_RESULT}))

    def _param_headers_refused(self, request: web.Request, message: _Request) -> bool:
        """Mcp-Param-* headers that disagree with the arguments (the SDK answers those)."""
        params = message.params or {}
        arguments = params.get("arguments") or {}
        prefix = self._modern.MCP_PARAM_HEADER_PREFIX.lower()
        if not arguments and not any(k.lower().startswith(prefix) for k in request.headers):
            return False
        schema = input_schema(params["name"])
        if schema is None or not declares_param_headers(params["name"]):
            return False
        return self._modern.validate_mcp_param_headers(schema, arguments, request.headers) is not None

    # ---- shared -----------------------------------------------------------------------------

    def _answer(self, response: _R) -> _R:
        self.answered += 1
        return response

    async def _call(self, session: Session, bound: str | None, message: _Request,
                    progress: Progress | None = None, ask_roots: AskRoots | None = None) -> Any:
        params = message.params or {}
        return await self.calls.call(session, bound, params["name"], params.get("arguments"), progress, ask_roots)
