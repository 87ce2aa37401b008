"""Progress while a tool call waits on its provider.

A client that asked for progress (`_meta.progressToken`) hears from the daemon at a steady
interval ("waiting for openai-main, 30 s") until the answer arrives, so an agent can tell a slow
model from a hung server. `compare` reports each connection as it answers; its heartbeats fall
between those steps. MCP wants each progress value larger than the last: a single call's value is
the seconds waited, and compare's heartbeats climb towards the next whole step without reaching it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from synapsed.logging import get_logger
from synapsed.mcp.tools import Progress

log = get_logger("synapsed.mcp")
T = TypeVar("T")


class Pacer:
    """One call's progress notifications: compare's steps and the heartbeats between them."""

    def __init__(self, send: Progress, waiting_for: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self.waiting_for = waiting_for
        self._clock = clock
        self._started = clock()
        self._base = 0.0
        self._total: float | None = None
        self._beats = 0
        self._last = 0.0
        self.silenced = False  # a notification could not be sent: the client is gone

    async def step(self, done: float, total: float | None, message: str) -> None:
        """A part of the call is done (compare: one connection answered)."""
        self._base, self._total, self._beats = done, total, 0
        await self._emit(done, total, message)

    async def beat(self) -> None:
        """Still waiting: say for what, and for how long."""
        self._beats += 1
        waited = self._clock() - self._started
        if self._total is None:
            value = float(int(waited))
        else:
            value = self._base + self._beats / (self._beats + 1)
        await self._emit(value, self._total, f"waiting for {self.waiting_for}, {int(waited)} s")

    async def _emit(self, value: float, total: float | None, message: str) -> None:
        if self.silenced or value <= self._last:
            return
        self._last = value
        try:
            await self._send(value, total, message)
        except Exception as exc:  # a client that went away must not fail the call
            self.silenced = True
            log.debug("mcp progress notification not delivered", error=str(exc))


async def with_heartbeat(work: Awaitable[T], pacer: Pacer, every_s: float) -> T:
    """`work`'s outcome, with a heartbeat every `every_s` while it runs. Cancelling the caller
    cancels the work (and waits for it, so the ledger records the attempt)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            await asyncio.wait({task}, timeout=every_s)
            if task.done():
                return task.result()
            await pacer.beat()
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
