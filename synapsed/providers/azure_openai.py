"""Azure OpenAI: the OpenAI wire format at a deployment URL, `api-key` header, `api-version` query.

POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=V
GET  {endpoint}/openai/models?api-version=V (authentication check; deployments are not listable
with the key, so the deployment itself is only confirmed by the opt-in completion probe).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec

from synapsed import model_rules
from synapsed.providers import http, responses
from synapsed.providers.base import CallContext, ChatRequest, ChatResult
from synapsed.providers.openai import REASONING_MODEL, _Models, chat_body, completion_result, parse_error, reasoning_note


def deployment_body(ctx: CallContext, request: ChatRequest) -> dict[str, Any]:
    """The OpenAI chat body without the model (the deployment in the URL selects it); older
    api-versions know only max_tokens, so reasoning models alone get max_completion_tokens."""
    field = "max_completion_tokens" if REASONING_MODEL.match(ctx.conn.model) else "max_tokens"
    body = chat_body(ctx, request, field)
    body.pop("model")
    return body


class AzureOpenAIProvider:
    family = "azure-openai"
    can_check_model = False

    def auth_headers(self, ctx: CallContext) -> dict[str, str]:
        return {"api-key": ctx.key} if ctx.key else {}

    def _params(self, ctx: CallContext) -> dict[str, str]:
        return {"api-version": ctx.conn.options["api_version"]}

    async def complete(self, ctx: CallContext, request: ChatRequest) -> ChatResult:
        if model_rules.endpoint_for(ctx.conn.provider, ctx.conn.model) == "responses":
            # https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/responses
            return await responses.complete(ctx, request, f"{ctx.base_url}/openai/responses", self.auth_headers(ctx),
                                            params=self._params(ctx), model=ctx.conn.options["deployment"])
        deployment = quote(ctx.conn.options["deployment"], safe="")
        body = deployment_body(ctx, request)
        reply = await http.send(
            ctx,
            "POST",
            f"{ctx.base_url}/openai/deployments/{deployment}/chat/completions",
            headers=self.auth_headers(ctx),
            params=self._params(ctx),
            json_body=body,
        )
        if reply.status != 200:
            raise http.http_error(reply, parse_error(reply), ctx, model=ctx.conn.options["deployment"])
        result = completion_result(reply, ctx.conn.model)
        note = reasoning_note(request, "Chat Completions")
        return msgspec.structs.replace(result, reasoning_note=note) if note else result

    async def list_models(self, ctx: CallContext) -> list[str]:
        reply = await http.send(ctx, "GET", f"{ctx.base_url}/openai/models", headers=self.auth_headers(ctx), params=self._params(ctx))
        if reply.status != 200:
            raise http.http_error(reply, parse_error(reply), ctx)
        models: _Models = http.convert(http.decode_json(reply, "a model list"), _Models, "model list")
        return [m.id for m in models.data]

    def matches_model(self, configured: str, listed: str) -> bool:
        return configured == listed

    async def lookup_model(self, ctx: CallContext) -> str | None:
        return None  # a deployment is only confirmed by the opt-in probe
