"""OpenAI's Responses API (POST {base}/responses), for the models served only there: the pro and
codex models (model_rules.py names them, citing OpenAI's model pages). Azure OpenAI serves the
same API at {endpoint}/openai/responses?api-version=V with the deployment as the model.

One request, `store: false` unless the connection's `store` option says true (OpenAI then keeps
the conversation), no `previous_response_id`: threads stay synapse's own and any connection
continues them, so every request carries the whole history as input items.
"""

from __future__ import annotations

from typing import Any

import msgspec

from synapsed import model_rules
from synapsed.errors import SynapseError
from synapsed.providers import http, parts
from synapsed.providers.base import CallContext, ChatRequest, ChatResult


class _Content(msgspec.Struct):
    type: str
    text: str | None = None
    refusal: str | None = None


class _Summary(msgspec.Struct):
    type: str
    text: str | None = None


class _Item(msgspec.Struct):
    type: str
    content: list[_Content] | None = None
    summary: list[_Summary] | None = None


class _InputDetails(msgspec.Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class _OutputDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_tokens_details: _InputDetails | None = None
    output_tokens_details: _OutputDetails | None = None


class _Incomplete(msgspec.Struct):
    reason: str | None = None


class _Response(msgspec.Struct):
    output: list[_Item]
    status: str | None = None
    model: str | None = None
    id: str | None = None
    usage: _Usage | None = None
    incomplete_details: _Incomplete | None = None


def body(ctx: CallContext, request: ChatRequest, model: str) -> dict[str, Any]:
    from synapsed.providers.openai import json_schema_format

    payload: dict[str, Any] = {
        "model": model,
        "input": [{"role": m.role, "content": parts.responses_content(m)} for m in request.messages],
        "store": ctx.conn.options.get("store") == "true",
    }
    if request.system:
        payload["instructions"] = request.system
    if request.max_output_tokens is not None:
        payload["max_output_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    reasoning = model_rules.resolve(ctx.conn.provider, ctx.conn.model, request.reasoning)
    settings: dict[str, Any] = {}
    if reasoning is not None:
        settings["effort"] = reasoning.value
    if request.include_reasoning:
        settings["summary"] = "auto"
    if settings:
        payload["reasoning"] = settings
    if request.response_schema is not None:
        payload["text"] = {"format": {"type": "json_schema", **json_schema_format(request.response_schema)}}
    if request.stop:
        raise SynapseError("bad_request", f"{ctx.conn.model} is served on the Responses API, which takes no stop sequences",
                           hint="leave stop out for this model", field="stop")
    return payload


def result(reply: http.Reply, request: ChatRequest, requested_model: str) -> ChatResult:
    from synapsed.providers.openai import parse_error

    parsed: _Response = http.convert(http.decode_json(reply, "a response"), _Response, "response", parse_error, reply)
    texts: list[str] = []
    summaries: list[str] = []
    for item in parsed.output:
        if item.type == "message":
            texts += [c.text if c.text is not None else (c.refusal or "") for c in item.content or []
                      if c.type in ("output_text", "refusal")]
        elif item.type == "reasoning":
            summaries += [s.text for s in item.summary or [] if s.text]
    if not texts and parsed.status == "completed":
        raise SynapseError("upstream_malformed", "the response completed without any output text")
    usage = parsed.usage or _Usage()
    finish = "length" if parsed.incomplete_details and parsed.incomplete_details.reason == "max_output_tokens" else (
        "stop" if parsed.status == "completed" else parsed.status)
    summary = "\n\n".join(summaries) if request.include_reasoning and summaries else None
    note = None
    if request.include_reasoning and summary is None:
        note = "the model returned no reasoning summary for this answer"
    return ChatResult(
        text="".join(texts),
        finish_reason=finish,
        model=parsed.model or requested_model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        request_id=reply.header("x-request-id") or parsed.id,
        latency_ms=round(reply.latency_ms, 3),
        reasoning_tokens=usage.output_tokens_details.reasoning_tokens if usage.output_tokens_details else None,
        cache_read_tokens=usage.input_tokens_details.cached_tokens if usage.input_tokens_details else None,
        cache_write_tokens=usage.input_tokens_details.cache_write_tokens if usage.input_tokens_details else None,
        reasoning_summary=summary,
        reasoning_note=note,
        endpoint="responses",
    )


async def complete(ctx: CallContext, request: ChatRequest, url: str, headers: dict[str, str],
                   params: dict[str, str] | None = None, model: str | None = None) -> ChatResult:
    from synapsed.providers.openai import parse_error

    reply = await http.send(ctx, "POST", url, headers=headers, params=params,
                            json_body=body(ctx, request, model or ctx.conn.model))
    if reply.status != 200:
        raise http.http_error(reply, parse_error(reply), ctx, model=model)
    return result(reply, request, ctx.conn.model)
