"""Google Gemini API: POST {base}/models/{model}:generateContent, GET {base}/models.

The key goes in the x-goog-api-key header, never in the URL (URLs end up in logs and proxies).
Errors: {"error": {"code", "message", "status", "details": [{"reason": "API_KEY_INVALID"}]}};
note that an invalid key is a 400 here, recognised by its reason.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec

from synapsed import model_rules
from synapsed.errors import SynapseError
from synapsed.providers import http, parts
from synapsed.providers.base import LOOKUP_MISS, CallContext, ChatRequest, ChatResult, sampling_options


class _Part(msgspec.Struct):
    text: str | None = None
    thought: bool = False


class _Content(msgspec.Struct):
    parts: list[_Part] = []


class _Candidate(msgspec.Struct):
    content: _Content | None = None
    finishReason: str | None = None  # noqa: N815 - wire name


class _Usage(msgspec.Struct):
    promptTokenCount: int | None = None  # noqa: N815
    candidatesTokenCount: int | None = None  # noqa: N815
    thoughtsTokenCount: int | None = None  # noqa: N815
    cachedContentTokenCount: int | None = None  # noqa: N815 - of promptTokenCount, read from the cache


class _Feedback(msgspec.Struct):
    blockReason: str | None = None  # noqa: N815


class _Response(msgspec.Struct):
    candidates: list[_Candidate] = []
    usageMetadata: _Usage | None = None  # noqa: N815
    modelVersion: str | None = None  # noqa: N815
    responseId: str | None = None  # noqa: N815
    promptFeedback: _Feedback | None = None  # noqa: N815


class _Model(msgspec.Struct):
    name: str


class _Models(msgspec.Struct):
    models: list[_Model] = []
    nextPageToken: str | None = None  # noqa: N815


class _Detail(msgspec.Struct):
    reason: str | None = None


class _ErrorDetail(msgspec.Struct):
    message: str | None = None
    status: str | None = None
    details: list[_Detail] = []


class _ErrorBody(msgspec.Struct):
    error: _ErrorDetail


# Finish reasons with which a candidate carries no answer because a filter withheld it
# (the API reference's FinishReason enum).
BLOCKED_FINISH = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"})


def parse_error(reply: http.Reply) -> http.UpstreamError | None:
    body = http.decode_or_none(reply, _ErrorBody)
    if body is None:
        return None
    codes = tuple(c for c in (body.error.status, *(d.reason for d in body.error.details)) if c)
    return http.UpstreamError(body.error.message or "", codes)


def _model_path(model: str) -> str:
    return quote(model.removeprefix("models/"), safe="-._")


def content_body(request: ChatRequest, model: str = "") -> dict[str, Any]:
    """A generateContent body (the Gemini API and Gemini on Vertex AI take the same one)."""
    body: dict[str, Any] = {
        "contents": [
            {"role": "model" if m.role == "assistant" else "user", "parts": parts.gemini_parts(m)}
            for m in request.messages
        ]
    }
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": request.system}]}
    config = sampling_options(request, max_tokens="maxOutputTokens", stop="stopSequences")
    thinking = _thinking_config(request, model)
    if thinking:
        config["thinkingConfig"] = thinking
    if request.response_schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = request.response_schema
    if config:
        body["generationConfig"] = config
    return body


def _thinking_config(request: ChatRequest, model: str) -> dict[str, Any]:
    """thinkingLevel for Gemini 3, thinkingBudget for 2.5 (never both: a 400); includeThoughts for
    the thought summaries."""
    config: dict[str, Any] = {}
    reasoning = model_rules.resolve("gemini", model, request.reasoning, family="gemini")
    if reasoning is not None:
        config["thinkingLevel" if reasoning.rule.control == "level" else "thinkingBudget"] = reasoning.value
    if request.include_reasoning:
        config["includeThoughts"] = True
    return config


def content_result(reply: http.Reply, requested_model: str, request: ChatRequest | None = None) -> ChatResult:
    parsed: _Response = http.convert(
        http.decode_json(reply, "generateContent output"), _Response, "generateContent output", parse_error, reply
    )
    if not parsed.candidates:
        if parsed.promptFeedback and parsed.promptFeedback.blockReason:
            raise SynapseError(
                "bad_request",
                f"the provider blocked the prompt ({parsed.promptFeedback.blockReason})",
                hint="the prompt tripped the provider's safety filter; rephrase it",
            )
        raise SynapseError("upstream_malformed", "the provider answered without any candidates")
    candidate = parsed.candidates[0]
    parts = candidate.content.parts if candidate.content else []
    if not parts and candidate.finishReason in BLOCKED_FINISH:
        raise SynapseError(
            "bad_request",
            f"the provider withheld the answer (finishReason {candidate.finishReason})",
            hint="the answer tripped the provider's safety or policy filter; rephrase the prompt",
        )
    usage = parsed.usageMetadata or _Usage()
    output = None
    if usage.candidatesTokenCount is not None or usage.thoughtsTokenCount is not None:
        output = (usage.candidatesTokenCount or 0) + (usage.thoughtsTokenCount or 0)
    thoughts = [p.text for p in parts if p.text and p.thought]
    wanted = request is not None and request.include_reasoning
    return ChatResult(
        text="".join(p.text for p in parts if p.text is not None and not p.thought),
        finish_reason=candidate.finishReason,
        model=parsed.modelVersion or requested_model,
        input_tokens=usage.promptTokenCount,
        output_tokens=output,
        request_id=parsed.responseId,
        latency_ms=round(reply.latency_ms, 3),
        reasoning_tokens=usage.thoughtsTokenCount,
        cache_read_tokens=usage.cachedContentTokenCount,
        reasoning_summary="\n\n".join(thoughts) if wanted and thoughts else None,
        reasoning_note="the model returned no thought summary for this answer" if wanted and not thoughts else None,
    )


class GeminiProvider:
    family = "gemini"
    can_check_model = True

    def auth_headers(self, ctx: CallContext) -> dict[str, str]:
        return {"x-goog-api-key": ctx.key} if ctx.key else {}

    def _fail(self, ctx: CallContext, reply: http.Reply) -> SynapseError:
        return http.http_error(reply, parse_error(reply), ctx)

    async def complete(self, ctx: CallContext, request: ChatRequest) -> ChatResult:
        url = f"{ctx.base_url}/models/{_model_path(ctx.conn.model)}:generateContent"
        reply = await http.send(ctx, "POST", url, headers=self.auth_headers(ctx),
                                json_body=content_body(request, ctx.conn.model))
        if reply.status != 200:
            raise self._fail(ctx, reply)
        return content_result(reply, ctx.conn.model, request)

    async def list_models(self, ctx: CallContext) -> list[str]:
        names: list[str] = []
        params = {"pageSize": "1000"}
        for _ in range(10):  # a bounded walk over pages; the list is a few hundred entries
            reply = await http.send(ctx, "GET", f"{ctx.base_url}/models", headers=self.auth_headers(ctx), params=params)
            if reply.status != 200:
                raise self._fail(ctx, reply)
            page: _Models = http.convert(http.decode_json(reply, "a model list"), _Models, "model list")
            names += [m.name.removeprefix("models/") for m in page.models]
            if not page.nextPageToken:
                break
            params = {"pageSize": "1000", "pageToken": page.nextPageToken}
        return names

    def matches_model(self, configured: str, listed: str) -> bool:
        return configured.removeprefix("models/") == listed.removeprefix("models/")

    async def lookup_model(self, ctx: CallContext) -> str | None:
        url = f"{ctx.base_url}/models/{_model_path(ctx.conn.model)}"
        found: _Model | None = await http.get_json(ctx, url, self.auth_headers(ctx), _Model, "a model", parse_error,
                                                   miss=LOOKUP_MISS)
        return found.name.removeprefix("models/") if found is not None else None
