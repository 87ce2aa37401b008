"""chat.complete: one non-streaming request through a connection (what `synapsectl test` uses)."""

from __future__ import annotations

from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.gateway import build_chat_request
from synapsed.rpc.dispatch import Method
from synapsed.services import Services


def to_request(params: p.ChatParams) -> p.ChatRequest:
    if (params.prompt is None) == (params.messages is None):
        raise SynapseError("bad_request", "give exactly one of prompt or messages",
                           hint='e.g. {"name": "gpt", "prompt": "hi"}')
    messages = params.messages if params.messages is not None else [p.Message("user", params.prompt or "")]
    return build_chat_request(messages, params.system, params.max_output_tokens, params.temperature, params.stop,
                              reasoning=params.reasoning, include_reasoning=params.include_reasoning,
                              response_schema=params.response_schema)


def methods(services: Services) -> dict[str, Method]:
    async def complete(params: p.ChatParams) -> p.ChatCompletion:
        request = to_request(params)
        conn, result = await services.gateway.complete(params.name, request)
        return p.ChatCompletion(connection=params.name, provider=conn.provider, result=result)

    return {"chat.complete": Method(p.ChatParams, complete)}
