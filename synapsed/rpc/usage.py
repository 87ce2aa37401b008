"""usage.* methods: summaries, paged history, export, clear, and the applied price table."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec

from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.rpc.dispatch import Method
from synapsed.services import Services
from synapsed.usage import queries
from synapsed.usage.prices import builtin
from synapsed.validation import check_page

log = get_logger("synapsed.rpc.usage")
T = TypeVar("T")


def totals(rows: list[p.UsageSummaryRow]) -> p.UsageTotals:
    return p.UsageTotals(
        requests=sum(r.requests for r in rows),
        ok=sum(r.ok for r in rows),
        errors=sum(r.errors for r in rows),
        refused=sum(r.refused for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        unknown_cost_requests=sum(r.unknown_cost_requests for r in rows),
        cost_usd=round(sum(r.cost_usd for r in rows), 6),
        reasoning_tokens=sum(r.reasoning_tokens for r in rows),
        cache_read_tokens=sum(r.cache_read_tokens for r in rows),
        cache_write_tokens=sum(r.cache_write_tokens for r in rows),
    )


def methods(services: Services) -> dict[str, Method]:
    ledger = services.ledger

    async def read(query: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with ledger.reader() as conn:
                return query(conn)

        return await asyncio.to_thread(run)

    def saved(reads: list[tuple[str, str, str, int]]) -> float:
        table = services.gateway.meter.prices
        total = 0.0
        for provider, requested, model, tokens in reads:
            price = table.lookup(provider, requested, model)
            if price is not None and price.cached_input_per_mtok is not None:
                total += tokens * (price.input_per_mtok - price.cached_input_per_mtok) / 1_000_000
        return round(total, 6)

    def catching_up() -> p.CatchingUp | None:
        pending = ledger.catching_up()
        return None if pending is None else p.CatchingUp(folded=pending[0], pending=pending[1])

    async def summary(params: p.UsageSummaryParams) -> p.UsageSummary:
        kept_from = ledger.kept_from()
        def query(conn: sqlite3.Connection) -> tuple[list[p.UsageSummaryRow], tuple[int, float], float]:
            return (queries.summary(conn, params.filters, params.group_by, kept_from),
                    queries.undelivered(conn, params.filters),
                    saved(queries.cache_reads(conn, params.filters, kept_from)))

        rows, (lost, lost_usd), cache_saved = await read(query)
        summed = msgspec.structs.replace(totals(rows), undelivered_requests=lost, undelivered_cost_usd=lost_usd,
                                         cache_saved_usd=cache_saved)
        return p.UsageSummary(group_by=params.group_by, rows=rows, totals=summed, catching_up=catching_up())

    async def history(params: p.UsageHistoryParams) -> p.UsageHistory:
        check_page(params.limit, params.offset)
        # The total comes from the rollups once every older row is folded in (no count over the rows).
        fast_total = ledger.catching_up() is None and ledger.kept_from() is None
        return await read(lambda conn: queries.history(conn, params.filters, params.sort, params.limit, params.offset,
                                                       fast_total))

    async def export(params: p.UsageExportParams) -> p.UsageExportResult:
        path = Path(params.path)
        if not path.is_absolute():
            raise SynapseError("bad_request", "the export path must be absolute", hint="synapsectl resolves -o FILE for you")
        if not path.parent.is_dir():
            raise SynapseError("not_found", f"directory {path.parent} does not exist")
        if path.exists() and not os.access(path, os.W_OK):
            raise SynapseError("permission_denied", f"cannot write {path}")
        rows = await read(lambda conn: queries.export(conn, params.filters, params.format, path))
        log.info("usage exported", rows=rows, format=params.format)
        return p.UsageExportResult(path=str(path), rows=rows, format=params.format)

    async def clear(params: p.UsageClearParams) -> p.UsageClearResult:
        before = queries.parse_when(params.before, "before") if params.before else None

        def run() -> int:
            with ledger.writer_connection() as conn:
                return queries.clear(conn, before)

        deleted = await asyncio.to_thread(run)
        await services.meter.reload()
        log.info("usage cleared", deleted=deleted, before=params.before)
        return p.UsageClearResult(deleted=deleted, before=params.before)

    async def prices(_: p.NoParams) -> p.PriceList:
        return p.PriceList(builtin_version=builtin()[0], rows=services.meter.prices.rows())

    return {
        "usage.summary": Method(p.UsageSummaryParams, summary),
        "usage.history": Method(p.UsageHistoryParams, history),
        "usage.export": Method(p.UsageExportParams, export),
        "usage.clear": Method(p.UsageClearParams, clear),
        "usage.prices": Method(p.NoParams, prices),
    }
