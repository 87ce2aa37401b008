"""mcp/fast_path.py pieces that decide whether a request is the fast path's or the SDK's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from synapsed.mcp.asgi import _swap_session
from synapsed.mcp.fast_path import SDK_MAX_DEPTH, FastPath, _decode_request, accepts_json
from synapsed.mcp.listing import initialize_result, tools_list_data
from synapsed.mcp.sessions import Session


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/event-stream", "*/*",
                                    "application/*;q=0.5", "text/html, APPLICATION/JSON"])
def test_accept_values_the_sdk_answers_with_json(accept: str) -> None:
    assert accepts_json(accept)


@pytest.mark.parametrize("accept", ["", "text/event-stream", "text/plain", "application/jsonl"])
def test_accept_values_the_sdk_refuses_go_to_the_sdk(accept: str) -> None:
    assert not accepts_json(accept)


def test_the_session_header_is_swapped_and_nothing_else() -> None:
    headers = [(b"mcp-session-id", b"outer"), (b"x-other", b"outer"), (b"content-type", b"application/json")]
    assert _swap_session(headers, b"outer", b"inner") == [
        (b"mcp-session-id", b"inner"), (b"x-other", b"outer"), (b"content-type", b"application/json")]


# ---- the bridge before the SDK has loaded ---------------------------------------------------

def _session() -> Session:
    return Session("stdio-1", "stdio", "unknown", "", None, None)


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def _initialize(version: str = "2025-06-18") -> bytes:
    return _line({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "ide", "version": "2"}}})


INITIALIZED = _line({"jsonrpc": "2.0", "method": "notifications/initialized"})
LIST = _line({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})


def _before_sdk() -> FastPath:
    return FastPath(calls=None, sessions=None)  # type: ignore[arg-type]  # neither is reached before the SDK


def test_the_bridge_opens_a_session_with_the_sdks_initialize_result() -> None:
    fast, session = _before_sdk(), _session()
    reply = fast.stdio_before_sdk(_initialize(), session, None)
    assert reply is not None and json.loads(reply) == {"jsonrpc": "2.0", "id": 0, "result": initialize_result("2025-06-18")}
    assert (session.client_name, session.client_version, session.protocol_version) == ("ide", "2", "2025-06-18")
    assert session.opening == _initialize()
    assert fast.stdio_before_sdk(INITIALIZED, session, None) == b"" and session.initialized


def test_tools_list_before_initialized_waits_for_the_sdk() -> None:
    fast, session = _before_sdk(), _session()
    assert fast.stdio_before_sdk(LIST, session, None) is None
    fast.stdio_before_sdk(_initialize(), session, None)
    assert fast.stdio_before_sdk(LIST, session, None) is None


@pytest.mark.parametrize("message", [
    {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "ask", "arguments": {"prompt": "hi"}}},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"cursor": "next"}},
    {"jsonrpc": "2.0", "id": 2, "method": "resources/list"},
    {"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {}},
    [{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}],
])
def test_what_needs_the_sdk_waits_for_it(message: Any) -> None:
    fast, session = _before_sdk(), _session()
    fast.stdio_before_sdk(_initialize(), session, None)
    fast.stdio_before_sdk(INITIALIZED, session, None)
    assert fast.stdio_before_sdk(_line(message), session, None) is None


def test_an_older_protocol_version_lists_tools_only_through_the_sdk() -> None:
    fast, session = _before_sdk(), _session()
    fast.stdio_before_sdk(_initialize("2024-11-05"), session, None)
    fast.stdio_before_sdk(INITIALIZED, session, None)
    assert fast.stdio_before_sdk(LIST, session, None) is None


def test_a_bound_bridge_lists_its_bound_tools() -> None:
    fast, session = _before_sdk(), _session()
    fast.stdio_before_sdk(_initialize(), session, "gpt")
    fast.stdio_before_sdk(INITIALIZED, session, "gpt")
    reply = fast.stdio_before_sdk(LIST, session, "gpt")
    assert reply is not None and json.loads(reply)["result"] == tools_list_data("gpt")


def _nested_call(depth: int) -> bytes:
    """A tools/call whose body nests `depth` containers deep (the body itself is the first)."""
    inner = "[" * (depth - 3) + "]" * (depth - 3)
    return (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask","arguments":{"extra":'
            + inner.encode() + b"}}}")


def test_bodies_the_sdks_parser_takes_are_decoded_here_too() -> None:
    assert _decode_request(_nested_call(SDK_MAX_DEPTH)) is not None


@pytest.mark.parametrize("depth", [SDK_MAX_DEPTH + 1, 900, 5000])
def test_bodies_nested_deeper_than_the_sdks_parser_takes_go_to_the_sdk(depth: int) -> None:
    # 5000 is past the interpreter's recursion limit: msgspec raises RecursionError there.
    assert _decode_request(_nested_call(depth)) is None


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = _line({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                  "params": {"name": "ask", "arguments": {"prompt": "{[" * 500}}})
    message = _decode_request(body)
    assert message is not None and message.params["arguments"]["prompt"] == "{[" * 500
