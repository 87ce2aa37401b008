"""Preflight: run one connection or all, and watch each stage arrive as it finishes.

The page's script POSTs and reads newline-delimited JSON (one line per finished check, then the
result); without the script the same POST answers with the finished report as a page.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from synapsed import protocol as p
from synapsed.console.deps import ConsoleDeps
from synapsed.console.rendering import page
from synapsed.errors import SynapseError
from synapsed.json_input import MALFORMED
from synapsed.redaction import redact_text

NDJSON = "application/x-ndjson"
_encode = msgspec.json.Encoder().encode


def params_of(form: Any) -> p.PreflightParams:
    target = str(form.get("target") or "")
    probe = form.get("probe") in (True, "on", "true", "1")
    if target in ("", "*"):
        return p.PreflightParams(all=True, probe=probe)
    return p.PreflightParams(name=target, probe=probe)


def routes(deps: ConsoleDeps) -> list[web.RouteDef]:
    async def form_page(request: web.Request) -> web.Response:
        return page(request, "preflight.html", section="preflight", names=await deps.connection_names(),
                    target=request.query.get("connection", "*"), result=None, error=None)

    async def streamed(request: web.Request, params: p.PreflightParams) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": NDJSON})
        await response.prepare(request)

        async def on_check(_method: str, data: Any) -> None:
            await response.write(_encode({"type": "check", **data}) + b"\n")

        try:
            result: p.PreflightResult = await deps.call("preflight.run", params, on_check)
            await response.write(_encode({"type": "result", "result": result}) + b"\n")
        except SynapseError as exc:
            await response.write(_encode({"type": "error", "message": redact_text(exc.message), **exc.to_data()}) + b"\n")
        await response.write_eof()
        return response

    async def run(request: web.Request) -> web.StreamResponse:
        if request.content_type == "application/json":
            try:
                params = params_of(msgspec.json.decode(await request.read(), type=dict[str, Any]))
            except MALFORMED:
                return web.json_response({"type": "error", "kind": "bad_request", "message": "send JSON"}, status=400)
            return await streamed(request, params)
        form = await request.post()
        params = params_of(form)
        result: p.PreflightResult | None = None
        error: SynapseError | None = None
        try:
            result = await deps.call("preflight.run", params)
        except SynapseError as exc:
            error = exc
        return page(request, "preflight.html", section="preflight", names=await deps.connection_names(),
                    target=str(form.get("target") or "*"), result=result, error=error)

    return [web.get("/preflight", form_page), web.post("/preflight/run", run)]
