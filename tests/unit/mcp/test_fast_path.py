"""mcp/fast_path.py pieces that decide whether a request is the fast path's or the SDK's."""

from __future__ import annotations

import pytest

from synapsed.mcp.asgi import _swap_session
from synapsed.mcp.fast_path import accepts_json


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
