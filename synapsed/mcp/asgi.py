"""A small aiohttp -> ASGI bridge for the SDK's Streamable HTTP manager.

Why not aiohttp-asgi: its receive() never blocks after the body and spins the loop at 100 % CPU
with this SDK. Here receive() hands over the (already size-capped) body once, then blocks until
the response is complete or the peer is gone, which is what the SDK's GET streams expect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiohttp import web

from synapsed.mcp.call_reply import WRITE_FAILED, write_whole

Message = MutableMapping[str, Any]
ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
# How often a blocked receive() checks whether the client went away (long-lived SSE streams).
DISCONNECT_POLL_S = 1.0


def _scope(request: web.Request, body_headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    client = (peer[0], peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 else ("unix", 0)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": f"{request.version.major}.{request.version.minor}",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": request.raw_path.split("?", 1)[0].encode("latin-1"),
        "query_string": request.rel_url.raw_query_string.encode("latin-1"),  # still %-encoded, so ASCII
        "root_path": "",
        "headers": body_headers,
        "client": client,
        "server": ("127.0.0.1", 0),
    }


SESSION_HEADER = b"mcp-session-id"


def _swap_session(headers: list[tuple[bytes, bytes]], old: bytes, new: bytes) -> list[tuple[bytes, bytes]]:
    return [(k, new if k == SESSION_HEADER and v == old else v) for k, v in headers]


async def serve(app: ASGIApp, request: web.Request, body: bytes,
                session_ids: tuple[str, str] | None = None,
                written: Callable[[bytes], None] | None = None) -> web.StreamResponse:
    """One request through the ASGI app. `session_ids` (the SDK's id, the client's id) swaps
    the Mcp-Session-Id on the way in and back on the way out, for sessions the daemon opened.
    With `written`, the reply is written here and each chunk that reached the socket is handed
    to it (what never reached it, because the client left, is not)."""
    # The bytes as received: aiohttp's str headers hold what was not UTF-8 as lone surrogates.
    headers = [(k.lower(), v) for k, v in request.raw_headers]
    inner, outer = (session_ids[0].encode(), session_ids[1].encode()) if session_ids else (b"", b"")
    if session_ids:
        headers = _swap_session(headers, outer, inner)
    finished = asyncio.Event()
    body_sent = False
    status = 500
    response_headers: list[tuple[bytes, bytes]] = []
    response: web.StreamResponse | None = None
    whole: web.Response | None = None  # a reply that arrived as one body message

    def peer_gone() -> bool:
        return request.transport is None or request.transport.is_closing()

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        while not finished.is_set() and not peer_gone():
            try:
                await asyncio.wait_for(finished.wait(), DISCONNECT_POLL_S)
            except TimeoutError:
                pass
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, response_headers, response
        if finished.is_set():
            return
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers = list(message.get("headers", []))
            if session_ids:
                response_headers = _swap_session(response_headers, inner, outer)
            return
        if message["type"] != "http.response.body":
            return
        if response is None and not message.get("more_body", False):
            # The common JSON reply: hand aiohttp one complete response (one write, Content-Length).
            nonlocal whole
            whole = web.Response(status=status, body=message.get("body", b""),
                                 headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response_headers])
            finished.set()
            return
        try:
            if response is None:
                response = web.StreamResponse(status=status)
                for key, value in response_headers:
                    response.headers.add(key.decode("latin-1"), value.decode("latin-1"))
                await response.prepare(request)
            chunk = message.get("body", b"")
            if chunk:
                await response.write(chunk)
                if written is not None:
                    written(chunk)
            if not message.get("more_body", False):
                await response.write_eof()
                finished.set()
        except WRITE_FAILED:
            finished.set()  # the client left mid-stream; the SDK sees http.disconnect next

    try:
        await app(_scope(request, headers), receive, send)
    finally:
        finished.set()
    if whole is not None:
        if written is not None and await write_whole(whole, request):
            written(whole.body)  # type: ignore[arg-type]  # set from bytes above
        return whole
    if response is None:
        return web.Response(status=status)
    return response


async def call(app: ASGIApp, method: str, path: str, headers: dict[str, str],
               body: bytes = b"") -> tuple[int, dict[str, str]]:
    """One request made by the daemon itself through the SDK's public HTTP handling (closing a
    session it evicts, giving the SDK a twin of a session the fast path opened): the response
    status and headers."""
    status = 0
    reply_headers: dict[str, str] = {}
    asked = False

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            reply_headers.update((k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", []))

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    await app(scope, receive, send)
    return status, reply_headers
