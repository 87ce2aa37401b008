"""aiohttp handler for POST /rpc: peer check, body cap, then the dispatcher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from synapsed import protocol as p
from synapsed.json_input import encoded_body
from synapsed.logging import get_logger
from synapsed.peer import peer_allowed
from synapsed.rpc.dispatch import Dispatcher, error_response, notification

log = get_logger("synapsed.rpc")
JSON = "application/json"


def _reply(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON)


def make_handler(dispatcher: Dispatcher) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def rpc(request: web.Request) -> web.StreamResponse:
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if not peer_allowed(sock):
            log.warning("rpc peer refused", reason="peer is not the daemon's user")
            return _reply(
                error_response(None, p.PEER_REFUSED, "refused: the peer is not this daemon's user", "permission_denied",
                               "run synapsectl as the user who runs synapsed"),
                403,
            )
        if request.content_length is not None and request.content_length > p.MAX_RPC_BODY:
            return _too_large()
        if encoded_body(request.headers.get("Content-Encoding")):
            return _reply(error_response(None, p.INVALID_REQUEST, "compressed request bodies are not accepted",
                                         "bad_request", "send the JSON-RPC request uncompressed"), 415)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large()
        if p.NDJSON in request.headers.get("Accept", ""):
            return await _streamed(request, dispatcher, body)
        response = await dispatcher.handle(body)
        if response is None:
            return web.Response(status=204)
        return _reply(response)

    return rpc


async def _streamed(request: web.Request, dispatcher: Dispatcher, body: bytes) -> web.StreamResponse:
    """Progress notifications as they happen, then the response: one JSON object per line."""
    stream = web.StreamResponse(headers={"Content-Type": p.NDJSON})
    await stream.prepare(request)
    peer_gone = False

    async def progress(method: str, params: Any) -> None:
        nonlocal peer_gone
        if peer_gone:
            return
        try:
            await stream.write(notification(method, params) + b"\n")
        except (ConnectionError, RuntimeError):
            peer_gone = True  # the caller left; the method still runs to completion

    response = await dispatcher.handle(body, progress)
    if not peer_gone:
        try:
            if response is not None:
                await stream.write(response + b"\n")
            await stream.write_eof()
        except (ConnectionError, RuntimeError):
            pass
    return stream


def _too_large() -> web.Response:
    return _reply(
        error_response(
            None,
            p.INVALID_REQUEST,
            f"request body exceeds {p.MAX_RPC_BODY} bytes",
            "bad_request",
            "control-plane requests are small (a `synapsectl test` prompt included); a longer prompt goes "
            "through MCP, whose cap is [mcp] max_body_bytes",
            limit=p.MAX_RPC_BODY,
        ),
        413,
    )


async def _not_rpc(request: web.Request) -> web.Response:
    return _reply(
        error_response(None, p.INVALID_REQUEST, f"{request.method} {request.path} is not served here", "not_found",
                       f"POST JSON-RPC 2.0 to {p.RPC_PATH}"),
        404 if request.path != p.RPC_PATH else 405,
    )


def build_app(dispatcher: Dispatcher) -> web.Application:
    app = web.Application(client_max_size=p.MAX_RPC_BODY)
    app.router.add_post(p.RPC_PATH, make_handler(dispatcher))
    app.router.add_route("*", "/{tail:.*}", _not_rpc)
    return app
