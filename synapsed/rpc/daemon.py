"""daemon.* methods: status, reload, shutdown."""

from __future__ import annotations

import asyncio
import os

from synapsed import __version__, event_loop
from synapsed import protocol as p
from synapsed.logging import get_logger
from synapsed.rpc.dispatch import Method
from synapsed.services import Services

log = get_logger("synapsed.rpc.daemon")


def methods(services: Services) -> dict[str, Method]:
    paths = services.paths
    runtime = services.runtime
    paths_view = p.PathsView(
        config_file=str(paths.config_file),
        state_dir=str(paths.state_dir),
        runtime_dir=str(paths.runtime_dir),
        socket=str(paths.socket),
        log_file=str(paths.log_file),
    )

    async def status(_: p.NoParams) -> p.DaemonStatus:
        config = services.config.config
        return p.DaemonStatus(
            version=__version__,
            pid=os.getpid(),
            started_at=runtime.started_at,
            uptime_s=round(runtime.uptime_s, 3),
            config_revision=config.revision,
            connections=len(config.connections),
            enabled_connections=sum(1 for c in config.connections.values() if c.enabled),
            rpc_requests=runtime.rpc_requests,
            paths=paths_view,
            keyring=p.KeyringView(*await runtime.keyring()),
            log_level=runtime.log_level,
            mcp=runtime.mcp_view(),
            ledger_rows=services.ledger.rows_written,
            ledger_write_errors=services.ledger.write_errors,
            event_loop=event_loop.running_name(),
            restart_needed=runtime.restart_needed(),
        )

    async def reload(_: p.NoParams) -> p.ReloadResult:
        return await runtime.reload()

    async def shutdown(_: p.NoParams) -> p.ShutdownResult:
        log.info("shutdown requested over rpc")
        # Let the reply leave before the listeners close.
        asyncio.get_running_loop().call_soon(runtime.request_stop)
        return p.ShutdownResult(stopping=True)

    return {
        "daemon.status": Method(p.NoParams, status),
        "daemon.reload": Method(p.NoParams, reload),
        "daemon.shutdown": Method(p.NoParams, shutdown),
    }
