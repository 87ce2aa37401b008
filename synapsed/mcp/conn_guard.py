"""The loopback MCP port's connection guard: every local user can open it, so the daemon keeps
serving its own user whatever the others do.

- Another uid's connection is closed at accept, where the kernel says who owns the peer socket
  (Linux: `tcp_owner`); the token check would refuse its requests, but only once it sent one.
- A request head must arrive whole within `head_timeout_s`, and a kept-alive connection may idle
  `idle_timeout_s` between requests: a peer trickling one header line every few seconds, or
  sitting silent, is closed instead of holding a descriptor for ever.
- At most `max_connections` connections are open at once, fewer when the descriptor limit is low:
  `FD_RESERVE` descriptors stay for the control socket, the stdio bridge, upstream calls and
  files, so `synapsectl` and the bridge still connect while the port is flooded.
- Each refusal is logged, at most once per `LOG_EVERY_S` per reason, with the count since.

The guard wraps the protocol aiohttp makes per connection; aiohttp never sees a refused one.
The handler side tells the guard when a request is being served (`busy`), so a long call or
an SSE stream is never cut by the deadlines.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web

from synapsed.logging import get_logger
from synapsed.tcp_owner import owner_uid

log = get_logger("synapsed.mcp")

# Descriptors kept free of MCP connections: upstream calls (the client pool holds up to 256), the
# control socket and bridge sessions, SQLite, logs, keyring backends.
FD_RESERVE = 384
MIN_CONNECTIONS = 16
LOG_EVERY_S = 10.0


@dataclass(frozen=True)
class GuardSettings:
    head_timeout_s: float
    idle_timeout_s: float
    max_connections: int
    own_uid: int = field(default_factory=os.getuid)


def connection_cap(configured: int, open_files_limit: int | None = None) -> int:
    """The configured cap, lowered so that FD_RESERVE descriptors stay free for everything else."""
    if open_files_limit is None:
        open_files_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if open_files_limit == resource.RLIM_INFINITY:
        return configured
    return max(MIN_CONNECTIONS, min(configured, open_files_limit - FD_RESERVE))


class _RateLimitedLog:
    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._since: dict[str, int] = {}

    def refused(self, reason: str, **fields: Any) -> None:
        now = time.monotonic()
        self._since[reason] = self._since.get(reason, 0) + 1
        if now - self._last.get(reason, -LOG_EVERY_S) >= LOG_EVERY_S:
            log.warning("mcp connection refused", reason=reason, refused_since_last_report=self._since[reason], **fields)
            self._last[reason] = now
            self._since[reason] = 0


class ConnectionGuard:
    def __init__(self, settings: GuardSettings) -> None:
        self.settings = settings
        self.open: dict[int, _Guarded] = {}
        self.refusals: dict[str, int] = {"foreign_uid": 0, "at_cap": 0, "head_timeout": 0, "idle_timeout": 0}
        self._log = _RateLimitedLog()

    def wrap(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, make)

    def refuse(self, reason: str, **fields: Any) -> None:
        self.refusals[reason] += 1
        self._log.refused(reason, **fields)

    def busy(self, request: web.Request) -> Callable[[], None]:
        """Mark the request's connection as being served; the returned function marks it idle."""
        guarded = self.open.get(id(request.protocol))
        if guarded is None:
            return lambda: None
        guarded.serving += 1
        guarded.disarm()

        def done() -> None:
            guarded.serving -= 1
            if guarded.serving == 0:
                guarded.arm(self.settings.idle_timeout_s, "idle_timeout")

        return done

    def middleware(self) -> Any:
        @web.middleware
        async def serving(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
            done = self.busy(request)
            try:
                return await handler(request)  # type: ignore[no-any-return]
            finally:
                done()

        return serving


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol behind the guard's checks and deadlines."""

    def __init__(self, guard: ConnectionGuard, make: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self._make = make
        self.inner: Any = None
        self.transport: asyncio.Transport | None = None
        self.serving = 0
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._waiting_for = ""

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, base)  # uvloop's transports are not asyncio's classes
        guard = self.guard
        if len(guard.open) >= guard.settings.max_connections:
            guard.refuse("at_cap", max_connections=guard.settings.max_connections)
            transport.abort()
            return
        peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        if isinstance(peer, tuple) and isinstance(local, tuple):
            uid = owner_uid((peer[0], peer[1]), (local[0], local[1]))
            if uid is not None and uid != guard.settings.own_uid:
                guard.refuse("foreign_uid", uid=uid)
                transport.abort()
                return
        self.transport = transport
        self.inner = self._make()
        guard.open[id(self.inner)] = self
        self.inner.connection_made(transport)
        self.arm(guard.settings.head_timeout_s, "head_timeout")

    def arm(self, seconds: float, reason: str) -> None:
        self.disarm()
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + seconds
        self._waiting_for = reason
        self._timer = loop.call_at(self._deadline, self._expired)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.serving or self.transport is None:
            return
        self.guard.refuse(self._waiting_for)
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if self.serving == 0 and self._waiting_for == "idle_timeout":
            # A new request began on a kept-alive connection: its head gets the head deadline.
            head = asyncio.get_running_loop().time() + self.guard.settings.head_timeout_s
            if head < self._deadline:
                self.arm(self.guard.settings.head_timeout_s, "head_timeout")
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        if self.inner is None:
            return
        self.guard.open.pop(id(self.inner), None)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite, with each connection behind `guard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner)
        self._host, self._port, self.guard = host, port, guard
        self.bound_port = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.bound_port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self.guard.wrap(server), self._host, self._port, backlog=self._backlog, reuse_address=True)
        if self._server.sockets:
            self.bound_port = self._server.sockets[0].getsockname()[1]
