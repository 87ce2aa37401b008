"""The heartbeat of a call in flight: values that only grow, and cancellation that reaches the work."""

from __future__ import annotations

import asyncio

import pytest

from synapsed.mcp.waiting import Pacer, with_heartbeat


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _recorder() -> tuple[list[tuple[float, float | None, str]], Pacer, Clock]:
    sent: list[tuple[float, float | None, str]] = []

    async def send(done: float, total: float | None, message: str) -> None:
        sent.append((done, total, message))

    clock = Clock()
    return sent, Pacer(send, "gpt", clock), clock


async def test_a_single_call_beats_with_the_seconds_waited_and_no_total() -> None:
    sent, pacer, clock = _recorder()
    for _ in range(3):
        clock.now += 10
        await pacer.beat()
    assert sent == [(10.0, None, "waiting for gpt, 10 s"), (20.0, None, "waiting for gpt, 20 s"),
                    (30.0, None, "waiting for gpt, 30 s")]


async def test_a_beat_that_would_not_grow_is_not_sent() -> None:
    sent, pacer, clock = _recorder()
    clock.now += 0.4
    await pacer.beat()  # 0 s waited: not above the start
    assert sent == []


async def test_compare_heartbeats_climb_between_steps_and_never_reach_the_next() -> None:
    sent, pacer, clock = _recorder()
    await pacer.step(1, 3, "gpt answered")
    for _ in range(5):
        clock.now += 10
        await pacer.beat()
    await pacer.step(2, 3, "claude answered")
    values = [v for v, _, _ in sent]
    assert values == sorted(set(values)) and all(1 < v < 2 for v in values[1:-1]) and values[-1] == 2
    assert all(total == 3 for _, total, _ in sent)


async def test_a_client_that_cannot_be_told_silences_the_pacer_not_the_call() -> None:
    async def broken(done: float, total: float | None, message: str) -> None:
        raise ConnectionResetError("gone")

    clock = Clock()
    pacer = Pacer(broken, "gpt", clock)
    clock.now += 5
    await pacer.beat()
    assert pacer.silenced


async def test_with_heartbeat_returns_the_work_and_beats_meanwhile() -> None:
    sent, pacer, _ = _recorder()
    pacer._clock = lambda: asyncio.get_running_loop().time() * 1000  # every beat a new whole second

    async def work() -> str:
        await asyncio.sleep(0.25)
        return "answer"

    assert await with_heartbeat(work(), pacer, 0.05) == "answer"
    assert len(sent) >= 3


async def test_cancelling_the_caller_cancels_the_work_and_waits_for_it() -> None:
    _, pacer, _ = _recorder()
    finished: list[str] = []

    async def work() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0)  # the ledger write after a cancellation
            finished.append("cleaned up")

    task = asyncio.create_task(with_heartbeat(work(), pacer, 0.05))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == ["cleaned up"]

