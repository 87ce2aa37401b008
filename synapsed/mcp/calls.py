"""One tools/call, whichever path brought it (the SDK's handler or the HTTP fast path): pick
the route's binding, run the tool, count the session's calls and errors. No SDK types here, so
the fast path can run calls before the SDK has loaded."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from synapsed.config import ConfigStore
from synapsed.errors import SynapseError, internal_error
from synapsed.gateway import Gateway
from synapsed.logging import get_logger
from synapsed.mcp.deliveries import Deliveries
from synapsed.mcp.roots import AskRoots, Workspace
from synapsed.mcp.sessions import Session
from synapsed.mcp.tools import Answer, Progress, ToolRunner, error_answer, no_progress, tool_names
from synapsed.mcp.waiting import Pacer, with_heartbeat
from synapsed.threads.rules import Threads

log = get_logger("synapsed.mcp")
INVALID_PARAMS = -32602  # JSON-RPC


class UnknownTool(Exception):
    """A tool this endpoint does not offer: a JSON-RPC error, not a tool result."""

    code = INVALID_PARAMS

    def __init__(self, name: str, bound: str | None) -> None:
        self.message = f"unknown tool {name!r}; available: {', '.join(tool_names(bound))}"
        super().__init__(self.message)


class ToolCalls:
    def __init__(self, config: ConfigStore, gateway: Gateway, threads: Threads, own_dirs: tuple[Path, ...] = ()) -> None:
        self.config = config
        self.gateway = gateway
        self.threads = threads
        self.own_dirs = own_dirs  # files are never read from here
        self.deliveries = Deliveries(self.undelivered)  # for the answers the SDK writes

    def runner(self) -> ToolRunner:
        return ToolRunner(self.gateway, self.config.config.mcp.default_connection, self.threads)

    async def call(self, session: Session, bound: str | None, name: str, arguments: dict[str, Any] | None,
                   progress: Progress | None = None, ask_roots: AskRoots | None = None) -> Answer:
        """Run one tool. With `progress` (the client sent a progressToken) the client also hears
        compare's steps and, every [mcp] progress_interval_s, what the call is waiting for.
        `ask_roots` asks the client for its workspace roots (None: it declared none)."""
        if name not in tool_names(bound):
            raise UnknownTool(name, bound)
        receipt: list[int] = []
        try:
            if bound is not None and bound not in self.config.config.connections:
                raise SynapseError("not_found", f"connection {bound!r} no longer exists", name=bound)
            pacer = Pacer(progress, self._waiting_for(name, arguments, bound)) if progress is not None else None
            workspace = Workspace(session, ask_roots, self.config.config.context, self._forbidden)
            work = self.runner().run(name, arguments, bound, caller=session.label, session=session.id,
                                     progress=pacer.step if pacer is not None else no_progress, receipt=receipt,
                                     workspace=workspace)
            if pacer is not None:
                answer = await with_heartbeat(work, pacer, self.config.config.mcp.progress_interval_s)
            else:
                answer = await work
        except SynapseError as exc:
            answer = error_answer(exc)
        except Exception:
            answer = error_answer(internal_error(log, f"tool {name}"))
        session.calls += 1
        session.errors += int(answer.is_error)
        return dataclasses.replace(answer, rows=tuple(receipt)) if receipt else answer

    def _forbidden(self) -> tuple[Path, ...]:
        """The daemon's own directories and every key file a connection reads (`file:` credentials)."""
        keys = [Path(c.credential[5:]).expanduser() for c in self.config.config.connections.values()
                if c.credential.startswith("file:")]
        return (*self.own_dirs, *keys)

    def _waiting_for(self, name: str, arguments: dict[str, Any] | None, bound: str | None) -> str:
        """What a heartbeat says the call waits for (no validation: the tool itself does that)."""
        arguments = arguments if isinstance(arguments, dict) else {}
        if name == "compare":
            names = arguments.get("connections")
            return f"{len(names)} connections" if isinstance(names, list) else "the connections"
        named = arguments.get("connection")
        picked = bound or (named if isinstance(named, str) else None) or self.config.config.mcp.default_connection
        return picked[:64] if picked else "the model"

    def undelivered(self, session: Session, answer: Answer, why: str) -> None:
        """The answer could not be handed to its client: the ledger marks what it cost."""
        log.warning("mcp answer not delivered", session=session.id, client=session.client_name, why=why,
                    ledger_rows=len(answer.rows))
        if answer.rows:
            self.gateway.meter.undelivered(list(answer.rows))
