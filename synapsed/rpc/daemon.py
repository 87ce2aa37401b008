"""daemon.* methods: status, reload, shutdown."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

from synapsed import __version__
from synapsed import protocol as p
from synapsed.rpc.dispatch import Method

if TYPE_CHECKING:
    from synapsed.app import Daemon


def methods(daemon: Daemon) -> dict[str, Method]:
    paths = daemon.paths
    paths_view = p.PathsView(
        config_file=str(paths.config_file),
        state_dir=str(paths.state_dir),
        runtime_dir=str(paths.runtime_dir),
        socket=str(paths.socket),
        log_file=str(paths.log_file),
    )

    async def status(_: p.NoParams) -> p.DaemonStatus:
        config = daemon.config_store.config
        return p.DaemonStatus(
            version=__version__,
            pid=os.getpid(),
            started_at=daemon.started_at_iso,
            uptime_s=round(time.monotonic() - daemon.started_monotonic, 3),
            config_revision=config.revision,
            connections=len(config.connections),
            enabled_connections=sum(1 for c in config.connections.values() if c.enabled),
            rpc_requests=daemon.dispatcher.calls,
            paths=paths_view,
            keyring=p.KeyringView(*daemon.keyring),
            log_level=daemon.log_level,
            mcp=daemon.mcp.view() if daemon.mcp is not None else None,
            ledger_rows=daemon.ledger.rows_written,
            ledger_write_errors=daemon.ledger.write_errors,
        )

    async def reload(_: p.NoParams) -> p.ReloadResult:
        return await daemon.reload()

    async def shutdown(_: p.NoParams) -> p.ShutdownResult:
        daemon.log.info("shutdown requested over rpc")
        # Let the reply leave before the listeners close.
        asyncio.get_running_loop().call_soon(daemon.request_stop)
        return p.ShutdownResult(stopping=True)

    return {
        "daemon.status": Method(p.NoParams, status),
        "daemon.reload": Method(p.NoParams, reload),
        "daemon.shutdown": Method(p.NoParams, shutdown),
    }
