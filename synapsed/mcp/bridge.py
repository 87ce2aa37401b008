"""The Unix socket that `synapsectl mcp stdio` bridges talk to: one hello line naming the
binding, then newline-delimited MCP. Each bridge connection is its own session; the socket's
0600 mode and the peer's uid guard it.

Nothing here imports the SDK: the socket opens as soon as HTTP listens, and until the SDK has
loaded (about a second of imports) the fast path answers a session's initialize, its
`initialized`, ping and tools/list, which is what an IDE sends first. The first line only the
SDK can answer waits for it; then bridge_sdk.py serves the session, after replaying the
initialize (under REPLAY_ID, its reply swallowed) and `initialized` into the SDK's own session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import msgspec

from synapsed.errors import SynapseError
from synapsed.json_input import MALFORMED, lone_surrogate_at
from synapsed.logging import get_logger
from synapsed.mcp.fast_path import FastPath
from synapsed.mcp.listing import SDK_FAILED, error_body
from synapsed.mcp.sessions import Session, SessionRegistry, stdio_binding
from synapsed.peer import peer_allowed

log = get_logger("synapsed.mcp")
BRIDGE_HELLO_TIMEOUT_S = 10.0
# The id of an initialize the daemon replays into the SDK for a session it opened itself.
REPLAY_ID = "synapse-early-initialize"
INTERNAL_ERROR = -32603
INVALID_REQUEST = -32600
# How much of an oversized message is read to find its id (the rest is skipped unread).
OVERSIZED_HEAD_BYTES = 4096
# `{"jsonrpc": "2.0", "id": 7, "method": …`: the top-level id, preceded at most by jsonrpc / method.
_LEADING_ID = re.compile(rb'\A\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*"[^"\\]*"\s*,)*\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*[,}]')


class SessionServer(Protocol):
    """What serves a bridge session once the SDK has loaded (bridge_sdk.SdkBridge)."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str, bound: str | None,
                    replay: list[bytes], first: bytes | None) -> None: ...


class BridgeListener:
    def __init__(
        self, path: Path, sessions: SessionRegistry, max_line_bytes: int,
        has_connection: Callable[[str], bool], make_room: Callable[[], Awaitable[None]],
        fast: FastPath | None = None, want_sdk: Callable[[], None] = lambda: None,
    ) -> None:
        self.fast = fast
        self.want_sdk = want_sdk  # a line is waiting for the SDK: load it now
        self.path = path
        self.sessions = sessions
        self.max_line_bytes = max_line_bytes
        self.has_connection = has_connection
        self.make_room = make_room
        self._sdk: SessionServer | None = None
        self._sdk_settled = asyncio.Event()  # set when the SDK joined, or will never join
        self._server: asyncio.AbstractServer | None = None
        self._bridges: set[asyncio.Task[Any]] = set()
        self._by_session: dict[str, asyncio.Task[Any]] = {}

    def attach(self, sdk: SessionServer) -> None:
        """The SDK has loaded: sessions hand it what the fast path does not answer."""
        self._sdk = sdk
        self._sdk_settled.set()

    def abandon(self) -> None:
        """The SDK could not be loaded: lines waiting for it get an error, not a hang."""
        self._sdk_settled.set()

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
            session = self.sessions.opened(key, "stdio", "unknown", "", bound or None, None, state="active")
            stdio_binding.set((key, bound or None))
            if task is not None:
                self._by_session[key] = task
            try:
                await self._serve(reader, writer, session, bound or None)
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
        if bound is not None and not self.has_connection(bound):
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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: Session,
                     bound: str | None) -> None:
        replay: list[bytes] = []
        first: bytes | None = None
        while self._sdk is None and first is None:
            line = await read_line(reader, self.max_line_bytes, writer)
            if not line:
                return
            if not line.strip():
                continue
            if self._sdk is None and self._before_sdk(line, session, bound, writer, replay):
                await writer.drain()
            else:
                first = line
        if not self._sdk_settled.is_set():
            self.want_sdk()
            await self._sdk_settled.wait()
        if self._sdk is None:
            await _unavailable(writer, first)
            return
        await self._sdk.serve(reader, writer, session.id, bound, replay, first)

    def _before_sdk(self, line: bytes, session: Session, bound: str | None, writer: asyncio.StreamWriter,
                    replay: list[bytes]) -> bool:
        """Answer one line without the SDK, remembering what its session must replay; False
        when only the SDK can answer it."""
        if self.fast is None:
            return False
        opened, initialized = bool(session.opening), session.initialized
        reply = self.fast.stdio_before_sdk(line, session, bound)
        if reply is None:
            return False
        if reply:
            writer.write(reply + b"\n")
        if session.opening and not opened:
            replay.append(as_replay(line))
        if session.initialized and not initialized:
            replay.append(line)
        return True


async def read_line(reader: asyncio.StreamReader, limit: int, writer: asyncio.StreamWriter) -> bytes:
    """The next line, or b"" when the bridge is done. A line over the size cap (the reader's
    limit) is answered as HTTP answers such a body, -32600 naming the cap, and skipped: the
    session goes on (closing it told the IDE that synapsed had gone away)."""
    while True:
        try:
            return await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:
            return end.partial  # the input ended; a last line without its newline still counts
        except asyncio.LimitOverrunError:
            # No newline within `limit` bytes (that is the overrun): the head is all this line's.
            head = await reader.read(min(OVERSIZED_HEAD_BYTES, limit))
            await _skip_line(reader)
            log.warning("bridge message over the size cap; answered and skipped", limit=limit)
            writer.write(error_body(leading_id(head), INVALID_REQUEST,
                                    f"message exceeds {limit} bytes; raise [mcp] max_body_bytes to send larger ones")
                         + b"\n")
            await writer.drain()


async def _skip_line(reader: asyncio.StreamReader) -> None:
    """Drop what is left of the current line, its newline included (or up to the end)."""
    while True:
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.IncompleteReadError:
            return
        except asyncio.LimitOverrunError as over:
            await reader.read(over.consumed)


def leading_id(head: bytes) -> int | str | None:
    """The request id of a message cut short, when it comes before the params (as the SDK and
    most clients write it), else None: JSON-RPC's id for a request whose id cannot be read."""
    found = _LEADING_ID.match(head)
    if found is None:
        return None
    try:
        return echoable_id(json.loads(found.group(1)))
    except ValueError:  # a bad escape or bytes that are not UTF-8 inside the id
        return None


def echoable_id(value: Any) -> int | str | None:
    """`value` when it can go back as a JSON-RPC id (an int, or a string UTF-8 can carry), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    return None if isinstance(value, str) and lone_surrogate_at(value) is not None else value


def as_replay(initialize: bytes) -> bytes:
    """The client's initialize under REPLAY_ID, for the SDK's own session (its reply is dropped)."""
    message = msgspec.json.decode(initialize)
    message["id"] = REPLAY_ID
    return msgspec.json.encode(message) + b"\n"


async def _unavailable(writer: asyncio.StreamWriter, line: bytes | None) -> None:
    """The SDK will not come (it failed to load, or the daemon is stopping): say so to a request."""
    try:
        parsed = msgspec.json.decode(line or b"{}")
    except MALFORMED:
        parsed = None
    request_id = parsed.get("id") if isinstance(parsed, dict) else None
    if request_id is not None:
        writer.write(error_body(request_id, INTERNAL_ERROR, SDK_FAILED) + b"\n")
        await writer.drain()


async def _reply(writer: asyncio.StreamWriter, body: dict[str, Any]) -> None:
    writer.write(json.dumps({"synapse_bridge": 1, **body}).encode() + b"\n")
    await writer.drain()
