"""The dependencies a handler may use, as one frozen record built by app.py.

RPC method groups and the MCP service receive `Services`, never the daemon: a handler's file
shows what it may touch, and nothing below app.py needs to import app.py. What only the running
daemon can answer (its start time, the reload and stop controls, the MCP listener's state) sits
behind the small `Runtime` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from synapsed import protocol as p
from synapsed.config.store import ConfigStore
from synapsed.console.auth import ConsoleAuth
from synapsed.gateway import Gateway
from synapsed.mcp.sessions import SessionRegistry
from synapsed.paths import Paths
from synapsed.preflight import LastResults
from synapsed.threads.rules import Threads
from synapsed.usage.ledger import Ledger
from synapsed.usage.meter import Meter


class Runtime(Protocol):
    """Facts and controls of the running daemon that handlers may read or trigger."""

    @property
    def started_at(self) -> str: ...

    @property
    def uptime_s(self) -> float: ...

    @property
    def log_level(self) -> str: ...

    async def keyring(self) -> tuple[str, bool]: ...

    @property
    def rpc_requests(self) -> int: ...

    def mcp_view(self) -> p.McpView | None: ...

    def rotate_mcp_token(self) -> None: ...

    async def reload(self) -> p.ReloadResult: ...

    def restart_needed(self) -> list[str]: ...

    def request_stop(self) -> None: ...


@dataclass(frozen=True)
class Services:
    paths: Paths
    config: ConfigStore
    gateway: Gateway
    meter: Meter
    ledger: Ledger
    preflight_results: LastResults
    sessions: SessionRegistry
    threads: Threads
    console: ConsoleAuth
    runtime: Runtime
