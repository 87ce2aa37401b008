"""IDEs: the MCP sessions connected now, a ready-to-paste config for each supported IDE, and
token rotation.

The snippets are the stdio form (`synapsectl mcp stdio`), which needs no token: the MCP bearer
token is never rendered into a page. HTTP users run `synapsectl mcp install --client IDE`, which writes
the token into the IDE's file directly.
"""

from __future__ import annotations

from aiohttp import web

from synapsed import ide_config
from synapsed import protocol as p
from synapsed.console.deps import ConsoleDeps
from synapsed.console.rendering import page, redirect

LABELS = {
    "claude-code": "Claude Code",
    "cursor": "Cursor",
    "vscode": "VS Code",
    "windsurf": "Windsurf",
    "codex": "Codex",
    "claude-desktop": "Claude Desktop",
    "generic": "Any MCP client",
}


def snippets(home: str | None) -> list[tuple[str, str, str, str]]:
    """(client id, label, snippet, where it goes) for every supported IDE."""
    out = []
    for client in ide_config.CLIENTS:
        text, where = ide_config.render(client, url=None, token=None, connection=None, stdio=True, home=home)
        out.append((client, LABELS.get(client, client), text, where))
    return out


def routes(deps: ConsoleDeps) -> list[web.RouteDef]:
    async def ides(request: web.Request) -> web.Response:
        sessions: p.McpSessionList = await deps.call("mcp.sessions")
        return page(request, "ides.html", section="ides", sessions=sessions.sessions, mcp=deps.mcp_view(),
                    snippets=snippets(deps.home), rotated=request.query.get("notice") == "rotated")

    async def rotate(request: web.Request) -> web.Response:
        await deps.call("mcp.token_rotate")
        return redirect("/console/ides?notice=rotated")

    return [web.get("/ides", ides), web.post("/ides/rotate-token", rotate)]
