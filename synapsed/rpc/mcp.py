"""mcp.* methods: who is connected, and token rotation. The token itself never travels over RPC:
synapsectl reads the 0600 token file, which only the same user can."""

from __future__ import annotations

from synapsed import protocol as p
from synapsed.rpc.dispatch import Method
from synapsed.services import Services


def methods(services: Services) -> dict[str, Method]:
    async def sessions(_: p.NoParams) -> p.McpSessionList:
        return p.McpSessionList(sessions=services.sessions.list(), idle_timeout_s=services.sessions.idle_timeout_s)

    async def rotate(_: p.NoParams) -> p.TokenRotated:
        services.runtime.rotate_mcp_token()
        return p.TokenRotated(token_file=str(services.paths.token_file), rotated=True)

    return {
        "mcp.sessions": Method(p.NoParams, sessions),
        "mcp.token_rotate": Method(p.NoParams, rotate),
    }
