"""JSON-RPC 2.0 decoding, dispatch and error shaping; transport-agnostic (bytes in, bytes out)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from synapsed import protocol as p
from synapsed.errors import SynapseError, internal_error
from synapsed.json_input import MALFORMED
from synapsed.logging import get_logger
from synapsed.redaction import redact_text
from synapsed.validation import check_numbers

log = get_logger("synapsed.rpc")

Handler = Callable[..., Awaitable[Any]]
# Sends a JSON-RPC notification (method, params) to the caller while a long method runs.
Progress = Callable[[str, Any], Awaitable[None]]

# Kinds that describe a fault in the caller's parameters rather than in the daemon's state.
_PARAM_KINDS = {"config_invalid", "base_url_invalid", "bad_request"}


@dataclass(frozen=True)
class Method:
    params: type[msgspec.Struct]
    handler: Handler
    # A streaming method's handler also takes a Progress callable; callers that accept
    # application/x-ndjson see its notifications before the final response.
    streams: bool = False


async def _no_progress(_method: str, _params: Any) -> None:
    return None


def error_code(kind: str) -> int:
    if kind in _PARAM_KINDS:
        return p.INVALID_PARAMS
    if kind == "internal":
        return p.INTERNAL_ERROR
    return p.DOMAIN_ERROR


def error_response(
    request_id: int | str | None, code: int, message: str, kind: str, hint: str, /, **detail: Any
) -> bytes:
    # Positional-only: an error's own detail may carry a `request_id` (the provider's).
    data = {"kind": kind, "hint": hint, **detail}
    return _encoder.encode(
        p.RpcResponse(id=request_id, error=p.RpcErrorObject(code=code, message=redact_text(message), data=data))
    )


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def _request_id(obj: Any) -> int | str | None:
    if isinstance(obj, dict):
        rid = obj.get("id")
        if isinstance(rid, (int, str)) and not isinstance(rid, bool):
            return rid
    return None


class Dispatcher:
    def __init__(self, methods: dict[str, Method]) -> None:
        self.methods = methods
        self.calls = 0

    async def handle(self, body: bytes, progress: Progress | None = None) -> bytes | None:
        """The encoded response, or None for a notification (a request without an id)."""
        self.calls += 1
        try:
            obj = _decoder.decode(body)
        except MALFORMED as exc:
            return error_response(
                None, p.PARSE_ERROR, f"parse error: {exc}", "bad_request", "send one JSON-RPC 2.0 object as UTF-8 JSON"
            )
        if isinstance(obj, list):
            return error_response(
                None,
                p.INVALID_REQUEST,
                "batch requests are not supported",
                "bad_request",
                "send one JSON-RPC request per POST; the daemon answers each in order of arrival",
            )
        rid = _request_id(obj)
        try:
            request = msgspec.convert(obj, type=p.RpcRequest)
        except msgspec.ValidationError as exc:
            return error_response(
                rid,
                p.INVALID_REQUEST,
                f"invalid request: {exc}",
                "bad_request",
                'a request is {"jsonrpc": "2.0", "id": 1, "method": "daemon.status", "params": {}}',
            )
        if request.jsonrpc != p.JSONRPC_VERSION:
            return error_response(rid, p.INVALID_REQUEST, "invalid request: jsonrpc must be \"2.0\"", "bad_request", 'set "jsonrpc": "2.0"')
        is_notification = "id" not in obj
        response = await self._call(rid, request, progress or _no_progress)
        return None if is_notification else response

    async def _call(self, rid: int | str | None, request: p.RpcRequest, progress: Progress) -> bytes:
        method = self.methods.get(request.method)
        if method is None:
            groups = sorted({name.split(".")[0] + ".*" for name in self.methods})
            return error_response(
                rid,
                p.METHOD_NOT_FOUND,
                f"method not found: {request.method}",
                "not_found",
                "methods: " + ", ".join(sorted(self.methods)) if len(self.methods) < 40 else "groups: " + ", ".join(groups),
            )
        raw_params = {} if request.params is msgspec.UNSET else request.params
        try:
            params = msgspec.convert(raw_params, type=method.params)
        except msgspec.ValidationError as exc:
            return error_response(
                rid,
                p.INVALID_PARAMS,
                f"invalid params for {request.method}: {exc}",
                "bad_request",
                f"see `synapsectl --help` or docs for the parameters of {request.method}",
            )
        try:
            check_numbers(raw_params)
            result = await (method.handler(params, progress) if method.streams else method.handler(params))
        except SynapseError as exc:
            return error_response(rid, error_code(exc.kind), exc.message, exc.kind, exc.hint, **exc.detail)
        except Exception:
            failure = internal_error(log, request.method)
            return error_response(rid, p.INTERNAL_ERROR, failure.message, failure.kind, failure.hint, **failure.detail)
        return _encoder.encode(p.RpcResponse(id=rid, result=result))


def notification(method: str, params: Any) -> bytes:
    return _encoder.encode({"jsonrpc": p.JSONRPC_VERSION, "method": method, "params": params})
