"""What clients read about each tool beyond its arguments: behaviour hints (annotations) and the
shape of its structured result (outputSchema), which clients validate `structuredContent` against.

Every result, failures included, must match: a failure is `{"error": {kind, message, hint}, ...}`
beside whatever the tool knew (the connection, a paid answer that was not stored), so fields are
described, none is required, and nothing unknown is forbidden. Kept small on purpose: tools/list
sits in the agent's context on every session.
"""

from __future__ import annotations

from typing import Any

_S = {"type": "string"}
_INT = {"type": "integer"}
_ERROR = {"type": "object", "properties": {"kind": _S, "message": _S, "hint": _S}}
_ANSWER = {  # the fields an agent acts on; the rest (latency, finish_reason...) is described in docs/ides.md
    "text": _S, "connection": _S, "model": _S, "usage": {"type": "object"}, "cost_usd": {"type": ["number", "null"]},
    "json": {}, "thread_id": _S, "error": _ERROR,
}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


OUTPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "list_connections": _object({"connections": {"type": "array", "items": _object({"name": _S, "model": _S})},
                                 "error": _ERROR}),
    "ask": _object(_ANSWER),
    "chat": _object(_ANSWER),
    "compare": _object({"results": {"type": "array", "items": _object({"ok": {"type": "boolean"}, **_ANSWER})},
                        "answered": _INT, "failed": _INT, "thread_id": _S, "error": _ERROR}),
}

# list_connections reads what the daemon holds; the others send the user's prompt to a third party
# (and spend the user's money), changing nothing that was there before.
_ASKS = {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": True}
ANNOTATIONS: dict[str, dict[str, bool]] = {
    "list_connections": {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
                         "openWorldHint": False},
    "ask": _ASKS,
    "chat": _ASKS,
    "compare": _ASKS,
}
