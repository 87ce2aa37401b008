"""Wiring: builds the daemon's Services from its paths and config, serves its listeners until
told to stop. The only module that knows every part; nothing imports it but main.py."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import resource
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from synapsed import __version__, event_loop, lifecycle, secrets
from synapsed import logging as slog
from synapsed import protocol as p
from synapsed.config import ConfigStore, restart_needed
from synapsed.console.auth import ConsoleAuth
from synapsed.errors import SynapseError, internal_error
from synapsed.gateway import Gateway
from synapsed.mcp.sessions import SessionRegistry
from synapsed.paths import Paths, ensure_layout
from synapsed.preflight import LastResults
from synapsed.rpc import chat as rpc_chat
from synapsed.rpc import connections as rpc_connections
from synapsed.rpc import console as rpc_console
from synapsed.rpc import daemon as rpc_daemon
from synapsed.rpc import mcp as rpc_mcp
from synapsed.rpc import preflight as rpc_preflight
from synapsed.rpc import secrets as rpc_secrets
from synapsed.rpc import threads as rpc_threads
from synapsed.rpc import usage as rpc_usage
from synapsed.rpc.dispatch import Dispatcher
from synapsed.rpc.server import build_app
from synapsed.services import Services
from synapsed.threads.rules import Threads
from synapsed.threads.store import ThreadStore
from synapsed.usage.ledger import Ledger
from synapsed.usage.meter import Meter

if TYPE_CHECKING:
    from synapsed.mcp.service import McpService

RPC_GROUPS = (rpc_daemon, rpc_connections, rpc_secrets, rpc_chat, rpc_preflight, rpc_mcp, rpc_usage, rpc_threads,
              rpc_console)


def _open_store(open_it: Callable[[], None], path: Path, what: str, after: str) -> None:
    """Open one SQLite file, or fail the start with a hint that keeps the damaged file."""
    try:
        open_it()
    except (sqlite3.Error, RuntimeError) as exc:
        raise SynapseError(
            "internal", f"{what} {path} cannot be opened ({exc})",
            hint=f"move it aside (mv {path.name} {path.name}.bad) and restart: {after}",
        ) from None


class Daemon:
    def __init__(self, paths: Paths, log_level: str | None = None) -> None:
        self.paths = paths
        self._cli_log_level = log_level
        self._logging = False
        self.config_store = ConfigStore(paths.config_file)
        self.ledger = Ledger(paths.ledger_file, keep_rows_days=lambda: self.config_store.config.usage.keep_rows_days)
        meter = Meter(self.ledger, self.config_store)
        self.gateway = Gateway(self.config_store, meter=meter)
        self.last_preflight = LastResults(paths.state_dir / "preflight.json")
        self.sessions = SessionRegistry(self.config_store.config.mcp)
        self.threads = Threads(ThreadStore(paths.threads_file), lambda: self.config_store.config.threads)
        self.services = Services(
            paths=paths,
            config=self.config_store,
            gateway=self.gateway,
            meter=meter,
            ledger=self.ledger,
            preflight_results=self.last_preflight,
            sessions=self.sessions,
            threads=self.threads,
            console=ConsoleAuth(lambda: self.config_store.config.console),
            runtime=self,
        )
        self.lock = lifecycle.InstanceLock(paths.lock_file)
        self.log = slog.get_logger("synapsed")
        self.started_monotonic = time.monotonic()
        self.started_at_iso = datetime.now(UTC).isoformat(timespec="seconds")
        self._keyring: asyncio.Task[tuple[str, bool]] | None = None
        self.dispatcher = Dispatcher({})
        self._stop: asyncio.Event | None = None
        self._reload_task: asyncio.Task[None] | None = None
        self._mcp_task: asyncio.Task[None] | None = None
        self._event_loop_reason = "configured"
        self._said_ready = False
        self.mcp: McpService | None = None
        self.exit_code = 0
        self.inherited: list[socket.socket] = []
        self.started_config = self.config_store.config  # what is in force; set again once loaded

    # ---- Runtime: what handlers may read or trigger of the running daemon ----------------------

    @property
    def log_level(self) -> str:
        return self._cli_log_level or self.config_store.config.daemon.log_level

    @property
    def started_at(self) -> str:
        return self.started_at_iso

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    async def keyring(self) -> tuple[str, bool]:
        """Which keyring backend is in use: detected once, in a worker thread, after MCP listens
        (importing keyring and asking each backend whether it is usable takes tens of ms, more
        where a backend asks D-Bus), or at the first question before that."""
        return await asyncio.shield(self._keyring_detection())

    def _keyring_detection(self) -> asyncio.Task[tuple[str, bool]]:
        if self._keyring is None:
            self._keyring = asyncio.create_task(self._detect_keyring())
        return self._keyring

    async def _detect_keyring(self) -> tuple[str, bool]:
        backend, usable = await asyncio.to_thread(secrets.keyring_backend)
        self.log.info("keyring backend", keyring=backend, keyring_usable=usable)
        return backend, usable

    @property
    def rpc_requests(self) -> int:
        return self.dispatcher.calls

    def mcp_view(self) -> p.McpView | None:
        return self.mcp.view() if self.mcp is not None and self.mcp.ready else None

    def rotate_mcp_token(self) -> None:
        if self.mcp is None:
            raise SynapseError("internal", "the MCP service is not running yet",
                               hint="it starts a moment after the daemon; check `synapsectl logs` if this persists")
        self.mcp.rotate_token()

    def prepare(self) -> None:
        """Everything that can fail before listening: layout, logging, the lock, the config."""
        ensure_layout(self.paths)
        slog.configure(self._cli_log_level or "info", self.paths.log_file)
        self._logging = True
        self.lock.acquire()
        self.inherited = lifecycle.inherited_sockets()
        if not self.inherited and lifecycle.clear_stale_socket(self.paths.socket):
            self.log.info("removed a stale socket left by a previous daemon", socket=str(self.paths.socket))
        self.config_store.load()
        self.last_preflight.load()
        _open_store(self.ledger.open, self.paths.ledger_file, "the usage ledger", "a new ledger is created")
        _open_store(self.threads.store.open, self.paths.threads_file, "the thread store",
                    "a new, empty one is created (the old threads stay in the moved file)")
        self.threads.prune(force=True)
        slog.set_level(self.log_level)
        self._register_static_secrets()
        self.sessions.configure(self.config_store.config.mcp)
        self.started_config = self.config_store.config
        self.dispatcher = Dispatcher({name: m for group in RPC_GROUPS for name, m in group.methods(self.services).items()})

    def start_failed(self, kind: str, message: str, hint: str | None) -> None:
        """Why the daemon did not start, in its log too: `synapsectl mcp stdio` starts it with stderr
        discarded, and reads the reason from there (START_FAILED); hints send people there."""
        if self._logging:
            self.log.error(lifecycle.START_FAILED, kind=kind, error=message, hint=hint)

    def _register_static_secrets(self) -> None:
        # env:/file: keys sit in this process already (environment, page cache); teach the
        # redactor their values up front. Keyring keys are registered when first read.
        for name, conn in self.config_store.config.connections.items():
            if conn.credential != "keyring":
                with contextlib.suppress(SynapseError):
                    secrets.resolve(name, conn.credential)

    async def serve(self, event_loop_reason: str = "configured") -> None:
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)

        await self.gateway.meter.load()
        drain = self.config_store.config.daemon.drain_timeout_s
        runner = web.AppRunner(build_app(self.dispatcher), handle_signals=False, shutdown_timeout=drain, access_log=None)
        await runner.setup()
        if self.inherited:  # socket activation: systemd bound and owns the control socket
            site: web.BaseSite = web.SockSite(runner, self.inherited[0])
            await site.start()
        else:
            site = web.UnixSite(runner, str(self.paths.socket))
            await site.start()
            os.chmod(self.paths.socket, 0o600)
        self._event_loop_reason = event_loop_reason
        # "synapsed ready" is said once the MCP listener is up too (_start_mcp): a start that
        # fails on a taken MCP port logs only "could not start", never "ready" first.
        self._mcp_task = asyncio.create_task(self._start_mcp())
        try:
            await self._stop.wait()
        finally:
            lifecycle.sd_notify("STOPPING=1")
            self.log.info("synapsed stopping", drain_timeout_s=drain)
            if self._mcp_task is not None and not self._mcp_task.done():
                self._mcp_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._mcp_task
            await runner.cleanup()
            if self.mcp is not None:
                await self.mcp.stop()
            await self.gateway.close()
            self.ledger.close()
            self.threads.store.close()
            if not self.inherited:
                self.paths.socket.unlink(missing_ok=True)
            self.lock.release()
            self.log.info("synapsed stopped")

    def _listening(self) -> None:
        """Both MCP transports answer (the SDK loads after, about a second): the start succeeded."""
        self._ready()
        self._keyring_detection()

    def _ready(self) -> None:
        self._said_ready = True
        self.log.info(
            lifecycle.READY,
            version=__version__,
            pid=os.getpid(),
            socket=str(self.paths.socket),
            socket_activated=bool(self.inherited),
            connections=len(self.config_store.config.connections),
            open_files_limit=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            event_loop=event_loop.running_name(),
            event_loop_reason=self._event_loop_reason,
        )
        lifecycle.sd_notify("READY=1")

    async def _start_mcp(self) -> None:
        """MCP comes up right after the control plane: HTTP listens at once, the SDK (about a
        second to import) joins after, and `synapsectl` never waits for it."""
        try:
            module = importlib.import_module("synapsed.mcp.service")
            self.mcp = module.McpService(self.services, mounts=self._console(), on_listening=self._listening)
            await self.mcp.start()
        except SynapseError as exc:  # the MCP port is taken, say: the daemon stops, so this start failed
            self.start_failed(exc.kind, exc.message, exc.hint)
            print(f"synapsed: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
            self.exit_code = 1
            self.request_stop()
        except Exception:
            # The SDK did not load (a broken install): the control plane stays up so that
            # `synapsectl` can say so; MCP requests that need the SDK get 503 or a JSON-RPC error.
            failure = internal_error(self.log, "loading the MCP server")
            self.log.error("mcp server not loaded: MCP answers only what needs no SDK",
                           error_id=failure.detail["error_id"],
                           hint="reinstall synapsed (`make install`, or pip install --force-reinstall mcp-synapse)")
            if not self._said_ready:
                self._ready()  # the control plane is up and stays up to say so

    def _console(self) -> dict[str, web.Application]:
        """The web console, mounted on the MCP listener under /console/ whatever [console] enabled
        says at start: the console's own guard answers 404 while it is off, so a reload turns it
        on or off without a restart."""
        from synapsed.console import routes
        from synapsed.console.deps import ConsoleDeps
        from synapsed.console.guards import PREFIX

        deps = ConsoleDeps(
            auth=self.services.console,
            methods=self.dispatcher.methods,
            state_dir=self.paths.state_dir,
            mcp_view=self.mcp_view,
            port=lambda: self.mcp.http.port if self.mcp is not None else 0,
            home=str(self.paths.home) if self.paths.home is not None else None,
        )
        return {PREFIX: routes.build(deps)}

    def restart_needed(self) -> list[str]:
        """Start-only settings the loaded config sets differently from what is in force."""
        return restart_needed(self.started_config, self.config_store.config)

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _on_sighup(self) -> None:
        async def reload_from_signal() -> None:
            try:
                await self.reload()
            except SynapseError:
                pass  # reload() logged it; the running config stays

        self._reload_task = asyncio.create_task(reload_from_signal())

    async def reload(self) -> p.ReloadResult:
        try:
            config, changed = await self.config_store.reload()
        except SynapseError as exc:
            self.log.error("config reload rejected; the running config stays in force", error=exc.message, **exc.to_data())
            raise
        slog.set_level(self.log_level)
        self._register_static_secrets()
        self.sessions.configure(config.mcp)
        self.gateway.forget_keys()  # reload is also how a keyring edited outside synapse is re-read
        pending = self.restart_needed()
        self.log.info("config reloaded", revision=config.revision, changed=changed, connections=len(config.connections))
        if pending:
            self.log.warning("config reloaded; these settings apply only after a restart", restart_needed=pending)
        return p.ReloadResult(revision=config.revision, changed=changed, connections=len(config.connections),
                              restart_needed=pending)
