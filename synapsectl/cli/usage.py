"""`synapsectl usage ...`: what your keys spent, where, and who spent it."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from synapsectl.cli import render
from synapsectl.cli.common import EXIT_OK, confirmed, int_in
from synapsectl.client import Client
from synapsed import protocol as p
from synapsed.money import usd

GLYPHS = "█▓▒░#*+=%@"


def _filters(args: argparse.Namespace) -> p.UsageFilters:
    return p.UsageFilters(since=args.since, until=args.until, connection=args.connection, model=args.model,
                          client=args.client, status=args.status, error_kind=args.kind)


def _money(value: float) -> str:
    return usd(value)


def _summary(client: Client, since: str, group_by: p.GroupBy) -> p.UsageSummary:
    return client.usage_summary(p.UsageSummaryParams(filters=p.UsageFilters(since=since), group_by=group_by))


def cmd_summary(client: Client, args: argparse.Namespace) -> int:
    results = {label: _summary(client, label, "connection") for label in ("today", "7d", "30d")}
    if args.json:
        render.emit_json(results)
        return EXIT_OK
    names = sorted({r.key for result in results.values() for r in result.rows})
    if not names:
        print("no usage recorded yet")
        return EXIT_OK
    by = {label: {r.key: r for r in result.rows} for label, result in results.items()}
    empty = p.UsageSummaryRow("", 0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0)
    rows: list[list[Any]] = []
    for name in names:
        month = by["30d"].get(name, empty)
        rows.append([name, _money(by["today"].get(name, empty).cost_usd), _money(by["7d"].get(name, empty).cost_usd),
                     _money(month.cost_usd), f"{month.input_tokens + month.output_tokens:,}", month.requests,
                     month.errors + month.refused, month.unknown_cost_requests])
    totals = results["30d"].totals
    rows.append(["TOTAL", _money(results["today"].totals.cost_usd), _money(results["7d"].totals.cost_usd),
                 _money(totals.cost_usd), f"{totals.input_tokens + totals.output_tokens:,}", totals.requests,
                 totals.errors + totals.refused, totals.unknown_cost_requests])
    render.table(["connection", "today", "7 days", "30 days", "30d tokens", "30d requests", "30d failed", "unknown cost"],
                 rows)
    catching_up = results["30d"].catching_up
    if catching_up is not None:
        print(f"\nstill folding in rows from before this synapsed's rollups ({catching_up.folded:,} of "
              f"{catching_up.pending:,}): the figures will grow until it is done")
    if totals.cache_saved_usd:
        print(f"\nprompt caching saved {_money(totals.cache_saved_usd)} in 30 days ({totals.cache_read_tokens:,} input "
              "tokens read from the cache, priced at the cache rate instead of the input rate)")
    if totals.undelivered_requests:
        print(f"\n{totals.undelivered_requests} answer(s) in 30 days were paid for but never reached their client "
              f"({_money(totals.undelivered_cost_usd)}): the client had gone or its connection broke. "
              "See `synapsectl usage history --json` (undelivered: 1).")
    if totals.unknown_cost_requests:
        print(f"\n{totals.unknown_cost_requests} request(s) have UNKNOWN cost (no reported cost, no price entry):"
              " their tokens count, their dollars are not guessed. See `synapsectl usage prices`.")
    return EXIT_OK


def cmd_history(client: Client, args: argparse.Namespace) -> int:
    page = client.usage_history(p.UsageHistoryParams(filters=_filters(args), sort=args.sort, limit=args.limit,
                                                     offset=args.offset))
    if args.json:
        render.emit_json(page)
        return EXIT_OK
    render.table(
        ["time", "connection", "model", "caller", "status", "kind", "ms", "in", "out", "reasoning", "cached", "cost",
         "source"],
        [[r.time[:19].replace("T", " "), r.connection, r.model_reported or r.model_requested, r.caller,
          r.status, r.error_kind, f"{r.latency_ms:.0f}" if r.latency_ms is not None else None,
          r.input_tokens, r.output_tokens, r.reasoning_tokens, r.cache_read_tokens,
          _money(r.cost_usd) if r.cost_usd is not None else None, r.cost_source] for r in page.rows],
    )
    shown_to = page.offset + len(page.rows)
    more = f"; next page: --offset {page.next_offset}" if page.next_offset is not None else ""
    print(f"\n{page.offset + 1 if page.rows else 0}-{shown_to} of {page.total}{more}")
    return EXIT_OK


def cmd_export(client: Client, args: argparse.Namespace) -> int:
    to_stdout = args.output in (None, "-")
    if to_stdout:
        fd, tmp = tempfile.mkstemp(prefix="synapse-usage-", suffix="." + args.format)
        os.close(fd)
        target = Path(tmp)
    else:
        target = Path(args.output).expanduser().resolve()
    try:
        result = client.usage_export(p.UsageExportParams(path=str(target), format=args.format, filters=_filters(args)))
        if to_stdout:
            sys.stdout.write(target.read_text(encoding="utf-8"))
        elif args.json:
            render.emit_json(result)
        else:
            print(f"wrote {result.rows} row(s) to {result.path} ({args.format})", file=sys.stderr)
    finally:
        if to_stdout:
            target.unlink(missing_ok=True)
    return EXIT_OK


def cmd_chart(client: Client, args: argparse.Namespace) -> int:
    since = (date.today() - timedelta(days=args.days - 1)).isoformat()
    result = _summary(client, since, "day_connection")
    per_day: dict[str, dict[str, float]] = {}
    for row in result.rows:
        day, connection = row.key.split(" ", 1)
        value = row.cost_usd if args.metric == "cost" else row.input_tokens + row.output_tokens
        per_day.setdefault(day, {})[connection] = value
    if args.json:
        render.emit_json({"metric": args.metric, "days": per_day})
        return EXIT_OK
    connections = sorted({c for values in per_day.values() for c in values})
    if not connections:
        print(f"no usage in the last {args.days} day(s)")
        return EXIT_OK
    glyph = {c: GLYPHS[i % len(GLYPHS)] for i, c in enumerate(connections)}
    biggest = max((sum(v.values()) for v in per_day.values()), default=0) or 1
    width = args.width
    print(f"{args.metric} per day, last {args.days} days" + (" (UNKNOWN-cost requests add $0)" if args.metric == "cost" else ""))
    for offset in range(args.days):
        day = (date.fromisoformat(since) + timedelta(days=offset)).isoformat()
        values = per_day.get(day, {})
        bar = "".join(glyph[c] * round(values.get(c, 0) / biggest * width) for c in connections)
        total = sum(values.values())
        label = _money(total) if args.metric == "cost" else f"{int(total):,}"
        print(f"{day[5:]} │{bar:<{width}}│ {label}")
    print("legend: " + "  ".join(f"{glyph[c]} {c}" for c in connections))
    return EXIT_OK


def cmd_prices(client: Client, args: argparse.Namespace) -> int:
    result = client.usage_prices()
    if args.json:
        render.emit_json(result)
        return EXIT_OK
    render.table(["provider/model", "input $/Mtok", "output $/Mtok", "source"],
                 [[r.model, f"{r.input_per_mtok:.2f}", f"{r.output_per_mtok:.2f}", r.source] for r in result.rows])
    print(f"\nbuilt-in table dated {result.builtin_version}; override entries under [prices] in config.toml."
          " Models not listed get cost UNKNOWN unless the provider reports the charge.")
    return EXIT_OK


def cmd_clear(client: Client, args: argparse.Namespace) -> int:
    scope = f"rows before {args.before}" if args.before else "ALL usage rows"
    if not confirmed(f"Delete {scope} from the usage ledger", args.yes):
        return EXIT_OK
    result = client.usage_clear(args.before)
    render.result(result, args.json, f"deleted {result.deleted} row(s)")
    return EXIT_OK


def _filter_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="YYYY-MM-DD, ISO time, 'today', or 24h / 7d / 2w")
    parser.add_argument("--until", help="same forms as --since (exclusive)")
    parser.add_argument("--connection")
    parser.add_argument("--model", help="a model id: matches the one asked for (the connection's model) or the one that "
                        "answered (what history shows, e.g. gpt-4o-mini-2024-07-18)")
    parser.add_argument("--client", help="caller, e.g. mcp:cursor or synapsectl")
    parser.add_argument("--status", choices=["ok", "error", "refused"])
    parser.add_argument("--kind", help="error kind, e.g. rate_limited")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    usage = sub.add_parser("usage", parents=[common], help="spend and tokens: summary, history, export, chart, budgets")
    usage.set_defaults(run=cmd_summary)
    actions = usage.add_subparsers(dest="action", metavar="ACTION")
    history = actions.add_parser("history", parents=[common], help="one row per request, filtered and paged")
    _filter_args(history)
    history.add_argument("--sort", default="-time", choices=["time", "-time", "cost", "-cost", "latency", "-latency"])
    history.add_argument("--limit", type=int, default=50)
    history.add_argument("--offset", type=int, default=0)
    history.set_defaults(run=cmd_history)
    export = actions.add_parser("export", parents=[common], help="write rows as CSV or JSON lines")
    _filter_args(export)
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    export.set_defaults(run=cmd_export)
    chart = actions.add_parser("chart", parents=[common], help="per-day bar chart by connection")
    chart.add_argument("--days", type=int_in(1, 3660), default=14, help="how many days back, today included (default 14)")
    chart.add_argument("--metric", choices=["cost", "tokens"], default="cost")
    chart.add_argument("--width", type=int_in(10, 500), default=50, help="bar width in characters (default 50)")
    chart.set_defaults(run=cmd_chart)
    actions.add_parser("prices", parents=[common], help="the price table in force").set_defaults(run=cmd_prices)
    clear = actions.add_parser("clear", parents=[common], help="delete ledger rows (asks first)")
    clear.add_argument("--before", help="only rows before this date/time")
    clear.add_argument("--yes", action="store_true", help="do not ask")
    clear.set_defaults(run=cmd_clear)
