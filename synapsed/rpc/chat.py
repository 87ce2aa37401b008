"""chat.complete: one non-streaming request through a connection (what `synapsectl test` uses)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.rpc.dispatch import Method

if TYPE_CHECKING:
    from synapsed.app import Daemon

MAX_PROMPT_CHARS = 200_000


def to_request(params: p.ChatParams) -> p.ChatRequest:
    if (params.prompt is None) == (params.messages is None):
        raise SynapseError("bad_request", "give exactly one of prompt or messages", hint="e.g. {\"name\": \"gpt\", \"prompt\": \"hi\"}")
    messages = params.messages if params.messages is not None else [p.Message("user", params.prompt or "")]
    if not messages or not any(m.content.strip() for m in messages):
        raise SynapseError("bad_request", "the prompt is empty", hint="send some text to ask")
    if messages[-1].role != "user":
        raise SynapseError("bad_request", "the last message must be from the user", hint="end the messages list with a user turn")
    if sum(len(m.content) for m in messages) + len(params.system or "") > MAX_PROMPT_CHARS:
        raise SynapseError("context_too_long", f"the prompt exceeds {MAX_PROMPT_CHARS} characters", hint="shorten it")
    if params.max_output_tokens is not None and params.max_output_tokens < 1:
        raise SynapseError("bad_request", "max_output_tokens must be at least 1", field="max_output_tokens")
    if params.temperature is not None and not 0 <= params.temperature <= 2:
        raise SynapseError("bad_request", "temperature must be between 0 and 2", field="temperature")
    return p.ChatRequest(
        messages=messages,
        system=params.system,
        max_output_tokens=params.max_output_tokens,
        temperature=params.temperature,
        stop=params.stop,
    )


def methods(daemon: Daemon) -> dict[str, Method]:
    async def complete(params: p.ChatParams) -> p.ChatCompletion:
        request = to_request(params)
        conn, result = await daemon.gateway.complete(params.name, request, caller="synapsectl")
        return p.ChatCompletion(connection=params.name, provider=conn.provider, result=result)

    return {"chat.complete": Method(p.ChatParams, complete)}
