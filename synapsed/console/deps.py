"""What console pages may use: the RPC method table (so a form runs exactly the code a
`synapsectl` command runs), the login/session store, and a few facts of the running daemon."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from synapsed import protocol as p
from synapsed.console.auth import ConsoleAuth
from synapsed.rpc.dispatch import Method, Progress


async def _no_progress(_method: str, _params: Any) -> None:
    return None


@dataclass(frozen=True)
class ConsoleDeps:
    auth: ConsoleAuth
    methods: Mapping[str, Method]
    state_dir: Path  # where a download is staged before it is sent
    mcp_view: Callable[[], p.McpView | None]
    port: Callable[[], int]  # the listener's real port, for the Host and Origin checks
    home: str | None  # the daemon's explicit home, which stdio snippets must carry

    async def call(self, method: str, params: msgspec.Struct | None = None, progress: Progress | None = None) -> Any:
        """Run one RPC method's handler with typed params; SynapseError propagates as it would to RPC."""
        entry = self.methods[method]
        typed = params if params is not None else entry.params()
        if entry.streams:
            return await entry.handler(typed, progress or _no_progress)
        return await entry.handler(typed)

    async def connection_names(self) -> list[str]:
        """The configured connections, for the pickers on the preflight and prompt pages."""
        listing: p.ConnectionList = await self.call("connections.list", p.ListParams(with_keys=False))
        return [c.name for c in listing.connections]
