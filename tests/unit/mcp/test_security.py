"""mcp/security.py: the bearer-token check never fails on what a client can put in a header."""

from __future__ import annotations

import pytest

from synapsed.mcp.security import token_ok

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Basic " + TOKEN, "Bearer " + TOKEN[:-1],
    "Bearer \u00e9t\u00e9",  # non-ASCII text
    "Bearer " + b"\xff\xfe".decode("utf-8", "surrogateescape"),  # bytes that were not UTF-8
])
def test_anything_but_the_token_is_refused_without_raising(header: str | None) -> None:
    assert token_ok(header, TOKEN) is False


def test_the_token_passes_with_surrounding_space() -> None:
    assert token_ok(f"Bearer  {TOKEN} ", TOKEN) is True
