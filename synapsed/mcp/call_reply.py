"""How the answer to one HTTP tools/call leaves the fast path.

- Plain JSON when it comes within `[mcp] sse_after_s` and nothing else must reach the client first.
- An SSE stream otherwise, as Streamable HTTP allows (`event: message` frames, as the SDK writes
  them). It starts at once when the request carries a progressToken or the session asked for log
  messages, and when the delay passes otherwise. The headers then go out at once: clients give
  up on response headers after a while (Claude Code after 60 s), and an answer a provider took
  75 s to give must not be paid for and lost. Progress notifications, or keep-alive comments
  when none were asked for, follow every `[mcp] progress_interval_s`; the result ends the stream.

Whether the answer could be written is known here (`delivered`): the caller marks the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from synapsed.mcp.tools import Progress

T = TypeVar("T")
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform",
               "X-Accel-Buffering": "no"}
# How often a 2026-07-28 call checks that its client is still there: on that revision closing the
# response stream is how a client cancels.
DISCONNECT_POLL_S = 1.0
WRITE_FAILED = (ConnectionError, RuntimeError)  # aiohttp: reset, or a write to a closing transport
_encode = msgspec.json.Encoder().encode


def accepts(accept: str, media_types: tuple[str, ...]) -> bool:
    """Whether an Accept header takes one of `media_types` (the wildcards the SDK honours included)."""
    return any(part.split(";", 1)[0].strip().lower() in media_types for part in accept.split(","))


def accepts_sse(accept: str) -> bool:
    return accepts(accept, ("text/event-stream", "text/*", "*/*"))


def progress_notification(token: int | str, done: float, total: float | None, message: str) -> bytes:
    """One notifications/progress message (no total while there is none to give)."""
    params: dict[str, Any] = {"progressToken": token, "progress": done, "message": message}
    if total is not None:
        params["total"] = total
    return _encode({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})


def progress_token(params: dict[str, Any] | None) -> int | str | None:
    meta = (params or {}).get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    return token if isinstance(token, (int, str)) and not isinstance(token, bool) else None


def sse_frame(data: bytes) -> bytes:
    return b"event: message\ndata: " + data + b"\n\n"


async def write_whole(response: web.Response, request: web.Request) -> bool:
    """Send a complete response now, inside the handler; False when the client had left."""
    try:
        await response.prepare(request)
        await response.write_eof()
    except WRITE_FAILED:
        return False
    return True


class CallReply:
    def __init__(self, request: web.Request, headers: dict[str, str], *, sse_after_s: float, beat_s: float,
                 token: int | str | None, logs_wanted: bool, cancel_on_disconnect: bool = False) -> None:
        self.request = request
        self.headers = headers
        self.sse_after_s = sse_after_s
        self.beat_s = beat_s
        self.can_stream = accepts_sse(request.headers.get("Accept", ""))
        self.token = token if self.can_stream else None
        self.stream_now = self.can_stream and (self.token is not None or logs_wanted)
        self.cancel_on_disconnect = cancel_on_disconnect
        self.response: web.StreamResponse | None = None
        self.delivered = True

    @property
    def streaming(self) -> bool:
        return self.response is not None

    def progress(self) -> Progress | None:
        """Where the call's progress goes: notifications on this stream (None: not asked for)."""
        token = self.token
        if token is None:
            return None

        async def send(done: float, total: float | None, message: str) -> None:
            await self.send_event(progress_notification(token, done, total, message))

        return send

    async def notify(self, method: str, params: dict[str, Any]) -> None:
        """One notification on the stream; raises when it cannot be written."""
        await self._open()
        await self._write(sse_frame(_encode({"jsonrpc": "2.0", "method": method, "params": params})))

    async def send_event(self, data: bytes) -> None:
        """One JSON-RPC message (a request to the client) on the stream, opening it if need be."""
        await self._open()
        await self._write(sse_frame(data))

    async def wait(self, work: Awaitable[T]) -> T:
        """`work`'s outcome, streaming from the moment the client must hear before it ends.
        Cancelling the caller cancels the work and waits for it (the ledger records the attempt)."""
        task = asyncio.ensure_future(work)
        try:
            if self.stream_now:
                await self._open()
            else:
                await asyncio.wait({task}, timeout=self.sse_after_s)
                if task.done() or not self.can_stream:
                    return await task
                await self._open()
            await self._keep_alive(task)
            return task.result()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})

    async def _keep_alive(self, task: asyncio.Future[Any]) -> None:
        """Until `task` ends: a comment every beat when no progress was asked for (heartbeats
        come from the call then), and, on the 2026-07-28 revision, the client's leaving cancels."""
        tick = min(self.beat_s, DISCONNECT_POLL_S) if self.cancel_on_disconnect else self.beat_s
        last = time.monotonic()
        while True:
            await asyncio.wait({task}, timeout=tick)
            if task.done():
                return
            if self.cancel_on_disconnect and self._peer_gone():
                task.cancel()
                await asyncio.wait({task})
                return
            if self.token is None and time.monotonic() - last >= self.beat_s and self.delivered:
                last = time.monotonic()
                try:
                    await self._write(b": waiting\n\n")
                except WRITE_FAILED:
                    pass  # the result's write says it again; the call goes on

    async def finish(self, body: bytes, status: int = 200) -> web.StreamResponse:
        """The reply itself: a JSON response, or the stream's last event. Sets `delivered`."""
        if self.response is None:
            response = web.Response(body=body, status=status, headers=self.headers)
            if not await write_whole(response, self.request):
                self.delivered = False
            return response
        try:
            await self._write(sse_frame(body))
            await self.response.write_eof()
        except WRITE_FAILED:
            self.delivered = False
        return self.response

    async def _open(self) -> None:
        if self.response is not None:
            return
        self.response = web.StreamResponse(status=200, headers={**self.headers, **SSE_HEADERS})
        try:
            await self.response.prepare(self.request)
        except WRITE_FAILED:
            self.delivered = False

    async def _write(self, chunk: bytes) -> None:
        if not self.delivered or self._peer_gone():
            self.delivered = False
            raise ConnectionResetError("the client is gone")
        assert self.response is not None
        try:
            await self.response.write(chunk)
        except WRITE_FAILED:
            self.delivered = False
            raise

    def _peer_gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()
