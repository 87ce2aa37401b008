"""mcp/service.py: when the SDK's import starts (it slows every answer given while it runs)."""

from __future__ import annotations

import asyncio

from synapsed.mcp.service import until_quiet


async def test_a_quiet_endpoint_loads_the_sdk_after_one_quiet_window() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await until_quiet(lambda: 0, asyncio.Event(), 0.05, 5.0)
    assert loop.time() - started < 1.0  # one window (or two), never the 5 s bound


async def test_answers_still_coming_put_the_sdk_off_until_the_bound() -> None:
    loop = asyncio.get_running_loop()
    count = iter(range(10_000))
    started = loop.time()
    await until_quiet(lambda: next(count), asyncio.Event(), 0.02, 0.2)
    assert 0.2 <= loop.time() - started < 1.0


async def test_a_request_waiting_for_the_sdk_starts_it_at_once() -> None:
    wanted = asyncio.Event()
    count = iter(range(10_000))
    asyncio.get_running_loop().call_later(0.05, wanted.set)
    await asyncio.wait_for(until_quiet(lambda: next(count), wanted, 0.02, 30.0), 5.0)
