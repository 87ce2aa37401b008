"""Scrubbing secrets out of text and nested values: the last line of defence for logs and replies.

Three nets, applied together: every secret value the daemon has loaded (and any 8+ character
piece of one, since providers echo partial keys), well-known key shapes, and keys whose *name*
says they hold a secret. Pure functions over a process-wide registry of loaded values.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
# Substrings of a loaded secret this long or longer are treated as the secret.
FRAGMENT = 8
BLOCK = 4  # the prefilter's block length: FRAGMENT >= 2 * BLOCK - 1 keeps it exact

KEY_PATTERNS = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{8,}"
    r"|sk-(?:proj-|svcacct-|or-v1-)?[A-Za-z0-9_\-]{12,}"
    r"|AIza[0-9A-Za-z_\-]{20,}"
    r"|gsk_[A-Za-z0-9]{12,}"
    r"|xai-[A-Za-z0-9]{12,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"
)
SECRET_KEY_NAMES = re.compile(
    r"(?i)(^|[_\-.])(api[_\-]?key|apikey|secret|password|passwd|authorization|auth[_\-]?token|access[_\-]?token"
    r"|bearer|x[_\-]api[_\-]key|x[_\-]goog[_\-]api[_\-]key|api[_\-]?token|token)$"
)


class SecretRegistry:
    """The secret values currently loaded in this process, kept only to recognise them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._fragments: frozenset[str] = frozenset()
        self._finder: re.Pattern[str] | None = None
        self._blocks: tuple[str, ...] = ()

    def add(self, value: str) -> None:
        value = value.strip()
        if len(value) >= 4 and value not in self._values:
            self._replace(self._values | {value})

    def discard(self, value: str) -> None:
        self._replace(self._values - {value.strip()})

    def clear(self) -> None:
        self._replace(frozenset())

    def _replace(self, values: frozenset[str]) -> None:
        # Readers take the two frozensets without locking; swap them in one assignment each.
        fragments = frozenset(v[i : i + FRAGMENT] for v in values for i in range(len(v) - FRAGMENT + 1))
        # One compiled alternation answers "is any piece of any key in this text?" at C speed;
        # the exact span merge below runs only when it says yes.
        finder = re.compile("|".join(map(re.escape, sorted(fragments)))) if fragments else None
        # Every FRAGMENT-long piece of a value contains one of the value's BLOCK-long blocks that
        # start at a multiple of BLOCK (FRAGMENT >= 2 * BLOCK - 1), so a text holding none of the
        # blocks holds no piece: a few C-speed `in` tests spare the alternation (~35 µs on 200
        # characters) on almost every text.
        blocks = tuple(sorted({v[i : i + BLOCK] for v in values if len(v) >= FRAGMENT
                               for i in range(0, len(v) - BLOCK + 1, BLOCK)}))
        with self._lock:
            self._values, self._fragments, self._finder, self._blocks = values, fragments, finder, blocks

    @property
    def values(self) -> frozenset[str]:
        return self._values

    @property
    def fragments(self) -> frozenset[str]:
        return self._fragments

    @property
    def finder(self) -> re.Pattern[str] | None:
        return self._finder

    def may_hold_piece(self, text: str) -> bool:
        """False only when `text` cannot contain any FRAGMENT-long piece of a loaded value."""
        return any(block in text for block in self._blocks)


SECRETS = SecretRegistry()


def _fragment_spans(text: str, fragments: frozenset[str]) -> Iterable[tuple[int, int]]:
    start = end = -1
    for i in range(len(text) - FRAGMENT + 1):
        if text[i : i + FRAGMENT] in fragments:
            if start >= 0 and i <= end:
                end = i + FRAGMENT
            else:
                if start >= 0:
                    yield start, end
                start, end = i, i + FRAGMENT
    if start >= 0:
        yield start, end


def redact_text(text: str, registry: SecretRegistry = SECRETS, patterns: bool = True) -> str:
    """Replace loaded secrets (and their pieces) and, unless patterns=False, well-known key shapes.

    patterns=False is for model output, where `sk-...` may be legitimate example text."""
    for value in registry.values:
        if value in text:
            text = text.replace(value, REDACTED)
    finder = registry.finder
    if finder is not None and len(text) >= FRAGMENT and registry.may_hold_piece(text) and finder.search(text):
        spans = list(_fragment_spans(text, registry.fragments))
        for start, end in reversed(spans):
            text = text[:start] + REDACTED + text[end:]
    return KEY_PATTERNS.sub(REDACTED, text) if patterns else text


def is_secret_key(name: str) -> bool:
    return bool(SECRET_KEY_NAMES.search(name))


def redact_value(value: Any, registry: SecretRegistry = SECRETS, patterns: bool = True, _depth: int = 0) -> Any:
    """Redact inside str / dict / list / tuple / exceptions, to a bounded depth.

    patterns=False (model output) keeps key-shaped text and secret-named keys, and removes only
    the values actually loaded."""
    if _depth > 12:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value, registry, patterns)
    if isinstance(value, dict):
        return {
            k: (REDACTED if patterns and isinstance(k, str) and is_secret_key(k) and v not in (None, "")
                else redact_value(v, registry, patterns, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, tuple):
        return tuple(redact_value(v, registry, patterns, _depth + 1) for v in value)
    if isinstance(value, (list, set, frozenset)):
        return [redact_value(v, registry, patterns, _depth + 1) for v in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}", registry, patterns)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact_text(repr(value), registry, patterns)
