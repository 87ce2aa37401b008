"""The console's aiohttp application, mounted by the MCP listener under /console/.

Order of the middlewares: the guard (Host, session, Origin + CSRF) decides whether a request
is looked at at all; the error page turns a SynapseError a page did not handle into its kind
and hint; security headers go on every response, refusals and static files included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from synapsed.console.deps import ConsoleDeps
from synapsed.console.guards import add_security_headers, guard
from synapsed.console.pages import connections, ides, login, preflight, prompt, threads, usage
from synapsed.console.rendering import STATIC, page, redirect
from synapsed.errors import SynapseError, internal_error
from synapsed.logging import get_logger

log = get_logger("synapsed.console")
PAGES = (login, connections, preflight, prompt, usage, ides, threads)
STATUS_OF_KIND = {"not_found": 404, "already_exists": 409, "conflict": 409, "bad_request": 400,
                  "config_invalid": 400, "base_url_invalid": 400, "internal": 500}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except SynapseError as exc:
        return page(request, "error.html", error=exc, status=STATUS_OF_KIND.get(exc.kind, 502))
    except Exception:
        failure = internal_error(log, f"console {request.method} {request.path}")
        return page(request, "error.html", error=failure, status=500)


def build(deps: ConsoleDeps) -> web.Application:
    app = web.Application(middlewares=[guard(deps.auth, deps.port), error_pages])
    app.on_response_prepare.append(add_security_headers)

    async def index(_request: web.Request) -> web.Response:
        return redirect("/console/connections")

    app.router.add_get("/", index)
    for module in PAGES:
        app.add_routes(module.routes(deps))
    app.router.add_static("/static/", STATIC, append_version=False)
    return app
