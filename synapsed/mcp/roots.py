"""The calling client's workspace roots, asked for only when a call sends files, and the server→
client requests that carry the question on each transport.

- stdio bridge: a `roots/list` request line to the IDE; its response line comes back on the
  bridge and is taken out before the SDK sees it (take_response).
- HTTP, handshake era: the request goes out as an event on the call's own SSE stream; the client
  POSTs the response, which the listener hands to take_response (HTTP 202).
- HTTP, 2026-07-28: no server→client requests; the call answers `input_required` with a
  roots/list input request and the client retries it with the roots (see fast_path.stateless).
- The SDK's own paths ask through its session (`list_roots`).

A session's roots are kept until the client says they changed (notifications/roots/list_changed).
A client that declares no roots capability, or lists none, is held to `[context] allow`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from synapsed.config import ContextSettings
from synapsed.errors import SynapseError
from synapsed.json_input import MALFORMED
from synapsed.mcp.sessions import Session
from synapsed.workspace.access import Scope, refused, roots_from_uris, scope
from synapsed.workspace.reading import Limits

ROOTS_TIMEOUT_S = 10.0
ID_PREFIX = "synapse-req-"
_ids = itertools.count(1)
AskRoots = Callable[[], Awaitable[list[str]]]


class _Response(msgspec.Struct):
    jsonrpc: Literal["2.0"]
    id: int | str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    method: str | None = None  # set: a request or notification, not an answer


_decode_response = msgspec.json.Decoder(_Response).decode


def request_line(method: str, params: dict[str, Any] | None = None) -> tuple[str, bytes]:
    request_id = f"{ID_PREFIX}{next(_ids)}"
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params:
        body["params"] = params
    return request_id, msgspec.json.encode(body)


def take_response(session: Session, raw: bytes) -> bool:
    """A client's response to one of our requests: handed to its waiter. False for anything else."""
    if ID_PREFIX.encode() not in raw:
        return False
    try:
        response = _decode_response(raw)
    except MALFORMED:
        return False
    if response.method is not None:
        return False
    waiter = session.pending.get(str(response.id))
    if waiter is None or waiter.done():
        return False
    if response.error is not None:
        waiter.set_exception(SynapseError("bad_request", f"the client refused roots/list: {response.error}"))
    else:
        waiter.set_result(response.result or {})
    return True


async def ask(session: Session, send: Callable[[bytes], Awaitable[None]], method: str) -> dict[str, Any]:
    """Send one request to the client and wait for its answer (bounded by ROOTS_TIMEOUT_S)."""
    request_id, line = request_line(method)
    waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    session.pending[request_id] = waiter
    try:
        await send(line)
        return await asyncio.wait_for(waiter, ROOTS_TIMEOUT_S)
    except TimeoutError:
        raise refused(f"the client did not answer {method} within {ROOTS_TIMEOUT_S:g} s", "files",
                      hint="the IDE must answer roots/list for files to be read; or set [context] allow") from None
    finally:
        session.pending.pop(request_id, None)


def uris_of(result: dict[str, Any]) -> list[str]:
    roots = result.get("roots")
    if not isinstance(roots, list):
        raise SynapseError("bad_request", "the client's roots/list answer has no roots list")
    return [str(r["uri"]) for r in roots if isinstance(r, dict) and isinstance(r.get("uri"), str)]


@dataclass
class Workspace:
    """What a call needs to read files: where from (asked of the client once, when files come)
    and how much. `ask` is None for a client that declared no roots capability."""

    session: Session
    ask: AskRoots | None
    settings: ContextSettings
    forbidden: Callable[[], tuple[Path, ...]]  # asked only when files come: most calls send none

    @property
    def limits(self) -> Limits:
        return Limits(self.settings.max_file_bytes, self.settings.max_call_bytes, self.settings.read_timeout_s)

    async def scope(self) -> Scope:
        uris: list[str] = []
        if self.ask is not None and not self.session.counted:
            uris = await self.ask()  # 2026-07-28: each request brings its own roots; nothing to keep
        elif self.ask is not None:
            if self.session.roots is None:
                self.session.roots = await self.ask()
            uris = self.session.roots
        found = roots_from_uris(uris)
        if found:
            return scope(found, "roots", self.forbidden(), self.settings.allow_names)
        allowed = [Path(os.path.expanduser(a)) for a in self.settings.allow]
        return scope(allowed, "config", self.forbidden(), self.settings.allow_names)
