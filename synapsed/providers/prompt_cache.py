"""Where Claude's prompt cache breakpoints go (Anthropic, and Claude on Vertex AI and Bedrock).

A breakpoint caches the whole prompt up to it, so they sit on what stays the same from one call
to the next: the system text, the end of a thread's earlier turns, and the files and images of
the last message. At most three of the API's four, and only where the prefix reaches the
model's minimum cacheable length (shorter prefixes are not cached, and the mark would be noise).
The connection option `cache` sets the lifetime: 5m (the default), 1h, or off.
https://platform.claude.com/docs/en/build-with-claude/prompt-caching

OpenAI and Gemini cache on their own: there the request's prefix only has to stay byte-stable,
which it does (the system text, then the turns oldest first, then the files in the order given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from synapsed.model_limits import IMAGE_TOKENS, message_tokens, text_tokens
from synapsed.protocol import ChatRequest

# Minimum cacheable prompt length in tokens, by model (the page above).
_MINIMUMS = ((r"haiku-4-5|opus-4-[5-9]|opus-5|sonnet-5", 4096), (r"haiku-3", 2048))
DEFAULT_MINIMUM = 1024


@dataclass(frozen=True)
class Plan:
    system: bool
    history_end: int | None  # index of the message whose last block takes a breakpoint
    attachments: bool  # the last message's attachments take one


def minimum(model: str) -> int:
    return next((tokens for pattern, tokens in _MINIMUMS if re.search(pattern, model)), DEFAULT_MINIMUM)


def plan(request: ChatRequest, model: str, ttl: str) -> Plan | None:
    if ttl == "off":
        return None
    floor = minimum(model)
    total = text_tokens(len(request.system or ""))
    system = bool(request.system) and total >= floor
    history = request.messages[:-1]
    total += sum(message_tokens(m) for m in history)
    history_end = len(history) - 1 if history and total >= floor else None
    last = request.messages[-1]
    total += text_tokens(len(last.file_blocks())) + IMAGE_TOKENS * len(last.images)
    attachments = bool(last.attachments) and total >= floor
    if not (system or history_end is not None or attachments):
        return None
    return Plan(system, history_end, attachments)


def control(ttl: str) -> dict[str, Any]:
    """The Messages API's cache_control for this lifetime."""
    return {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}
