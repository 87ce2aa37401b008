"""Custom REST gateways: the request and the reading of its reply come from the connection's
options (synapsed/custom_rest.py parses and checks them). One request per call, as for every
provider; preflight's free check is an optional GET of check_url, never the chat endpoint.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from synapsed import custom_rest
from synapsed.errors import SynapseError
from synapsed.providers import http
from synapsed.providers.base import CallContext, ChatRequest, ChatResult


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


# JMESPath runs in pure Python: an expression such as a projection of sorts over a 2 MB reply takes
# seconds. It runs here, off the event loop, on two threads of its own (a runaway one cannot take
# the default pool keyring and file reads use), and the call stops waiting after this long. A
# thread cannot be stopped: one still running keeps its worker until it ends.
EXPRESSION_TIMEOUT_S = 2.0
_EXPRESSIONS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="synapse-jmespath")


async def _search_all(spec: custom_rest.RestSpec, names: tuple[str, ...], document: Any) -> dict[str, Any]:
    """Every named expression over the reply, off the loop, within EXPRESSION_TIMEOUT_S."""
    wanted = tuple(n for n in names if n in spec.expressions)
    if not wanted:
        return {}
    future = asyncio.get_running_loop().run_in_executor(
        _EXPRESSIONS, lambda: {n: custom_rest.search(spec, n, document) for n in wanted})
    try:
        return await asyncio.wait_for(future, EXPRESSION_TIMEOUT_S)
    except TimeoutError:
        raise SynapseError(
            "upstream_malformed",
            f"reading the gateway's reply with the {', '.join(wanted)} expression(s) took over {EXPRESSION_TIMEOUT_S:g} s",
            hint="simplify the expressions (`synapsectl connections edit NAME --option answer=...`): "
                 "a direct path such as output.text reads any reply at once",
        ) from None
    except Exception as exc:  # a JMESPath function applied to the wrong type (JMESPathTypeError)
        raise SynapseError(
            "upstream_malformed",
            f"the {', '.join(wanted)} expression(s) failed on the gateway's reply ({type(exc).__name__})",
            hint="check the expressions against a real reply; the gateway's docs show its shape",
        ) from None


class CustomRestProvider:
    family = "custom-rest"
    can_check_model = False

    def spec(self, ctx: CallContext) -> custom_rest.RestSpec:
        return custom_rest.parse_spec(ctx.conn.options)

    def _headers(self, ctx: CallContext, spec: custom_rest.RestSpec) -> dict[str, str]:
        if spec.uses_key and not ctx.key:
            raise SynapseError("credential_missing", f"the headers of {ctx.name!r} use {{key}} but no key is stored",
                               hint=f"store it with `synapsectl key set {ctx.name}` (or point --credential at env:VAR)")
        return custom_rest.render_headers(spec, ctx.key)

    def auth_headers(self, ctx: CallContext) -> dict[str, str]:
        return self._headers(ctx, self.spec(ctx))

    async def _error_message(self, spec: custom_rest.RestSpec, reply: http.Reply) -> http.UpstreamError | None:
        document = http.decode_or_none(reply)
        found = _text((await _search_all(spec, ("error",), document)).get("error")) if document is not None else None
        if found:
            return http.UpstreamError(found)
        if isinstance(document, dict):  # the common shapes, when no error expression is set
            raw = document.get("error", document.get("message", document.get("detail")))
            if isinstance(raw, dict):
                raw = raw.get("message")
            if isinstance(raw, str):
                return http.UpstreamError(raw)
        return None

    async def complete(self, ctx: CallContext, request: ChatRequest) -> ChatResult:
        spec = self.spec(ctx)
        body = custom_rest.render_body(spec, request, ctx.conn.model)
        reply = await http.send(ctx, spec.method, ctx.base_url, headers=self._headers(ctx, spec), json_body=body)
        if not 200 <= reply.status < 300:
            raise http.http_error(reply, await self._error_message(spec, reply), ctx)
        document = http.decode_json(reply, "the gateway's JSON reply")
        found = await _search_all(spec, ("error", "answer", "input_tokens", "output_tokens"), document)
        error = _text(found.get("error"))
        if error:
            raise SynapseError("upstream_error", f"the gateway answered {reply.status} with an error: {http.upstream_text(error)}",
                               hint="the gateway reported a failure in its body (the error expression found it)",
                               status=reply.status)
        answer = _text(found.get("answer"))
        if answer is None:
            raise SynapseError(
                "upstream_malformed",
                f"the answer expression {spec.sources['answer']!r} found no text in the gateway's reply",
                hint="check the answer option against a real reply (`synapsectl test NAME hi --json` shows the error;"
                     " the gateway's docs show its reply shape)",
            )
        return ChatResult(
            text=answer,
            finish_reason=None,
            model=ctx.conn.model,
            input_tokens=_count(found.get("input_tokens")),
            output_tokens=_count(found.get("output_tokens")),
            request_id=reply.header("x-request-id"),
            latency_ms=round(reply.latency_ms, 3),
        )

    async def check_auth(self, ctx: CallContext) -> tuple[str, str | None]:
        spec = self.spec(ctx)
        headers = self._headers(ctx, spec)
        if spec.check_url is None:
            return ("no free check configured (option check_url); the key and template are checked by --probe", None)
        reply = await http.send(ctx, "GET", spec.check_url, headers=headers)
        if not 200 <= reply.status < 300:
            raise http.http_error(reply, await self._error_message(spec, reply), ctx)
        return f"GET {spec.check_url} answered {reply.status} with these headers (free)", None

    async def list_models(self, ctx: CallContext) -> list[str]:
        return []

    def matches_model(self, configured: str, listed: str) -> bool:
        return configured == listed

    async def lookup_model(self, ctx: CallContext) -> str | None:
        return None
