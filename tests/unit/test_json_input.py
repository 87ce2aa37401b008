"""The rules for JSON from outside that no parser enforces for us."""

from __future__ import annotations

import msgspec
import pytest

from synapsed.json_input import MALFORMED, lone_surrogate_at, valid_text


@pytest.mark.parametrize(("value", "path"), [
    ("\ud800", "$"),
    ({"prompt": "x", "system": "\udc00"}, "system"),
    ({"messages": [{"content": "ok"}, {"content": "a\udfffb"}]}, "messages[1].content"),
    ({"nested": {"deeper": ["x", "\ud83d"]}}, "nested.deeper[1]"),
    ({"bad key \ud800": 1}, "$"),
])
def test_a_lone_surrogate_is_found_with_its_path(value: object, path: str) -> None:
    assert lone_surrogate_at(value) == path


@pytest.mark.parametrize("value", [None, 5, "plain", "caf\u00e9", "\U0001f600", {"a": ["\u4e2d\u6587", {"b": 1.5}]}])
def test_text_that_utf8_can_carry_passes(value: object) -> None:
    assert lone_surrogate_at(value) is None


def test_valid_text_replaces_only_lone_surrogates() -> None:
    assert valid_text("ide \ud800 \U0001f600") == "ide \ufffd \U0001f600"
    assert valid_text("ascii") == "ascii"


def test_nesting_past_the_interpreters_limit_is_among_the_malformed() -> None:
    with pytest.raises(MALFORMED):
        msgspec.json.decode(b"[" * 5000 + b"]" * 5000)


def test_nesting_deeper_than_recursion_allows_is_walked() -> None:
    deep: object = "\ud800"
    for _ in range(5000):
        deep = [deep]
    assert lone_surrogate_at({"extra": deep}) == "extra" + "[0]" * 5000
