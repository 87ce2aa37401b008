"""The MCP service inside synapsed: one protocol server, two transports (HTTP on loopback and
the stdio bridge's Unix socket), one session registry, one bearer token.

Nothing here imports the MCP SDK at module level: HTTP and the stdio bridge's socket listen
first (the fast path answers what IDEs send first with our own modules alone), then the SDK is
imported off the event loop and joins both.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable, Mapping

from aiohttp import web

from synapsed import protocol as p
from synapsed.logging import get_logger
from synapsed.mcp import security
from synapsed.mcp.bridge import BridgeListener
from synapsed.mcp.calls import ToolCalls
from synapsed.mcp.fast_path import FastPath
from synapsed.mcp.http import HttpListener
from synapsed.services import Services

log = get_logger("synapsed.mcp")
# Importing the SDK holds the GIL for most of a second and slows every answer given meanwhile,
# so it starts once MCP has been quiet this long (an IDE's first initialize and tools/list
# answered), at the latest SDK_DEFER_MAX_S after listening, at once when a request needs it.
SDK_QUIET_S = 0.05
SDK_DEFER_MAX_S = 0.5


class McpService:
    def __init__(self, services: Services, mounts: Mapping[str, web.Application] | None = None,
                 on_listening: Callable[[], None] = lambda: None) -> None:
        self._sdk_wanted = asyncio.Event()
        self._on_listening = on_listening  # both transports answer: the daemon's deferred work may start
        self.paths = services.paths
        self.settings = services.config.config.mcp  # host/port/limits apply at start
        self.sessions = services.sessions
        self.token = ""
        self.services = services
        # One fast path for both transports (off: the SDK answers everything).
        # Files are never read from the daemon's own directories (its config, token, ledger, keys).
        own = tuple(d for d in (services.paths.config_dir, services.paths.state_dir, services.paths.log_dir,
                                services.paths.runtime_dir, services.paths.home) if d is not None)
        self.calls = calls = ToolCalls(services.config, services.gateway, services.threads, own)
        self.fast = FastPath(calls, services.sessions) if self.settings.fast_path else None

        def has_connection(name: str) -> bool:  # a bound endpoint's name, asked by both transports
            return name in services.config.config.connections

        self.http = HttpListener(
            self.fast,
            self.settings,
            self.sessions,
            token=lambda: self.token,
            has_connection=has_connection,
            make_room=self.make_room,
            mounts=mounts,
            want_sdk=self._sdk_wanted.set,
            deliveries=calls.deliveries,
        )
        self.bridge = BridgeListener(
            self.paths.mcp_socket,
            self.sessions,
            self.settings.max_body_bytes,
            has_connection=has_connection,
            make_room=self.make_room,
            fast=self.fast,
            want_sdk=self._sdk_wanted.set,
        )
        self.ready = False  # both transports up and the SDK loaded

    async def make_room(self) -> None:
        """Before a new session: at the cap, evict the longest-idle one (logged with its client);
        when every session is busy, SynapseError refuses the newcomer. Never an unbounded table."""
        await self.http.close_expired()
        victim = self.sessions.admit()
        if victim is None:
            return
        log.warning("mcp session evicted at the session cap", session=victim.id, client=victim.client_name,
                    state=victim.state, max_sessions=self.sessions.max_sessions)
        if victim.transport == "stdio":
            self.bridge.close(victim.id)
        else:
            await self.http.close_session(victim)

    async def start(self) -> None:
        self.token = security.load_or_create_token(self.paths.token_file)
        await self.http.start()
        if not self.settings.require_token:
            log.warning("MCP token requirement is OFF: any local process can use your connections over HTTP",
                        url=self.http.url)
        try:
            await self.bridge.start()
        except BaseException:
            await self.http.stop()
            raise
        log.info("mcp listening", url=self.http.url, stdio_socket=str(self.paths.mcp_socket))
        self._on_listening()
        await self._until_quiet()
        # Importing the SDK holds the GIL for about a second; the loop keeps answering between its steps.
        try:
            server_module = await asyncio.to_thread(importlib.import_module, "synapsed.mcp.server")
            bridge_module = await asyncio.to_thread(importlib.import_module, "synapsed.mcp.bridge_sdk")
            services = self.services
            server = server_module.McpServer(services.config, services.gateway, services.sessions, services.threads,
                                             self.calls)
            if self.fast is not None:
                self.fast.use_sdk_checks()
            await self.http.attach(server.server)
        except BaseException:
            self.http.abandon()  # nothing may wait for an SDK that will not come
            self.bridge.abandon()
            raise
        self.bridge.attach(bridge_module.SdkBridge(server, self.sessions, self.fast, self.settings.max_body_bytes))
        self.ready = True
        log.info("mcp ready", url=self.http.url, stdio_socket=str(self.paths.mcp_socket))

    async def _until_quiet(self) -> None:
        if self.fast is not None:  # without it the SDK answers everything: load it at once
            fast = self.fast
            await until_quiet(lambda: fast.answered, self._sdk_wanted, SDK_QUIET_S, SDK_DEFER_MAX_S)

    async def stop(self) -> None:
        self.bridge.abandon()  # sessions still waiting for the SDK are told, not left hanging
        await self.bridge.stop()
        await self.http.stop()

    def rotate_token(self) -> None:
        self.token = security.rotate_token(self.paths.token_file)
        log.info("mcp token rotated; HTTP clients need the new one")

    def view(self) -> p.McpView:
        return p.McpView(
            url=self.http.url,
            port=self.http.port,
            require_token=self.settings.require_token,
            stdio_socket=str(self.paths.mcp_socket),
            token_file=str(self.paths.token_file),
            active_sessions=len(self.sessions),
            max_sessions=self.sessions.max_sessions,
            evicted_sessions=self.sessions.evicted,
            refused_sessions=self.sessions.refused,
            fast_path_answers=None if self.fast is None else self.fast.answered,
        )


async def until_quiet(answered: Callable[[], int], wanted: asyncio.Event, quiet_s: float, at_most_s: float) -> None:
    """Return once `answered()` has not moved for `quiet_s`, `wanted` is set, or `at_most_s` passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + at_most_s
    seen = -1
    while seen != answered() and loop.time() < deadline:
        seen = answered()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wanted.wait(), min(quiet_s, max(deadline - loop.time(), 0.0)))
            return
