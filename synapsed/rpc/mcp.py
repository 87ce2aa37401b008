"""mcp.* methods: who is connected, and token rotation. The token itself never travels over RPC:
synapsectl reads the 0600 token file, which only the same user can."""

from __future__ import annotations

from typing import TYPE_CHECKING

from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.rpc.dispatch import Method

if TYPE_CHECKING:
    from synapsed.app import Daemon
    from synapsed.mcp.service import McpService


def methods(daemon: Daemon) -> dict[str, Method]:
    def service() -> McpService:
        if daemon.mcp is None:
            raise SynapseError("internal", "the MCP service is not running yet", hint="it starts a moment after the daemon; check `synapsectl logs` if this persists")
        return daemon.mcp

    async def sessions(_: p.NoParams) -> p.McpSessionList:
        return p.McpSessionList(sessions=service().sessions.list())

    async def rotate(_: p.NoParams) -> p.TokenRotated:
        mcp = service()
        mcp.rotate_token()
        return p.TokenRotated(token_file=str(daemon.paths.token_file), rotated=True)

    return {
        "mcp.sessions": Method(p.NoParams, sessions),
        "mcp.token_rotate": Method(p.NoParams, rotate),
    }
