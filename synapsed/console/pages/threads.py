"""Threads: the kept conversations, one read in full, and deletion."""

from __future__ import annotations

from aiohttp import web

from synapsed import protocol as p
from synapsed.console.deps import ConsoleDeps
from synapsed.console.rendering import page, redirect
from synapsed.validation import MAX_OFFSET, whole_number

PAGE_ROWS = 50


def routes(deps: ConsoleDeps) -> list[web.RouteDef]:
    async def listing(request: web.Request) -> web.Response:
        raw = request.query.get("offset", "").strip()
        offset = whole_number(raw, "offset", MAX_OFFSET) if raw else 0
        result: p.ThreadList = await deps.call("threads.list", p.ThreadListParams(limit=PAGE_ROWS, offset=offset))
        return page(request, "threads.html", section="threads", threads=result, notice=request.query.get("notice", ""))

    async def read(request: web.Request) -> web.Response:
        view: p.ThreadView = await deps.call("threads.get", p.ThreadIdParams(id=request.match_info["id"]))
        return page(request, "thread.html", section="threads", thread=view)

    async def delete(request: web.Request) -> web.Response:
        result: p.ThreadDeleteResult = await deps.call("threads.delete", p.ThreadIdParams(id=request.match_info["id"]))
        return redirect("/console/threads?notice=" + ("deleted" if result.deleted else "gone"))

    return [
        web.get("/threads", listing),
        web.get("/threads/{id}", read),
        web.post("/threads/{id}/delete", delete),
    ]
