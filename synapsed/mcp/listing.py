"""What the MCP endpoint says about itself, as plain wire data and without the SDK: the
initialize result, tools/list, tool input schemas, a call's result. The HTTP fast path answers
from here while the SDK is still loading (and after); a differential test holds every piece
equal to what the SDK itself sends."""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from synapsed import __version__
from synapsed.mcp.tool_meta import ANNOTATIONS, OUTPUT_SCHEMAS
from synapsed.mcp.tools import TOOLS, Answer, tool_names, tool_schema
from synapsed.redaction import redact_text, redact_value

SERVER_NAME = "mcp-synapse"
BOUND_PREFIX = "/mcp/c/"  # /mcp/c/<connection>: an endpoint bound to one connection
INSTRUCTIONS = (
    "mcp synapse gives you the user's own LLM connections (their keys, their providers). "
    "Call list_connections to see them, ask or chat to query one, compare to query several side by side. "
    "Pass thread: \"new\" to ask/chat to keep a conversation any connection can continue. "
    "Pass files (paths in your workspace: code, text, screenshots) instead of pasting them into the prompt; "
    "reasoning asks for more thinking, response_schema for a JSON answer. Slow calls stream progress. "
    "Failures come back as errors with a kind and a hint; nothing is retried or silently substituted."
)
# The SDK's handshake-era versions (mcp_types.version.HANDSHAKE_PROTOCOL_VERSIONS; a unit test
# keeps them equal), newest last: a client asking for another one is offered the newest.
HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
# What MCP requests that need the SDK are told when it failed to load (HTTP 503, stdio -32603).
SDK_FAILED = "synapsed could not load its MCP server; see `synapsectl logs`"
CAPABILITIES = {"logging": {}, "resources": {"listChanged": False, "subscribe": False},
                "tools": {"listChanged": False}}


def error_body(request_id: int | str | None, code: int, message: str) -> bytes:
    """A JSON-RPC error reply: one line of JSON, without its newline."""
    return msgspec.json.encode({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})


def negotiated(requested: str) -> str:
    return requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1]


def initialize_result(requested: str) -> dict[str, Any]:
    return {"capabilities": CAPABILITIES, "instructions": INSTRUCTIONS, "protocolVersion": negotiated(requested),
            "serverInfo": {"name": SERVER_NAME, "version": __version__}}


def tool_description(name: str, bound: str | None) -> str:
    return TOOLS[name].description + (f" This endpoint always uses connection {bound!r}." if bound else "")


def input_schema(name: str) -> dict[str, Any] | None:
    """A tool's input schema as /mcp lists it (a bound endpoint's only lacks `connection`)."""
    return schema(name, None) if name in TOOLS else None


@functools.lru_cache(maxsize=256)
def schema(name: str, bound: str | None) -> dict[str, Any]:
    return tool_schema(TOOLS[name], bound)


# The 2026-07-28 era's schema annotation that ties an argument to an Mcp-Param-* header
# (mcp.shared.inbound.X_MCP_HEADER_KEY; a unit test keeps them equal).
X_MCP_HEADER = "x-mcp-header"


@functools.lru_cache(maxsize=64)
def declares_param_headers(name: str) -> bool:
    """Whether a tool's input schema may carry an x-mcp-header annotation. The SDK checks a
    call's Mcp-Param-* headers only against those, so without one the check cannot fail and
    is skipped (it walked the whole schema on every call). A textual test: a false True only
    costs the full check."""
    return f'"{X_MCP_HEADER}"'.encode() in msgspec.json.encode(schema(name, None))


@functools.lru_cache(maxsize=256)
def tools_list_data(bound: str | None) -> dict[str, Any]:
    """tools/list's result on /mcp (bound None) or on /mcp/c/<bound>. Cached: treat as read-only."""
    return {"tools": [{"name": name, "title": TOOLS[name].title, "description": tool_description(name, bound),
                       "inputSchema": schema(name, bound), "outputSchema": OUTPUT_SCHEMAS[name],
                       "annotations": ANNOTATIONS[name]} for name in tool_names(bound)]}


def result_data(answer: Answer) -> dict[str, Any]:
    """A CallToolResult's wire form. Loaded keys never leave in a result; key-shaped patterns are
    only scrubbed from our own error text, since model output may hold `sk-...`-like examples."""
    text = redact_text(answer.text, patterns=answer.is_error)
    structured = redact_value(answer.structured, patterns=answer.is_error)
    return {"content": [{"type": "text", "text": text}], "structuredContent": structured,
            "isError": answer.is_error}
