"""Ollama's native API: POST {base}/api/chat with stream=false, GET {base}/api/tags. No key needed.

Errors: {"error": "model \"x\" not found, try pulling it first"} (404 for a missing model).
"""

from __future__ import annotations

from typing import Any

import msgspec

from synapsed.providers import http
from synapsed.providers.base import LOOKUP_MISS, CallContext, ChatRequest, ChatResult, sampling_options


class _Message(msgspec.Struct):
    content: str = ""


class _Chat(msgspec.Struct):
    message: _Message
    model: str
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None


class _Tag(msgspec.Struct):
    name: str


class _Tags(msgspec.Struct):
    models: list[_Tag] = []


def parse_error(reply: http.Reply) -> http.UpstreamError | None:
    raw = http.decode_or_none(reply)
    if isinstance(raw, dict) and isinstance(raw.get("error"), str):
        return http.UpstreamError(raw["error"])
    return None


def same_model(configured: str, listed: str) -> bool:
    """Ollama names default their tag to :latest."""
    return configured == listed or (":" not in configured and listed == f"{configured}:latest")


class OllamaProvider:
    family = "ollama"
    can_check_model = True

    def auth_headers(self, ctx: CallContext) -> dict[str, str]:
        # A reverse proxy in front of Ollama may want a bearer token; plain Ollama ignores it.
        return {"Authorization": f"Bearer {ctx.key}"} if ctx.key else {}

    async def complete(self, ctx: CallContext, request: ChatRequest) -> ChatResult:
        messages: list[dict[str, Any]] = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m.role, "content": m.as_text(), **({"images": [i.data for i in m.images]} if m.images else {})}
                     for m in request.messages]
        options = sampling_options(request, max_tokens="num_predict", stop="stop")
        body: dict[str, Any] = {"model": ctx.conn.model, "messages": messages, "stream": False}
        if options:
            body["options"] = options
        if request.response_schema is not None:
            body["format"] = request.response_schema  # https://docs.ollama.com/capabilities/structured-outputs
        reply = await http.send(ctx, "POST", f"{ctx.base_url}/api/chat", headers=self.auth_headers(ctx), json_body=body)
        if reply.status != 200:
            raise http.http_error(reply, parse_error(reply), ctx)
        chat: _Chat = http.convert(http.decode_json(reply, "a chat response"), _Chat, "chat response", parse_error, reply)
        return ChatResult(
            text=chat.message.content,
            finish_reason=chat.done_reason,
            model=chat.model,
            input_tokens=chat.prompt_eval_count,
            output_tokens=chat.eval_count,
            latency_ms=round(reply.latency_ms, 3),
        )

    async def list_models(self, ctx: CallContext) -> list[str]:
        reply = await http.send(ctx, "GET", f"{ctx.base_url}/api/tags", headers=self.auth_headers(ctx))
        if reply.status != 200:
            raise http.http_error(reply, parse_error(reply), ctx)
        tags: _Tags = http.convert(http.decode_json(reply, "a model list"), _Tags, "model list")
        return [t.name for t in tags.models]

    def matches_model(self, configured: str, listed: str) -> bool:
        return same_model(configured, listed)

    async def lookup_model(self, ctx: CallContext) -> str | None:
        # /api/show answers for a pulled model; a bare name means its :latest tag.
        reply = await http.send(ctx, "POST", f"{ctx.base_url}/api/show", headers=self.auth_headers(ctx),
                                json_body={"model": ctx.conn.model})
        if reply.status in LOOKUP_MISS:
            return None
        if reply.status != 200:
            raise http.http_error(reply, parse_error(reply), ctx)
        model = ctx.conn.model
        return model if ":" in model else f"{model}:latest"
