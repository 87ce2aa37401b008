"""usage.* methods: summaries, paged history, export, clear, and the applied price table."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from synapsed.errors import SynapseError
from synapsed.rpc.dispatch import Method
from synapsed.usage import queries
from synapsed.usage.prices import BUILTIN_VERSION

if TYPE_CHECKING:
    from synapsed.app import Daemon

MAX_PAGE = 1000


class SummaryParams(msgspec.Struct, forbid_unknown_fields=True):
    filters: queries.Filters = msgspec.field(default_factory=queries.Filters)
    group_by: queries.GroupBy = "connection"


class HistoryParams(msgspec.Struct, forbid_unknown_fields=True):
    filters: queries.Filters = msgspec.field(default_factory=queries.Filters)
    sort: queries.SortKey = "-time"
    limit: int = 50
    offset: int = 0


class ExportParams(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    format: Literal["csv", "jsonl"] = "csv"
    filters: queries.Filters = msgspec.field(default_factory=queries.Filters)


class ClearParams(msgspec.Struct, forbid_unknown_fields=True):
    before: str | None = None


class NoParams(msgspec.Struct, forbid_unknown_fields=True):
    pass


def methods(daemon: Daemon) -> dict[str, Method]:
    ledger = daemon.ledger

    async def read(fn: Any, *args: Any) -> Any:
        def run() -> Any:
            with ledger.reader() as conn:
                return fn(conn, *args)

        return await asyncio.to_thread(run)

    async def summary(params: SummaryParams) -> dict[str, Any]:
        rows = await read(queries.summary, params.filters, params.group_by)
        totals = {k: sum(r[k] for r in rows) for k in ("requests", "ok", "errors", "refused", "input_tokens",
                                                       "output_tokens", "unknown_cost_requests")}
        totals["cost_usd"] = round(sum(r["cost_usd"] for r in rows), 6)
        return {"group_by": params.group_by, "rows": rows, "totals": totals}

    async def history(params: HistoryParams) -> dict[str, Any]:
        if not 1 <= params.limit <= MAX_PAGE or params.offset < 0:
            raise SynapseError("bad_request", f"limit must be 1..{MAX_PAGE} and offset >= 0", field="limit")
        return await read(queries.history, params.filters, params.sort, params.limit, params.offset)

    async def export(params: ExportParams) -> dict[str, Any]:
        path = Path(params.path)
        if not path.is_absolute():
            raise SynapseError("bad_request", "the export path must be absolute", hint="synapsectl resolves -o FILE for you")
        if not path.parent.is_dir():
            raise SynapseError("not_found", f"directory {path.parent} does not exist")
        if path.exists() and not os.access(path, os.W_OK):
            raise SynapseError("permission_denied", f"cannot write {path}")
        rows = await read(queries.export, params.filters, params.format, path)
        daemon.log.info("usage exported", rows=rows, format=params.format)
        return {"path": str(path), "rows": rows, "format": params.format}

    async def clear(params: ClearParams) -> dict[str, Any]:
        before = queries.parse_when(params.before, "before") if params.before else None

        def run() -> int:
            with ledger.writer_connection() as conn:
                return queries.clear(conn, before)

        deleted = await asyncio.to_thread(run)
        await daemon.gateway.meter.reload()
        daemon.log.info("usage cleared", deleted=deleted, before=params.before)
        return {"deleted": deleted, "before": params.before}

    async def prices(_: NoParams) -> dict[str, Any]:
        return {"builtin_version": BUILTIN_VERSION, "rows": daemon.gateway.meter.prices.rows()}

    return {
        "usage.summary": Method(SummaryParams, summary),
        "usage.history": Method(HistoryParams, history),
        "usage.export": Method(ExportParams, export),
        "usage.clear": Method(ClearParams, clear),
        "usage.prices": Method(NoParams, prices),
    }
