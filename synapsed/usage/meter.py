"""The meter on every provider request: budget admission before the call (with a reservation,
so concurrent requests cannot all slip under a limit), then cost and the ledger row after it.

Admission runs synchronously on the event loop (no await between check and reservation), so two
requests can never both see the same remaining budget.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from synapsed import protocol as p
from synapsed.config import ConfigStore, ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.logging import get_logger
from synapsed.usage.ledger import Ledger, UsageRow
from synapsed.usage.prices import Cost, PriceTable

log = get_logger("synapsed.usage")
GLOBAL = "*"  # the scope of the all-connections budget
DEFAULT_OUTPUT_ESTIMATE = 1024


def period_keys(ts: float) -> tuple[str, str]:
    """The spend table's keys for the local day and month of `ts`."""
    return _period_keys(int(ts // 60))


@functools.lru_cache(maxsize=64)
def _period_keys(minute: int) -> tuple[str, str]:
    # Per minute: local days begin on a whole minute in every time zone in use, and every
    # request of that minute (and every admission check) shares one localtime() and strftime().
    local = time.localtime(minute * 60)
    return time.strftime("d:%Y-%m-%d", local), time.strftime("m:%Y-%m", local)


def period_start(period: str, now: float) -> float:
    local = datetime.fromtimestamp(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "monthly":
        start = start.replace(day=1)
    return start.timestamp()


def reset_at(period: str, now: float) -> datetime:
    local = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return local + timedelta(days=1)
    return (local.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Origin:
    """Who a request is for, as the ledger records it: caller label, MCP session, thread id."""

    caller: str = "synapsectl"
    session: str | None = None
    thread: str | None = None
    # Collects the ids of the rows written for this request (see Meter.undelivered).
    receipt: list[int] | None = field(default=None, compare=False)


@dataclass
class Spend:
    tokens: float = 0.0
    usd: float = 0.0

    def get(self, unit: str) -> float:
        return self.tokens if unit == "tokens" else self.usd


@dataclass
class Reservation:
    connection: str
    provider: str
    model: str
    tokens: float
    usd: float
    started: float = field(default_factory=time.perf_counter)
    warnings: list[str] = field(default_factory=list)
    files: int | None = None  # workspace files sent with the request (their names are never kept)
    file_bytes: int | None = None


class Meter:
    def __init__(self, ledger: Ledger | None, config_store: ConfigStore) -> None:
        self.ledger = ledger
        self.config_store = config_store
        self._prices = PriceTable(config_store.config.prices)
        # spent[(period_key, scope)] for the current day and month; scope is a connection or GLOBAL
        self._spent: dict[tuple[str, str], Spend] = {}
        self._reserved: dict[str, Spend] = {}
        self._last: dict[str, Spend] = {}  # the last request's actual use: the next estimate
        self._warned: set[tuple[str, str, str]] = set()
        self.in_flight = 0  # admitted requests not yet settled

    @property
    def prices(self) -> PriceTable:
        overrides = self.config_store.config.prices
        if overrides is not self._prices.overrides:  # config was edited or reloaded
            self._prices = PriceTable(overrides)
        return self._prices

    async def load(self) -> None:
        """Today's and this month's spend from the ledger, so limits survive restarts."""
        if self.ledger is None:
            return
        now = time.time()
        since = min(period_start("daily", now), period_start("monthly", now))

        def read() -> list[tuple[Any, ...]]:
            # From the hourly rollups: a month of heavy use is a few thousand rows, not a million.
            # Billed answers count, schema mismatches included (they were paid for).
            with self.ledger.reader() as conn:  # type: ignore[union-attr]
                return conn.execute(
                    "SELECT hour * 3600, connection, SUM(input_tokens + output_tokens), SUM(cost_usd) "
                    "FROM rollup_hour WHERE hour >= ? AND (status = 'ok' OR error_kind = 'schema_mismatch') "
                    "GROUP BY hour, connection",
                    (int(since // 3600),),
                ).fetchall()

        for ts, connection, tokens, usd in await asyncio.to_thread(read):
            self._add(ts, connection, tokens, usd)

    async def reload(self) -> None:
        """Recount spend from the ledger (after `usage clear`)."""
        self._spent.clear()
        await self.load()

    def _add(self, ts: float, connection: str, tokens: float, usd: float) -> None:
        for key in period_keys(ts):
            for scope in (connection, GLOBAL):
                spend = self._spent.setdefault((key, scope), Spend())
                spend.tokens += tokens
                spend.usd += usd

    def spent(self, scope: str, period: str, now: float | None = None) -> Spend:
        now = now or time.time()
        day, month = period_keys(now)
        key = day if period == "daily" else month
        return self._spent.get((key, scope), Spend())

    # ---- before the call ----------------------------------------------------------------------

    def _estimate(self, name: str, conn: ConnectionConfig, request: p.ChatRequest) -> Spend:
        last = self._last.get(name)
        if last is not None:
            return Spend(last.tokens, last.usd)
        chars = sum(len(m.content) for m in request.messages) + len(request.system or "")
        tokens = (request.max_output_tokens or DEFAULT_OUTPUT_ESTIMATE) + chars / 3 + 16 * len(request.messages)
        price = self.prices.lookup(conn.provider, conn.model)
        usd = tokens * max(price.input_per_mtok, price.output_per_mtok) / 1_000_000 if price else 0.0
        return Spend(tokens, usd)

    def admit(self, name: str, conn: ConnectionConfig, request: p.ChatRequest) -> Reservation:
        estimate = self._estimate(name, conn, request)
        now = time.time()
        warnings: list[str] = []
        for scope, budget, label in ((name, conn.budget, f"connection {name!r}"), (GLOBAL, self.config_store.config.budget, "all connections")):
            if budget is None:
                continue
            for period, unit, limit in budget.limits():
                used = self.spent(scope, period, now).get(unit) + self._reserved.get(scope, Spend()).get(unit)
                if used < limit:
                    continue
                message = f"{label} used {_fmt(used, unit)} of its {period} {_fmt(limit, unit)} budget"
                when = reset_at(period, now).strftime("%Y-%m-%d %H:%M")
                if budget.mode == "block":
                    raise SynapseError(
                        "budget_exceeded",
                        message + " (in-flight requests included)",
                        hint=f"it resets at {when} local time; raise the limit in config.toml or wait",
                        period=period, unit=unit, limit=limit, used=round(used, 6), resets_at=when,
                    )
                warnings.append(f"{message}; monitoring only, resets at {when}")
                marker = (scope, f"{period}-{unit}", reset_at(period, now).isoformat())
                if marker not in self._warned:
                    self._warned.add(marker)
                    log.warning("budget crossed (monitor mode)", scope=label, period=period, unit=unit, limit=limit, used=used)
        for scope in (name, GLOBAL):
            reserved = self._reserved.setdefault(scope, Spend())
            reserved.tokens += estimate.tokens
            reserved.usd += estimate.usd
        self.in_flight += 1
        sent = [a for m in request.messages for a in m.attachments if a.path is not None]
        return Reservation(name, conn.provider, conn.model, estimate.tokens, estimate.usd, warnings=warnings,
                           files=len(sent) or None, file_bytes=sum(a.size for a in sent) or None)

    def _release(self, reservation: Reservation) -> None:
        self.in_flight -= 1
        for scope in (reservation.connection, GLOBAL):
            reserved = self._reserved.get(scope)
            if reserved is not None:
                reserved.tokens -= reservation.tokens
                reserved.usd -= reservation.usd

    # ---- after the call -----------------------------------------------------------------------

    async def refused(self, name: str, conn: ConnectionConfig, origin: Origin, exc: SynapseError) -> None:
        await self._write(UsageRow(time.time(), name, conn.provider, conn.model, None, origin.caller, origin.session,
                                   "refused", exc.kind, 0.0, None, None, None, "UNKNOWN", None, origin.thread), origin.receipt)

    async def failed(self, reservation: Reservation, origin: Origin, exc: SynapseError) -> None:
        self._release(reservation)
        latency = (time.perf_counter() - reservation.started) * 1000
        await self._write(UsageRow(time.time(), reservation.connection, reservation.provider, reservation.model, None,
                                   origin.caller, origin.session, "error", exc.kind, round(latency, 3), None, None,
                                   None, "UNKNOWN", None, origin.thread, files=reservation.files,
                                   file_bytes=reservation.file_bytes), origin.receipt)

    async def succeeded(self, reservation: Reservation, origin: Origin, result: p.ChatResult,
                        error_kind: str | None = None) -> Cost:
        """A provider answer, billed; `error_kind` when it is unusable all the same (schema_mismatch)."""
        self._release(reservation)
        cost = self.prices.cost(reservation.provider, reservation.model, result.model, result.input_tokens,
                                result.output_tokens, result.cost_usd, result.cache_read_tokens, result.cache_write_tokens,
                                result.cache_write_1h_tokens)
        tokens = (result.input_tokens or 0) + (result.output_tokens or 0)
        now = time.time()
        self._add(now, reservation.connection, tokens, cost.usd or 0.0)
        self._last[reservation.connection] = Spend(tokens, cost.usd or 0.0)
        await self._write(UsageRow(now, reservation.connection, reservation.provider, reservation.model, result.model,
                                   origin.caller, origin.session, "error" if error_kind else "ok", error_kind,
                                   result.latency_ms, result.input_tokens,
                                   result.output_tokens, cost.usd, cost.source, cost.price_version, origin.thread,
                                   result.reasoning_tokens, result.cache_read_tokens, result.cache_write_tokens,
                                   files=reservation.files, file_bytes=reservation.file_bytes), origin.receipt)
        return cost

    async def _write(self, row: UsageRow, receipt: list[int] | None) -> None:
        if self.ledger is not None:
            # Others in flight may finish in this same turn of the loop: their rows can share a commit.
            await self.ledger.record(row, share_commit=self.in_flight > 0, receipt=receipt)

    def undelivered(self, rows: list[int]) -> None:
        """These rows' answers never reached their client: the ledger says so."""
        if self.ledger is not None:
            self.ledger.mark_undelivered(rows)

    # ---- views --------------------------------------------------------------------------------

    def budget_view(self, name: str, conn: ConnectionConfig) -> p.BudgetView:
        """Today's spend and, when a budget is set, each limit's state."""
        today = self.spent(name, "daily")
        view = p.BudgetView(today_usd=round(today.usd, 6), today_tokens=int(today.tokens))
        if conn.budget is not None:
            view.mode = conn.budget.mode
            view.limits = []
            for period, unit, limit in conn.budget.limits():
                used = self.spent(name, period).get(unit)
                view.limits.append(p.BudgetLimitView(period, unit, limit, round(used, 6), used >= limit))
        return view


def _fmt(value: float, unit: str) -> str:
    return f"${value:.2f}" if unit == "usd" else f"{int(value)} tokens"
