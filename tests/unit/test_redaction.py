"""The redactor: loaded secret values, their fragments, known key shapes, secret-named keys."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from synapsed.redaction import FRAGMENT, REDACTED, SecretRegistry, redact_text, redact_value

SECRET = "sk-proj-Zr8Kq2Wv5Tn1Lm4Xy7Pb3Hc6"


def _registry(*values: str) -> SecretRegistry:
    registry = SecretRegistry()
    for value in values:
        registry.add(value)
    return registry


def test_whole_secret_is_replaced() -> None:
    assert redact_text(f"key={SECRET}!", _registry(SECRET)) == f"key={REDACTED}!"


def test_partial_echo_of_a_loaded_secret_is_replaced() -> None:
    # OpenAI's 401 says: "Incorrect API key provided: sk-proj-****...Hc6" style partials.
    text = f"Incorrect API key provided: {SECRET[:3]}****{SECRET[-10:]}"
    out = redact_text(text, _registry(SECRET))
    assert SECRET[-10:] not in out
    assert REDACTED in out


def test_unregistered_keys_of_known_shapes_are_replaced() -> None:
    registry = SecretRegistry()
    for key in ("sk-ant-api03-abcdefghijklmnop", "sk-abcdefghijklmnopqrstu", "AIzaSyA1234567890abcdefghijklm",
                "gsk_abcdefghijklmnopqrst", "xai-abcdefghijklmnopqrst"):
        assert key not in redact_text(f"got {key} here", registry)
    assert redact_text("Authorization: Bearer abc.def-123456", registry) == f"Authorization: {REDACTED}"


def test_ordinary_text_is_untouched() -> None:
    text = "connection created provider=openai model=gpt-4o-mini tokens=123 task-list"
    assert redact_text(text, _registry(SECRET)) == text


def test_nested_values_and_secret_named_keys() -> None:
    registry = _registry(SECRET)
    event = {
        "event": "x",
        "headers": {"Authorization": "whatever", "x-api-key": "whatever", "Content-Type": "json"},
        "items": [f"a {SECRET}", ("t", SECRET)],
        "api_key": "anything at all",
        "input_tokens": 12,
        "mcp_token": "tok",
        "exc": ValueError(f"boom {SECRET}"),
    }
    out = redact_value(event, registry)
    assert out["headers"] == {"Authorization": REDACTED, "x-api-key": REDACTED, "Content-Type": "json"}
    assert out["items"] == [f"a {REDACTED}", ("t", REDACTED)]
    assert out["api_key"] == REDACTED and out["mcp_token"] == REDACTED
    assert out["input_tokens"] == 12
    assert out["exc"] == f"ValueError: boom {REDACTED}"


def test_short_values_are_not_registered() -> None:
    registry = _registry("abc")
    assert redact_text("abc abc", registry) == "abc abc"


def test_discard_forgets_a_secret() -> None:
    registry = _registry(SECRET)
    registry.discard(SECRET)
    assert registry.values == frozenset() and registry.fragments == frozenset()


def test_adjacent_fragments_merge_into_one_marker() -> None:
    registry = _registry("Qx7Wv2Lm9Pb4Tn6Hc1Zr")
    assert redact_text("pre Qx7Wv2Lm9Pb4 post", registry) == f"pre {REDACTED} post"


@given(secret=st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=8, max_size=80),
       start=st.integers(min_value=0, max_value=72), before=st.text(max_size=30), after=st.text(max_size=30))
def test_the_block_prefilter_never_misses_a_piece(secret: str, start: int, before: str, after: str) -> None:
    registry = _registry(secret)
    start = min(start, len(secret) - FRAGMENT)
    text = before + secret[start : start + FRAGMENT] + after
    assert registry.may_hold_piece(text)
    assert REDACTED in redact_text(text, registry, patterns=False)


def test_the_block_prefilter_passes_ordinary_text_without_the_search() -> None:
    registry = _registry(SECRET)
    assert not registry.may_hold_piece("The quick brown fox jumps over the lazy dog. " * 10)
