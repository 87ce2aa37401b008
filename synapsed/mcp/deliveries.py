"""Whether an answer the SDK wrote over HTTP reached its client.

The fast path writes its own replies and knows at once when a write fails (fast_path._deliver).
Calls the SDK answers (older protocol revisions, `[mcp] fast_path = false`, `stream_responses =
true`) are run by the SDK's handler in one task and written by the HTTP layer in another, in
either order: the handler finishes first when the reply is plain JSON; the request ends first
when an SSE client leaves before the answer exists. Both halves report here under (session,
JSON-RPC id); whichever comes second decides. Both tables are bounded, so a half that never
comes (a request the SDK refused) costs one slot until it ages out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import msgspec

from synapsed.json_input import MALFORMED
from synapsed.mcp.sessions import Session
from synapsed.mcp.tools import Answer

RequestId = int | str
Key = tuple[str, RequestId]
V = TypeVar("V")
# Calls in flight on the SDK path at once, at most, that can still be matched with their write.
MAX_PENDING = 1024
WHY = "the HTTP connection closed before the SDK's answer was written"


class _CallHead(msgspec.Struct):
    method: str
    id: RequestId | None = None


_head = msgspec.json.Decoder(_CallHead)


def tools_call_id(body: bytes) -> RequestId | None:
    """The JSON-RPC id of a single tools/call request body; None for anything else."""
    if b"tools/call" not in body:
        return None
    try:
        head = _head.decode(body)
    except MALFORMED:  # a client's body: nested past the interpreter's limit is malformed too
        return None
    return head.id if head.method == "tools/call" else None


class _ReplyHead(msgspec.Struct):
    id: RequestId | None = None
    method: str | None = None
    result: msgspec.Raw = msgspec.Raw()  # kept undecoded: only whether it is there matters
    error: msgspec.Raw = msgspec.Raw()


_reply = msgspec.json.Decoder(_ReplyHead)


def carries_reply(chunk: bytes, request_id: RequestId) -> bool:
    """Whether these written bytes hold the JSON-RPC response to `request_id`: a plain JSON body,
    or an SSE event (the SDK writes each event whole) whose data is that response. Progress and
    log notifications on the same stream are not the reply."""
    for payload in _payloads(chunk):
        try:
            head = _reply.decode(payload)
        except MALFORMED:
            continue
        if head.method is None and head.id == request_id and (head.result or head.error):
            return True
    return False


def _payloads(chunk: bytes) -> list[bytes]:
    if chunk.lstrip()[:1] == b"{":
        return [chunk]
    payloads: list[bytes] = []
    for event in chunk.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
        if data:
            payloads.append(b"\n".join(data))
    return payloads


class Deliveries:
    def __init__(self, undelivered: Callable[[Session, Answer, str], None]) -> None:
        self._undelivered = undelivered
        self._answers: OrderedDict[Key, tuple[Session, Answer]] = OrderedDict()  # answered, not yet written
        self._lost: OrderedDict[Key, None] = OrderedDict()  # the request ended unwritten before its answer

    def answered(self, session: Session, request_id: RequestId, answer: Answer) -> None:
        """The SDK's handler has the answer for this request."""
        key = (session.id, request_id)
        if key in self._lost:
            del self._lost[key]
            if answer.rows:
                self._undelivered(session, answer, WHY)
        elif answer.rows:  # nothing billed, nothing to mark
            _put(self._answers, key, (session, answer))

    def settled(self, session: Session, request_id: RequestId, delivered: bool) -> None:
        """The HTTP request carrying this call has ended: its reply written whole, or not."""
        key = (session.id, request_id)
        held = self._answers.pop(key, None)
        if delivered:
            return
        if held is not None:
            self._undelivered(*held, WHY)
        else:
            _put(self._lost, key, None)


def _put(table: OrderedDict[Key, V], key: Key, value: V) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > MAX_PENDING:
        table.popitem(last=False)
