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



def encoded_body(content_encoding: str | None) -> bool:
    """Whether a request body arrives compressed. Every inbound listener refuses those (415): its
    size cap must count decoded bytes, and no MCP client, browser form or synapsectl compresses a
    request, so refusing costs nothing and leaves no inflation to bound."""
    return content_encoding is not None and content_encoding.strip().lower() not in ("", "identity")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate_at(value: Any) -> str | None:
    """The path of a string holding a lone UTF-16 surrogate, or None. The stdlib JSON
    parser (the SDK's for 2026-07-28 requests) accepts "\\ud800"; no UTF-8 encoder does, so
    such text fails later, far from its cause: in the upstream request, the ledger, a reply.
    A walk with its own stack: that parser takes nesting deeper than recursion here would."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _LONE_SURROGATE.search(item):
                return path or "$"
        elif isinstance(item, dict):
            stack.extend((path or "$", key) for key in item)  # a bad key is reported at its object
            stack.extend((f"{path}.{key}" if path else str(key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None


def valid_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD: for labels (a client's name), which
    are shown and stored but never worth refusing a request over."""
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)
