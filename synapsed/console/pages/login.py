"""Login by one-time link, and logout.

`synapsectl console` hands the browser /console/login#TOKEN. The token sits in the fragment,
which browsers never send; login.js strips it from the address bar and history, then POSTs it
here once. A second use, a late use or a guess all get the same 403.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from synapsed.console.auth import LINK_TTL_S
from synapsed.console.deps import ConsoleDeps
from synapsed.console.guards import COOKIE, COOKIE_PATH, LOGIN_PATH, session_of
from synapsed.console.rendering import page, redirect
from synapsed.json_input import MALFORMED
from synapsed.logging import get_logger

log = get_logger("synapsed.console")
MAX_TOKEN_CHARS = 256


class _Login(msgspec.Struct):
    token: str


def routes(deps: ConsoleDeps) -> list[web.RouteDef]:
    async def login_page(request: web.Request) -> web.Response:
        return page(request, "login.html", ended=request.query.get("ended") == "1",
                    signed_out=request.query.get("out") == "1")

    async def login(request: web.Request) -> web.Response:
        try:
            body = msgspec.json.decode(await request.read(), type=_Login)
        except MALFORMED:
            return web.json_response({"ok": False, "message": "send {\"token\": \"…\"} as JSON"}, status=400)
        session = deps.auth.redeem(body.token[:MAX_TOKEN_CHARS])
        if session is None:
            log.warning("console login refused: link unknown, used or expired")
            return web.json_response(
                {"ok": False, "message": "This login link was already used or has expired.",
                 "hint": f"run `synapsectl console` again for a new one (links work once, for {LINK_TTL_S:g} seconds)"},
                status=403,
            )
        log.info("console login", sessions=len(deps.auth))
        response = web.json_response({"ok": True, "next": "/console/connections"})
        response.set_cookie(COOKIE, session.id, path=COOKIE_PATH, httponly=True, samesite="Strict",
                            max_age=int(deps.auth.max_age_s))
        return response

    async def logout(request: web.Request) -> web.Response:
        session = session_of(request)
        if session is not None:
            deps.auth.end(session)
        response = redirect(LOGIN_PATH + "?out=1")
        response.del_cookie(COOKIE, path=COOKIE_PATH)
        return response

    return [
        web.get("/login", login_page),
        web.post("/login", login),
        web.post("/logout", logout),
    ]
