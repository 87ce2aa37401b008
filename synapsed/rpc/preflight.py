"""preflight.run: staged checks for one connection or all of them, streamed as they complete."""

from __future__ import annotations

import msgspec

from synapsed import preflight
from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.rpc.dispatch import Method, Progress
from synapsed.services import Services

log = get_logger("synapsed.rpc.preflight")


def methods(services: Services) -> dict[str, Method]:
    async def run(params: p.PreflightParams, progress: Progress) -> p.PreflightResult:
        config = services.config.config
        if params.all == (params.name is not None):
            raise SynapseError("bad_request", "give a connection name or all=true (not both)",
                               hint="synapsectl preflight NAME | --all")
        if params.name is not None:
            config.connection(params.name)
        names = sorted(config.connections) if params.all else [params.name or ""]

        async def on_check(name: str, check: p.PreflightCheck) -> None:
            await progress("preflight.check", {"connection": name, "check": msgspec.to_builtins(check)})

        reports = await preflight.run_many(services.gateway, names, probe=params.probe, progress=on_check)
        await services.preflight_results.record(reports)
        for report in reports:
            failed = next((c for c in report.checks if c.status == "fail"), None)
            log.info(
                "preflight",
                connection=report.connection,
                ok=report.ok,
                failed_check=failed.name if failed else None,
                kind=failed.kind if failed else None,
                duration_ms=report.duration_ms,
            )
        return p.PreflightResult(ok=all(r.ok for r in reports), reports=reports)

    return {"preflight.run": Method(p.PreflightParams, run, streams=True)}
