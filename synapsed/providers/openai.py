"""OpenAI Chat Completions, and every service that speaks it (groq, openrouter, deepseek, xai,
mistral, together, lmstudio, vllm, openai-compatible).

POST {base}/chat/completions; GET {base}/models. Errors: {"error": {"message", "type", "code"}}
(some compatible servers send {"error": "text"} or {"detail": ...}).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import msgspec

from synapsed import model_rules, structured
from synapsed.errors import SynapseError
from synapsed.providers import http, parts, responses
from synapsed.providers.base import LOOKUP_MISS, CallContext, ChatRequest, ChatResult

# Reasoning models reject max_tokens with a 400 and need max_completion_tokens; Azure's older
# api-versions only know max_tokens, so Azure picks by model.
REASONING_MODEL = re.compile(r"^(o\d|gpt-5)", re.IGNORECASE)


class _Message(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None


class _Choice(msgspec.Struct):
    message: _Message
    finish_reason: str | None = None


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None  # OpenRouter reports the charge in USD
    completion_tokens_details: _CompletionDetails | None = None
    prompt_tokens_details: _PromptDetails | None = None


class _Completion(msgspec.Struct):
    choices: list[_Choice]
    model: str | None = None
    id: str | None = None
    usage: _Usage | None = None


class _Model(msgspec.Struct):
    id: str


class _Models(msgspec.Struct):
    data: list[_Model]


class _ErrorDetail(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None


def parse_error(reply: http.Reply) -> http.UpstreamError | None:
    raw = http.decode_or_none(reply)
    if not isinstance(raw, dict):
        return None
    error = raw.get("error", raw.get("detail", raw.get("message")))
    if isinstance(error, str):
        return http.UpstreamError(error)
    if isinstance(error, dict):
        try:
            detail = msgspec.convert(error, _ErrorDetail)
        except msgspec.ValidationError:
            return http.UpstreamError(str(error))
        return http.UpstreamError(detail.message or "", tuple(str(c) for c in (detail.code, detail.type) if c is not None))
    return None


def chat_body(ctx: CallContext, request: ChatRequest, max_tokens_field: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages += [{"role": m.role, "content": parts.openai_content(m)} for m in request.messages]
    body: dict[str, Any] = {"model": ctx.conn.model, "messages": messages, "stream": False}
    if request.max_output_tokens is not None:
        body[max_tokens_field] = request.max_output_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stop:
        body["stop"] = request.stop
    reasoning = model_rules.resolve(ctx.conn.provider, ctx.conn.model, request.reasoning)
    if reasoning is not None:
        if reasoning.rule.control == "openrouter":
            body["reasoning"] = {"effort": reasoning.value}
        else:
            body["reasoning_effort"] = reasoning.value
    if request.response_schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": json_schema_format(request.response_schema)}
    return body


def json_schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's json_schema member (chat completions' response_format.json_schema; the Responses
    API's text.format adds its type beside these): strict where the schema allows it."""
    return {"name": "answer", "schema": schema, "strict": structured.strict_compatible(schema)}


def reasoning_note(request: ChatRequest, endpoint: str) -> str | None:
    if not request.include_reasoning:
        return None
    return f"OpenAI's {endpoint} API returns no reasoning summary; the Responses API does (models served there)"


def completion_result(reply: http.Reply, requested_model: str) -> ChatResult:
    parsed: _Completion = http.convert(
        http.decode_json(reply, "a chat completion"), _Completion, "chat completion", parse_error, reply
    )
    if not parsed.choices:
        raise SynapseError("upstream_malformed", "the provider answered without any choices")
    choice = parsed.choices[0]
    text = choice.message.content if choice.message.content is not None else (choice.message.refusal or "")
    usage = parsed.usage or _Usage()
    return ChatResult(
        text=text,
        finish_reason=choice.finish_reason,
        model=parsed.model or requested_model,
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cost_usd=usage.cost,
        request_id=reply.header("x-request-id") or parsed.id,
        latency_ms=round(reply.latency_ms, 3),
        reasoning_tokens=usage.completion_tokens_details.reasoning_tokens if usage.completion_tokens_details else None,
        cache_read_tokens=usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else None,
    )


class OpenAIProvider:
    family = "openai"
    can_check_model = True

    def __init__(self, max_tokens_field: str = "max_tokens") -> None:
        self.max_tokens_field = max_tokens_field

    def auth_headers(self, ctx: CallContext) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {ctx.key}"} if ctx.key else {}
        if org := ctx.conn.options.get("organization"):
            headers["OpenAI-Organization"] = org
        if project := ctx.conn.options.get("project"):
            headers["OpenAI-Project"] = project
        return headers

    async def complete(self, ctx: CallContext, request: ChatRequest) -> ChatResult:
        if self.family == "openai" and model_rules.endpoint_for(ctx.conn.provider, ctx.conn.model) == "responses":
            return await responses.complete(ctx, request, f"{ctx.base_url}/responses", self.auth_headers(ctx))
        body = chat_body(ctx, request, self.max_tokens_field)
        reply = await http.send(ctx, "POST", f"{ctx.base_url}/chat/completions", headers=self.auth_headers(ctx), json_body=body)
        if reply.status != 200:
            raise http.http_error(reply, parse_error(reply), ctx)
        result = completion_result(reply, ctx.conn.model)
        note = reasoning_note(request, "Chat Completions")
        return msgspec.structs.replace(result, reasoning_note=note) if note else result

    async def list_models(self, ctx: CallContext) -> list[str]:
        reply = await http.send(ctx, "GET", f"{ctx.base_url}/models", headers=self.auth_headers(ctx))
        if reply.status != 200:
            raise http.http_error(reply, parse_error(reply), ctx)
        models: _Models = http.convert(http.decode_json(reply, "a model list"), _Models, "model list")
        return [m.id for m in models.data]

    def matches_model(self, configured: str, listed: str) -> bool:
        return configured == listed

    async def lookup_model(self, ctx: CallContext) -> str | None:
        url = f"{ctx.base_url}/models/{quote(ctx.conn.model, safe='-._~:@/')}"
        found: _Model | None = await http.get_json(ctx, url, self.auth_headers(ctx), _Model, "a model", parse_error,
                                                   miss=LOOKUP_MISS)
        return found.id if found is not None else None
