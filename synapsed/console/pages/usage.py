"""Usage: spend and tokens per day by connection (SVG), who spent what (per client), the
history with the CLI's filters, CSV / JSON-lines downloads, and each connection's budget."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlencode

from aiohttp import web

from synapsed import protocol as p
from synapsed.console import charts, forms
from synapsed.console.deps import ConsoleDeps
from synapsed.console.rendering import page
from synapsed.errors import SynapseError
from synapsed.validation import MAX_OFFSET, whole_number

PAGE_ROWS = 50
FILTERS = ("since", "until", "connection", "model", "client", "status")
MEDIA = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


def _offset(raw: str) -> int:
    return whole_number(raw, "offset", MAX_OFFSET) if raw.strip() else 0


def routes(deps: ConsoleDeps) -> list[web.RouteDef]:
    async def summary(filters: p.UsageFilters, group_by: p.GroupBy) -> p.UsageSummary:
        result: p.UsageSummary = await deps.call("usage.summary", p.UsageSummaryParams(filters=filters, group_by=group_by))
        return result

    async def usage(request: web.Request) -> web.Response:
        query = request.query
        shown = {k: query.get(k, "30d" if k == "since" else "") for k in FILTERS}
        error: SynapseError | None = None
        try:
            filters = forms.usage_filters(query)
            per_day = await summary(filters, "day_connection")
            history: p.UsageHistory | None = await deps.call("usage.history", p.UsageHistoryParams(
                filters=filters, limit=PAGE_ROWS, offset=_offset(query.get("offset", ""))))
            clients, by_connection = await summary(filters, "client"), await summary(filters, "connection")
        except SynapseError as exc:
            error, per_day, history, clients, by_connection = exc, None, None, None, None
        listing: p.ConnectionList = await deps.call("connections.list", p.ListParams(with_keys=False))
        cost_chart = tokens_chart = ""
        if per_day is not None:
            days, cost = charts.by_day([(r.key, r.cost_usd) for r in per_day.rows])
            cost_chart = charts.stacked_bars("Cost per day (USD) by connection", days, cost, "usd")
            days, tokens = charts.by_day([(r.key, float(r.input_tokens + r.output_tokens)) for r in per_day.rows])
            tokens_chart = charts.stacked_bars("Tokens per day by connection", days, tokens, "tokens")
        base_query = {k: v for k, v in shown.items() if v}
        return page(request, "usage.html", section="usage", filters=shown, error=error, history=history,
                    clients=clients, by_connection=by_connection, cost_chart=cost_chart, tokens_chart=tokens_chart,
                    connections=listing.connections, query=urlencode(base_query),
                    next_query=urlencode({**base_query, "offset": history.next_offset}) if history and history.next_offset else "")

    async def export(request: web.Request) -> web.Response:
        fmt = request.match_info["format"]
        filters = forms.usage_filters(request.query)
        # usage.export writes a file (0600) as it does for `synapsectl usage export`; stage it
        # in the state directory, send it, remove it.
        staged = deps.state_dir / f".console-export-{secrets.token_hex(8)}.{fmt}"
        try:
            await deps.call("usage.export", p.UsageExportParams(path=str(staged), format=fmt, filters=filters))  # type: ignore[arg-type]
            body = await asyncio.to_thread(staged.read_bytes)
        finally:
            staged.unlink(missing_ok=True)
        return web.Response(body=body, content_type=MEDIA[fmt], charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="synapse-usage.{fmt}"'})

    return [web.get("/usage", usage), web.get("/usage/export.{format:csv|jsonl}", export)]
