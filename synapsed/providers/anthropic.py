"""Anthropic Messages API: POST {base}/v1/messages, GET {base}/v1/models.

Headers x-api-key and anthropic-version; the system prompt is a top-level field; max_tokens is
required. Errors: {"type": "error", "error": {"type": "authentication_error", "message": ...}}.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import msgspec

from synapsed import model_rules
from synapsed.errors import SynapseError
from synapsed.protocol import Message
from synapsed.providers import http, parts, prompt_cache
from synapsed.providers.base import LOOKUP_MISS, CallContext, ChatRequest, ChatResult

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
# Claude models released after Opus 4.6 answer 400 "`temperature` is deprecated for this model",
# and the Messages API's current schema (the official SDK's types) has no temperature at all.
# The older models below still take it; for any other model a temperature is refused here,
# before the request, rather than dropped without a word.
TAKES_TEMPERATURE = re.compile(r"^claude-(2|instant|3)|^claude-(opus|sonnet|haiku)-4(-[0-6])?(-\d{8}|@\d{8}|-v\d|$)")


def check_temperature(model: str, temperature: float | None) -> bool:
    """Whether to send `temperature`; bad_request when the caller set one this model rejects."""
    if temperature is None:
        return False
    if TAKES_TEMPERATURE.search(model.removeprefix("anthropic.").split(".")[-1]):
        return True
    raise SynapseError(
        "bad_request",
        f"{model} takes no temperature (Anthropic deprecated it for models after Claude Opus 4.6)",
        hint="leave temperature unset for this connection; steer the style in the prompt instead",
        field="temperature",
    )


class _Block(msgspec.Struct):
    type: str
    text: str | None = None
    thinking: str | None = None  # a thinking block's (summarized) reasoning


class _OutputDetails(msgspec.Struct):
    thinking_tokens: int | None = None


class _CacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: int | None = None
    ephemeral_1h_input_tokens: int | None = None


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    # Of output_tokens, those spent thinking (where the API reports them).
    output_tokens_details: _OutputDetails | None = None
    # Prompt caching: these are billed input too, and input_tokens leaves them out.
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    # cache_creation_input_tokens split by lifetime (the 1-hour writes cost more).
    cache_creation: _CacheCreation | None = None

    def total_input(self) -> int | None:
        parts = (self.input_tokens, self.cache_creation_input_tokens, self.cache_read_input_tokens)
        return None if all(p is None for p in parts) else sum(p or 0 for p in parts)


class _Message(msgspec.Struct):
    content: list[_Block]
    model: str
    id: str | None = None
    stop_reason: str | None = None
    usage: _Usage | None = None


class _Model(msgspec.Struct):
    id: str


class _Models(msgspec.Struct):
    data: list[_Model]
    has_more: bool = False
    last_id: str | None = None


class _ErrorDetail(msgspec.Struct):
    type: str | None = None
    message: str | None = None


class _ErrorBody(msgspec.Struct):
    error: _ErrorDetail


def parse_error(reply: http.Reply) -> http.UpstreamError | None:
    body = http.decode_or_none(reply, _ErrorBody)
    if body is None:
        return None
    return http.UpstreamError(body.error.message or "", (body.error.type or "",))


def message_body(request: ChatRequest, model: str, cache: str = "5m") -> dict[str, Any]:
    """A Messages API body without the model (Claude on Vertex AI names it in the URL instead),
    with prompt-cache breakpoints where they pay (prompt_cache.py)."""
    cached = prompt_cache.plan(request, model, cache)
    mark = prompt_cache.control(cache)
    body: dict[str, Any] = {
        "max_tokens": request.max_output_tokens or DEFAULT_MAX_TOKENS,
        "messages": [_message(m, index, len(request.messages) - 1, cached, mark)
                     for index, m in enumerate(request.messages)],
    }
    if request.system:
        body["system"] = ([{"type": "text", "text": request.system, "cache_control": mark}]
                          if cached is not None and cached.system else request.system)
    if check_temperature(model, request.temperature):
        body["temperature"] = request.temperature
    if request.stop:
        body["stop_sequences"] = request.stop
    _thinking(body, request, model)
    if request.response_schema is not None:
        body.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": request.response_schema}
    return body


def _message(message: Message, index: int, last: int, cached: prompt_cache.Plan | None,
             mark: dict[str, Any]) -> dict[str, Any]:
    history_end = cached is not None and cached.history_end == index
    attachments = cached is not None and cached.attachments and index == last and bool(message.attachments)
    if not message.attachments and not history_end:
        return {"role": message.role, "content": message.content}
    blocks = parts.anthropic_blocks(message)
    if history_end:
        blocks[-1]["cache_control"] = mark
    if attachments:
        blocks[-2]["cache_control"] = mark  # the last file or image block: the question after it varies
    return {"role": message.role, "content": blocks}


def _thinking(body: dict[str, Any], request: ChatRequest, model: str) -> None:
    """Adaptive thinking with output_config.effort (Claude 4.6 and later: from Opus 4.7 on,
    budget_tokens is a 400), or a thinking budget for the older thinking models, with max_tokens
    raised above it (it counts the thinking too)."""
    reasoning = model_rules.resolve("anthropic", model, request.reasoning, family="anthropic")
    display = {"display": "summarized"} if request.include_reasoning else {}
    if reasoning is None:
        return  # the model's own default; include_reasoning then reports what came back
    if reasoning.value in ("disabled", 0):
        body["thinking"] = {"type": "disabled"}
    elif reasoning.rule.control == "adaptive":
        body["thinking"] = {"type": "adaptive", **display}
        body.setdefault("output_config", {})["effort"] = reasoning.value
    else:
        budget = int(reasoning.value)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget, **display}
        body["max_tokens"] = budget + (request.max_output_tokens or DEFAULT_MAX_TOKENS)
        body.pop("temperature", None)  # thinking takes no temperature (a 400 if sent)


def message_result(reply: http.Reply, request: ChatRequest | None = None) -> ChatResult:
    message: _Message = http.convert(http.decode_json(reply, "a message"), _Message, "message", parse_error, reply)
    texts = [b.text for b in message.content if b.type == "text" and b.text is not None]
    if not texts and message.stop_reason not in ("max_tokens", "refusal", "end_turn"):
        raise SynapseError("upstream_malformed", "the provider's message had no text content")
    usage = message.usage or _Usage()
    thoughts = [b.thinking for b in message.content if b.type == "thinking" and b.thinking]
    wanted = request is not None and request.include_reasoning
    return ChatResult(
        text="".join(texts),
        finish_reason=message.stop_reason,
        model=message.model,
        input_tokens=usage.total_input(),
        output_tokens=usage.output_tokens,
        request_id=reply.header("request-id") or message.id,
        latency_ms=round(reply.latency_ms, 3),
        # Claude counts thinking inside output_tokens; the split is reported only where the API gives it.
        reasoning_tokens=usage.output_tokens_details.thinking_tokens if usage.output_tokens_details else None,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_write_tokens=usage.cache_creation_input_tokens,
        cache_write_1h_tokens=usage.cache_creation.ephemeral_1h_input_tokens if usage.cache_creation else None,
        reasoning_summary="\n\n".join(thoughts) if wanted and thoughts else None,
        reasoning_note="the model returned no thinking for this answer" if wanted and not thoughts else None,
    )


class AnthropicProvider:
    family = "anthropic"
    can_check_model = True

    def auth_headers(self, ctx: CallContext) -> dict[str, str]:
        headers = {"anthropic-version": ctx.conn.options.get("anthropic_version", API_VERSION)}
        if ctx.key:
            headers["x-api-key"] = ctx.key
        return headers

    def _fail(self, ctx: CallContext, reply: http.Reply) -> SynapseError:
        # 529 overloaded_error is Anthropic's own 5xx-class status: upstream_error like any 5xx.
        return http.http_error(reply, parse_error(reply), ctx)

    async def complete(self, ctx: CallContext, request: ChatRequest) -> ChatResult:
        body = {"model": ctx.conn.model, **message_body(request, ctx.conn.model, ctx.conn.options.get("cache", "5m"))}
        reply = await http.send(ctx, "POST", f"{ctx.base_url}/v1/messages", headers=self.auth_headers(ctx), json_body=body)
        if reply.status != 200:
            raise self._fail(ctx, reply)
        return message_result(reply, request)

    async def list_models(self, ctx: CallContext) -> list[str]:
        reply = await http.send(ctx, "GET", f"{ctx.base_url}/v1/models", headers=self.auth_headers(ctx), params={"limit": "1000"})
        if reply.status != 200:
            raise self._fail(ctx, reply)
        models: _Models = http.convert(http.decode_json(reply, "a model list"), _Models, "model list")
        return [m.id for m in models.data]

    def matches_model(self, configured: str, listed: str) -> bool:
        return configured == listed

    async def lookup_model(self, ctx: CallContext) -> str | None:
        # GET /v1/models/{model_id} takes an id or an alias and answers with the resolved id.
        url = f"{ctx.base_url}/v1/models/{quote(ctx.conn.model, safe='-._~:@')}"
        found: _Model | None = await http.get_json(ctx, url, self.auth_headers(ctx), _Model, "a model", parse_error,
                                                   miss=LOOKUP_MISS)
        return found.id if found is not None else None
