"""One stdio bridge session served by the SDK's stream-based server loop, once the SDK has
loaded. The session's initialize is answered by the fast path, as over HTTP, and replayed into
the SDK's own session under REPLAY_ID (its reply dropped); calls and listings of an initialized
session go to the fast path too; everything else is the SDK's. A session that began before the
SDK loaded arrives with the lines the SDK's own session must see first (its initialize and
`initialized`), which bridge.py already answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import mcp_types as types
import msgspec
import pydantic
from mcp.shared.message import SessionMessage

from synapsed.json_input import MALFORMED
from synapsed.logging import get_logger
from synapsed.mcp import roots
from synapsed.mcp.bridge import REPLAY_ID, as_replay, echoable_id, leading_id, read_line
from synapsed.mcp.fast_path import FastPath
from synapsed.mcp.listing import error_body, negotiated
from synapsed.mcp.server import McpServer
from synapsed.mcp.sessions import Session, SessionRegistry

log = get_logger("synapsed.mcp")
PARSE_ERROR, INVALID_PARAMS = -32700, -32602  # JSON-RPC; the codes the SDK's HTTP transport uses


class SdkBridge:
    def __init__(self, server: McpServer, sessions: SessionRegistry, fast: FastPath | None,
                 max_line_bytes: int) -> None:
        self.server = server
        self.sessions = sessions
        self.fast = fast
        self.max_line_bytes = max_line_bytes

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str, bound: str | None,
                    replay: Iterable[bytes] = (), first: bytes | None = None) -> None:
        """Serve the session until the bridge closes: `replay` goes to the SDK alone, `first`
        (a line read before the SDK loaded) is handled as if it had just arrived."""
        read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](16)
        write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](16)
        fast_calls: dict[asyncio.Task[None], Any] = {}  # a call answered here -> its request id

        def write(data: bytes) -> bool:
            if writer.is_closing():
                return False
            writer.write(data + b"\n")
            return True

        def opening(line: bytes) -> bytes | None:
            """The session's first initialize, answered here in line order: what to replay."""
            session = self.sessions.get(key)
            if self.fast is None or session is None:
                return None
            reply = self.fast.stdio_initialize(line, session)
            if reply is None:
                return None
            write(reply)
            return as_replay(line)

        def take(line: bytes) -> bool:
            """Once the session is initialized, calls and listings go to the fast path."""
            session = self.sessions.get(key)
            if self.fast is None or session is None:
                return False
            seen = _watch(line, session)
            if seen == "cancelled":
                self.fast.cancel_from(key, line)  # a call answered here; the SDK gets the line too
            if not session.initialized or seen:
                return False
            message = self.fast.stdio_request(line, session)
            if message is None:
                return False
            task = asyncio.create_task(self.fast.stdio_answer(message, session, bound, write))
            fast_calls[task] = message.id
            task.add_done_callback(lambda done: fast_calls.pop(done, None))
            return True

        async def to_sdk(line: bytes) -> None:
            try:
                message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            except pydantic.ValidationError as exc:
                refusal = refusal_of(line, exc)
                if refusal is not None:
                    write(refusal)
                await read_send.send(exc)  # the SDK's own handling of it: a debug log line
                return
            await read_send.send(SessionMessage(message))

        async def inbound() -> None:
            async with read_send:
                for line in replay:
                    await to_sdk(line)
                pending = [first] if first is not None else []
                while True:
                    line = pending.pop() if pending else await read_line(reader, self.max_line_bytes, writer)
                    if not line:
                        return
                    if not line.strip():
                        continue
                    session = self.sessions.get(key)
                    if session is not None and roots.take_response(session, line):
                        continue  # the IDE's answer to a roots/list we asked for a call
                    replayed = opening(line)
                    if replayed is not None:
                        await to_sdk(replayed)
                    elif not take(line):
                        await to_sdk(line)

        async def outbound() -> None:
            async with write_recv:
                async for message in write_recv:
                    if getattr(message.message, "id", None) == REPLAY_ID:
                        if isinstance(message.message, types.JSONRPCError):
                            log.error("the SDK refused a bridge session's replayed initialize", session=key,
                                      error=message.message.error.message)
                        continue  # the client had its initialize answered before the SDK loaded
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    writer.write(data.encode() + b"\n")
                    await writer.drain()

        sdk = self.server.server
        async with anyio.create_task_group() as tg:
            tg.start_soon(inbound)
            tg.start_soon(outbound)
            await sdk.run(read_recv, write_send, sdk.create_initialization_options())
            tg.cancel_scope.cancel()
        _close_unanswered(fast_calls, write)


def _close_unanswered(fast_calls: dict[asyncio.Task[None], Any], write: Callable[[bytes], bool]) -> None:
    """The session ended (the IDE closed its input) with calls still running here: each gets the
    SDK's own shutdown answer, -32000 "Connection closed", unless the client had cancelled it
    (a cancelled request gets no reply), and stops."""
    for task, request_id in list(fast_calls.items()):
        if task.done():  # answered; its done-callback has not run yet
            continue
        if not task.cancelling():
            write(error_body(request_id, types.CONNECTION_CLOSED, "Connection closed"))
        task.cancel()


def refusal_of(line: bytes, error: pydantic.ValidationError) -> bytes | None:
    """The reply to a bridge line the SDK's parser refused, as its HTTP transport answers such a
    body: -32700 for what is not JSON to it, -32602 for JSON that is no JSON-RPC message. Its
    stdio transport drops the line without a word, so an IDE would wait for that reply for
    ever. The request's id goes in when it can be read; what reads as a notification or a
    response gets nothing, as JSON-RPC has it."""
    try:
        parsed = json.loads(line)  # the stdlib's parser is laxer (lone surrogates, NaN, depth)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict):
        if "method" not in parsed or "id" not in parsed:
            return None
        request_id = echoable_id(parsed["id"])
    else:
        request_id = leading_id(line)
    errors = error.errors()
    first = errors[0] if errors else {"type": "", "msg": str(error)}
    if first["type"] == "json_invalid":
        code, message = PARSE_ERROR, f"Parse error: {first['msg'].removeprefix('Invalid JSON: ')}"
    else:
        code, message = INVALID_PARAMS, f"Validation error: not a JSON-RPC 2.0 message ({first['msg']})"
    return error_body(request_id, code, message)


class _Seen(msgspec.Struct):
    method: str = ""
    params: dict[str, Any] | None = None


def _watch(line: bytes, session: Session) -> str | None:
    """What the fast path must know of the session's own messages (each still goes to the SDK):
    who the client is and its version from initialize, that `initialized` came, a cancellation."""
    if b"initialize" not in line and b"cancelled" not in line and b"roots/list_changed" not in line:
        return None
    try:
        seen = msgspec.json.decode(line, type=_Seen)
    except MALFORMED:
        return None
    params = seen.params or {}
    if seen.method == "initialize":
        info = params.get("clientInfo")
        if isinstance(info, dict) and isinstance(info.get("name"), str) and isinstance(info.get("version"), str):
            session.client_name, session.client_version = info["name"], info["version"]
        if isinstance(params.get("protocolVersion"), str):
            session.protocol_version = negotiated(params["protocolVersion"])
        capabilities = params.get("capabilities")
        session.roots_capable = isinstance(capabilities, dict) and "roots" in capabilities
        return "initialize"
    if seen.method == "notifications/initialized":
        session.initialized = True
        return "initialized"
    if seen.method == "notifications/cancelled":
        return "cancelled"
    if seen.method == "notifications/roots/list_changed":
        session.roots = None  # asked again at the next call that sends files (the SDK gets the line too)
    return None

