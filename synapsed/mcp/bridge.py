"""The Unix socket that `synapsectl mcp stdio` bridges talk to: one hello line naming the
binding, then newline-delimited MCP served by the SDK's stream-based server loop. Each
bridge connection is its own session; the socket's 0600 mode and the peer's uid guard it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import msgspec
from mcp.shared.message import SessionMessage

from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.mcp.fast_path import FastPath
from synapsed.mcp.listing import negotiated
from synapsed.mcp.server import McpServer, stdio_binding
from synapsed.mcp.sessions import Session, SessionRegistry
from synapsed.peer import peer_allowed

log = get_logger("synapsed.mcp")
BRIDGE_HELLO_TIMEOUT_S = 10.0


class BridgeListener:
    def __init__(
        self, server: McpServer, path: Path, sessions: SessionRegistry, max_line_bytes: int,
        make_room: Callable[[], Awaitable[None]], fast: FastPath | None = None,
    ) -> None:
        self.server = server
        self.fast = fast
        self.path = path
        self.sessions = sessions
        self.max_line_bytes = max_line_bytes
        self.make_room = make_room
        self._server: asyncio.AbstractServer | None = None
        self._bridges: set[asyncio.Task[Any]] = set()
        self._by_session: dict[str, asyncio.Task[Any]] = {}

    def close(self, key: str) -> None:
        """End one bridge session (evicted at the cap): its IDE sees the connection close."""
        task = self._by_session.get(key)
        if task is not None:
            task.cancel()

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)  # we hold the instance lock: any file here is stale
        self._server = await asyncio.start_unix_server(self._on_bridge, path=str(self.path), limit=self.max_line_bytes)
        self.path.chmod(0o600)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._bridges):
            task.cancel()
        await asyncio.gather(*self._bridges, return_exceptions=True)
        self.path.unlink(missing_ok=True)
        self._server = None

    async def _on_bridge(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._bridges.add(task)
        try:
            if not peer_allowed(writer.get_extra_info("socket")):
                log.warning("bridge refused", reason="peer is not the daemon's user")
                return
            accepted, bound = await self._hello(reader, writer)
            if not accepted:
                return
            key = self.sessions.new_stdio_id()
            self.sessions.opened(key, "stdio", "unknown", "", bound or None, None, state="active")
            stdio_binding.set((key, bound or None))
            if task is not None:
                self._by_session[key] = task
            try:
                await self._serve(reader, writer, key, bound or None)
            finally:
                self.sessions.end(key)
                self._by_session.pop(key, None)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                self._bridges.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _hello(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[bool, str | None]:
        """The bridge's first line names the binding; our answer says whether to go on."""
        try:
            hello = json.loads(await asyncio.wait_for(reader.readline(), BRIDGE_HELLO_TIMEOUT_S))
        except (TimeoutError, ValueError):
            hello = None
        bound = hello.get("connection") if isinstance(hello, dict) else None
        if not isinstance(hello, dict) or hello.get("synapse_bridge") != 1 or not isinstance(bound, (str, type(None))):
            await _reply(writer, {"error": {"kind": "bad_request", "message": "expected a synapse bridge hello line",
                                            "hint": "connect with `synapsectl mcp stdio`"}})
            return False, None
        if bound is not None and bound not in self.server.config.config.connections:
            await _reply(writer, {"error": {"kind": "not_found", "message": f"no connection named {bound!r}",
                                            "hint": "run `synapsectl connections list` to see the names"}})
            return False, None
        try:
            await self.make_room()
        except SynapseError as exc:
            log.warning("bridge refused: at the session cap")
            await _reply(writer, {"error": {"kind": exc.kind, "message": exc.message, "hint": exc.hint}})
            return False, None
        await _reply(writer, {"ok": True})
        return True, bound

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str,
                     bound: str | None) -> None:
        read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](16)
        write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](16)
        fast_calls: set[asyncio.Task[None]] = set()

        def write(data: bytes) -> None:
            writer.write(data + b"\n")

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
            fast_calls.add(task)
            task.add_done_callback(fast_calls.discard)
            return True

        async def inbound() -> None:
            async with read_send:
                while True:
                    try:
                        line = await reader.readline()
                    except ValueError:  # a line longer than the body cap
                        log.warning("bridge message over the size cap; closing", limit=self.max_line_bytes)
                        return
                    if not line:
                        return
                    if not line.strip() or take(line):
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

        sdk = self.server.server
        async with anyio.create_task_group() as tg:
            tg.start_soon(inbound)
            tg.start_soon(outbound)
            await sdk.run(read_recv, write_send, sdk.create_initialization_options())
            tg.cancel_scope.cancel()
        for task in list(fast_calls):
            task.cancel()


async def _reply(writer: asyncio.StreamWriter, body: dict[str, Any]) -> None:
    writer.write(json.dumps({"synapse_bridge": 1, **body}).encode() + b"\n")
    await writer.drain()


class _Seen(msgspec.Struct):
    method: str = ""
    params: dict[str, Any] | None = None


def _watch(line: bytes, session: Session) -> str | None:
    """What the fast path must know of the session's own messages (each still goes to the SDK):
    who the client is and its version from initialize, that `initialized` came, a cancellation."""
    if b"initialize" not in line and b"cancelled" not in line:
        return None
    try:
        seen = msgspec.json.decode(line, type=_Seen)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    params = seen.params or {}
    if seen.method == "initialize":
        info = params.get("clientInfo")
        if isinstance(info, dict) and isinstance(info.get("name"), str) and isinstance(info.get("version"), str):
            session.client_name, session.client_version = info["name"], info["version"]
        if isinstance(params.get("protocolVersion"), str):
            session.protocol_version = negotiated(params["protocolVersion"])
        return "initialize"
    if seen.method == "notifications/initialized":
        session.initialized = True
        return "initialized"
    if seen.method == "notifications/cancelled":
        return "cancelled"
    return None

