"""Test prompt: one prompt through one connection, answered with its text, tokens, latency,
cost and where that cost came from (the guide's "send a simple test prompt")."""

from __future__ import annotations

from aiohttp import web

from synapsed import protocol as p
from synapsed.console import forms
from synapsed.console.deps import ConsoleDeps
from synapsed.console.rendering import FieldErrors, page
from synapsed.errors import SynapseError
from synapsed.validation import MAX_OUTPUT_TOKENS, whole_number

DEFAULT_PROMPT = "Reply with one short sentence: are you there?"


def routes(deps: ConsoleDeps) -> list[web.RouteDef]:
    async def form_page(request: web.Request) -> web.Response:
        return page(request, "prompt.html", section="prompt", names=await deps.connection_names(),
                    values={"connection": request.query.get("connection", ""), "prompt": DEFAULT_PROMPT,
                            "max_output_tokens": "", "reasoning": ""},
                    answer=None, errors=FieldErrors())

    async def send(request: web.Request) -> web.Response:
        form = await request.post()
        values = {k: forms.text(form, k) for k in ("connection", "prompt", "max_output_tokens", "reasoning")}
        answer: p.ChatCompletion | None = None
        errors = FieldErrors()
        try:
            limit = values["max_output_tokens"]
            tokens = whole_number(limit, "max_output_tokens", MAX_OUTPUT_TOKENS) if limit else None
            if not values["prompt"]:
                raise SynapseError("bad_request", "the prompt is empty", hint="type a short question", field="prompt")
            answer = await deps.call("chat.complete", p.ChatParams(
                name=values["connection"], prompt=values["prompt"],
                max_output_tokens=tokens, reasoning=values["reasoning"] or None))  # type: ignore[arg-type]
        except SynapseError as exc:
            errors = FieldErrors(exc)
        return page(request, "prompt.html", section="prompt", names=await deps.connection_names(), values=values, answer=answer,
                    errors=errors, status=422 if errors.field in ("prompt", "max_output_tokens", "reasoning") else 200)

    return [web.get("/prompt", form_page), web.post("/prompt", send)]
