"""What JSON from outside (an IDE, a browser, a provider, a file the user names) can raise
when decoded, and the text rules no JSON parser enforces for us."""

from __future__ import annotations

import re
from typing import Any

import msgspec

# msgspec raises RecursionError, not DecodeError, for nesting past the interpreter's limit: a
# boundary that catches only DecodeError turns a deeply nested body into an unhandled 500.
# (msgspec.ValidationError is a DecodeError.)
MALFORMED: tuple[type[Exception], ...] = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate_at(value: Any, path: str = "") -> str | None:
    """The path of the first string holding a lone UTF-16 surrogate, or None. The stdlib JSON
    parser (the SDK's for 2026-07-28 requests) accepts "\\ud800"; no UTF-8 encoder does, so
    such text fails later, far from its cause: in the upstream request, the ledger, a reply."""
    if isinstance(value, str):
        return path or "$" if not value.isascii() and _LONE_SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = lone_surrogate_at(key, path or "$") or lone_surrogate_at(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate_at(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def valid_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD: for labels (a client's name), which
    are shown and stored but never worth refusing a request over."""
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)
