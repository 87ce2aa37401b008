"""usage/meter.py: budgets through the gateway, against a fake upstream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from synapsed.config import Budget, ConfigStore, ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.gateway import Gateway
from synapsed.protocol import ChatRequest, Message
from synapsed.usage.ledger import Ledger
from synapsed.usage.meter import Meter, _period_keys, period_keys
from tests.support.fake_upstream import Canned, FakeUpstream
from tests.unit.usage.conftest import KEY, _row  # noqa: F401


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()
    yield fake
    fake.stop()


async def _gateway(tmp_path: Path, ledger: Ledger, upstream: FakeUpstream, budget: Budget | None,
                   global_budget: Budget | None = None, model: str = "test-model") -> Gateway:
    store = ConfigStore(tmp_path / "config.toml")
    store.load()
    conn = ConnectionConfig(provider="openai", model=model, base_url=upstream.base_url, credential="env:USAGE_KEY", budget=budget)
    await store.mutate(lambda c: msgspec.structs.replace(c, budget=global_budget, connections={"gpt": conn}))
    meter = Meter(ledger, store)
    await meter.load()
    return Gateway(store, meter=meter)


def _ask(gateway: Gateway):
    return gateway.complete("gpt", ChatRequest([Message("user", "hi")], max_output_tokens=5))


async def test_block_budget_refuses_before_any_upstream_call(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_tokens=30, mode="block"))
    await _ask(gateway)  # 15 tokens
    await _ask(gateway)  # 30 tokens: now used up
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    error = caught.value
    assert error.kind == "budget_exceeded"
    assert "daily 30 tokens budget" in error.message and "resets at" in error.hint
    assert upstream.count("POST", upstream.chat_path) == 2
    with ledger.reader() as conn:
        statuses = [r[0] for r in conn.execute("SELECT status FROM requests ORDER BY id")]
    assert statuses == ["ok", "ok", "refused"]
    await gateway.close()


async def test_block_budget_under_20_concurrent_requests_admits_only_what_the_limit_allows(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    ok = upstream.family.chat_ok("pong")
    upstream.reply_chat(Canned(200, ok.json, delay=0.2))  # all twenty are in flight together
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_tokens=100, mode="block"))
    await _ask(gateway)  # learn the per-request use: 15 tokens; 85 left
    outcomes = await asyncio.gather(*(_ask(gateway) for _ in range(20)), return_exceptions=True)
    admitted = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, SynapseError) and o.kind == "budget_exceeded"]
    assert len(admitted) + len(refused) == 20
    assert len(admitted) == 6  # 85 tokens left admits requests while under the limit: 6 x 15
    assert gateway.meter.spent("gpt", "daily").tokens == 15 * 7
    await gateway.close()


async def test_monitor_budget_never_blocks_and_warns(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_tokens=10, mode="monitor"))
    results = [r for _, r in [await _ask(gateway) for _ in range(4)]]
    assert all(r.text == "pong" for r in results)
    assert results[0].budget_warnings is None
    assert "monitoring only" in (results[-1].budget_warnings or [""])[0]
    assert gateway.meter.budget_view("gpt", gateway.connection("gpt")).limits[0].over is True
    await gateway.close()


async def test_unknown_cost_counts_against_token_limits_only(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_usd=0.000001, daily_tokens=1000, mode="block"))
    for _ in range(3):
        _, result = await _ask(gateway)
        assert result.cost_source == "UNKNOWN"
    assert gateway.meter.spent("gpt", "daily").usd == 0.0
    await gateway.close()


async def test_estimated_cost_counts_against_usd_limits(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_usd=0.000004, mode="block"), model="gpt-4o-mini")
    _, first = await _ask(gateway)
    assert first.cost_source == "ESTIMATED" and first.cost_usd == pytest.approx((12 * 0.15 + 3 * 0.60) / 1e6)
    await _ask(gateway)
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    assert caught.value.kind == "budget_exceeded" and "$" in caught.value.message
    await gateway.close()


async def test_global_budget_spans_connections(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, None, global_budget=Budget(daily_tokens=15))
    await _ask(gateway)
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    assert "all connections" in caught.value.message
    await gateway.close()


async def test_spend_survives_restart(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_tokens=30))
    await _ask(gateway)
    await _ask(gateway)
    await gateway.close()
    fresh = Meter(ledger, gateway.config_store)
    await fresh.load()
    assert fresh.spent("gpt", "daily").tokens == 30


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"])
def test_period_keys_agree_with_localtime_around_every_midnight(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-minute cache is exact: local days and months start on whole minutes (+05:45, -03:30, +10:30)."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    _period_keys.cache_clear()
    try:
        start = 1_767_225_600.0  # 2026-01-01T00:00Z
        for ts in [start + day * 86_400 + offset for day in range(0, 400, 7) for offset in range(-50_400, 50_401, 1_799)]:
            local = time.localtime(ts)
            assert period_keys(ts) == (time.strftime("d:%Y-%m-%d", local), time.strftime("m:%Y-%m", local)), ts
    finally:
        monkeypatch.undo()
        time.tzset()
        _period_keys.cache_clear()
