"""mcp/bridge_sdk.py: what a bridge line the SDK's parser refuses is answered with."""

from __future__ import annotations

import json

import mcp_types as types
import pydantic
import pytest

from synapsed.mcp.bridge_sdk import refusal_of


def _refused(line: bytes) -> dict | None:
    with pytest.raises(pydantic.ValidationError) as refused:
        types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    reply = refusal_of(line, refused.value)
    return None if reply is None else json.loads(reply)


def test_a_request_that_is_not_json_to_the_sdk_gets_a_parse_error_with_its_id() -> None:
    reply = _refused(b'{"jsonrpc": "2.0", "id": "r-1", "method": "ping", "params": {"x": "\\ud800"}}')
    assert reply == {"jsonrpc": "2.0", "id": "r-1", "error": {
        "code": -32700, "message": "Parse error: unexpected end of hex escape at line 1 column 74"}}


def test_json_that_is_no_jsonrpc_message_gets_a_validation_error() -> None:
    reply = _refused(b'{"jsonrpc": "1.0", "id": 3, "method": "ping"}')
    assert reply is not None and reply["id"] == 3 and reply["error"]["code"] == -32602


@pytest.mark.parametrize("line", [
    b'{"jsonrpc": "2.0", "method": "notifications/x", "params": {"x": "\\ud800"}}',  # a notification
    b'{"jsonrpc": "2.0", "id": 4, "result": {"x": "\\ud800"}}',  # a response to the server
])
def test_what_is_not_a_request_gets_no_reply(line: bytes) -> None:
    assert _refused(line) is None


def test_garbage_gets_a_parse_error_without_an_id() -> None:
    reply = _refused(b"{not json")
    assert reply is not None and reply["id"] is None and reply["error"]["code"] == -32700


def test_an_id_with_a_lone_surrogate_is_not_echoed() -> None:
    reply = _refused(b'{"jsonrpc": "2.0", "id": "\\ud800", "method": "ping", "params": {"x": "\\udfff"}}')
    assert reply is not None and reply["id"] is None and reply["error"]["code"] == -32700
