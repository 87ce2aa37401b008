"""The console's gatekeeping, in front of every page: the MCP listener's Host check (DNS
rebinding), the session cookie, same-origin POSTs with a CSRF token, and the response headers
that keep pages out of frames, caches and Referers.

The MCP bearer token is never looked at here, and the console cookie is never looked at by
the MCP handler: one credential cannot stand in for the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from synapsed.console.auth import ConsoleAuth, ConsoleSession
from synapsed.json_input import encoded_body
from synapsed.mcp.security import host_ok

COOKIE = "synapse_console"
COOKIE_PATH = "/console"
PREFIX = COOKIE_PATH + "/"  # where the MCP listener mounts the console
LOGIN_PATH = PREFIX + "login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
# Reachable without a session: the login page and what it loads.
PUBLIC = (LOGIN_PATH, PREFIX + "static/")

SECURITY_HEADERS = {
    # No data: images (nothing of ours uses them); docs/console.md lists these verbatim (a test holds it).
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def same_origin(request: web.Request, port: int) -> bool:
    """A state change must come from a page of ours: Origin present, loopback, and the very
    origin this request is addressed to.

    Our pages send `Referrer-Policy: no-referrer`, under which browsers give a form POST the
    opaque `Origin: null`. Then only `Sec-Fetch-Site: same-origin` counts as proof: browsers set
    that header themselves and page script cannot. A cross-site page that also hides its origin
    arrives with `cross-site` and is refused."""
    origin = request.headers.get("Origin")
    if origin == "null":
        return request.headers.get("Sec-Fetch-Site") == "same-origin"
    if not origin:
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme == "http" and host_ok(parts.netloc, port) and parts.netloc.lower() == (request.host or "").lower()


def session_of(request: web.Request) -> ConsoleSession | None:
    session = request.get("console_session")
    return session if isinstance(session, ConsoleSession) else None


def refuse(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


def guard(auth: ConsoleAuth, port: Callable[[], int]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not auth.enabled():
            return refuse(404, "the web console is turned off ([console] enabled = false in config.toml)")
        if not host_ok(request.host, port()):
            return refuse(403, "forbidden: this console answers only on its loopback address")
        if request.method not in ("GET", "HEAD", "POST"):
            return refuse(405, "method not allowed")
        if encoded_body(request.headers.get("Content-Encoding")):
            return refuse(415, "compressed request bodies are not accepted")
        session = auth.session(request.cookies.get(COOKIE))
        request["console_session"] = session
        public = request.path.startswith(PUBLIC)
        if request.method == "POST":
            if not same_origin(request, port()):
                return refuse(403, "forbidden: cross-origin request refused")
            if not public:
                if session is None:
                    return refuse(403, "forbidden: your console session ended; run `synapsectl console` again")
                presented = request.headers.get(CSRF_HEADER)
                if presented is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                    form = await request.post()
                    value = form.get(CSRF_FIELD)
                    presented = value if isinstance(value, str) else None
                if not auth.csrf_ok(session, presented):
                    return refuse(403, "forbidden: missing or wrong CSRF token; reload the page and try again")
        elif session is None and not public:
            raise web.HTTPSeeOther(LOGIN_PATH + "?ended=1")
        return await handler(request)

    return middleware


async def add_security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
