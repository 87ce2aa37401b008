"""Who is connected over MCP, and how many may be: client name/version, transport, state,
since when, calls and errors, under one cap for HTTP and the stdio bridge together.

HTTP sessions of the handshake era are keyed by their Mcp-Session-Id and enter the table when
the SDK hands out the id (state `initializing`), so a flood of initialize-only sessions is
visible and bounded; the first request after that makes them `active`. The stateless
2026-07-28 era has no session: its requests are grouped per client name and version and cost
no transport state, so they are shown but not counted. Each stdio bridge connection is its own
session.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from synapsed import protocol as p
from synapsed.config.schema import McpSettings
from synapsed.errors import SynapseError

State = Literal["initializing", "active"]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


@dataclass
class Session:
    id: str
    transport: str
    client_name: str
    client_version: str
    bound: str | None
    protocol_version: str | None
    state: State = "active"
    connected_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    calls: int = 0
    errors: int = 0
    in_flight: int = 0
    # The lowest MCP log level this client wants (logging/setLevel); warnings by default.
    log_level: str = "warning"

    def touch_active(self) -> None:
        self.last_seen = time.time()
        self.state = "active"

    @property
    def label(self) -> str:
        """How the gateway log and the ledger name this caller."""
        return f"mcp:{self.client_name}"

    @property
    def counted(self) -> bool:
        """Whether it holds transport state (and so counts against the cap)."""
        return not self.id.startswith("http-stateless-")

    def view(self) -> p.McpSessionView:
        return p.McpSessionView(
            id=self.id,
            transport=self.transport,  # type: ignore[arg-type]
            client_name=self.client_name,
            client_version=self.client_version,
            connected_at=_iso(self.connected_at),
            last_seen_at=_iso(self.last_seen),
            calls=self.calls,
            errors=self.errors,
            bound_connection=self.bound,
            protocol_version=self.protocol_version,
            state=self.state,
            log_level=self.log_level,
        )


class SessionRegistry:
    def __init__(self, settings: McpSettings) -> None:
        self._sessions: dict[str, Session] = {}
        self._stdio_ids = itertools.count(1)
        self.evicted = 0
        self.refused = 0
        self.configure(settings)

    def configure(self, settings: McpSettings) -> None:
        """Adopt the loaded config's limits (the registry exists before the config is read)."""
        self.idle_timeout_s = settings.session_idle_timeout_s
        self.max_sessions = settings.max_sessions
        self.uninitialized_timeout_s = min(settings.uninitialized_timeout_s, settings.session_idle_timeout_s)

    def new_stdio_id(self) -> str:
        return f"stdio-{next(self._stdio_ids)}"

    def get(self, key: str) -> Session | None:
        return self._sessions.get(key)

    def opened(self, key: str, transport: str, client_name: str, client_version: str, bound: str | None,
               protocol_version: str | None, state: State = "initializing") -> Session:
        """A session the transport just created (the SDK handed out its id)."""
        session = Session(key, transport, client_name, client_version, bound, protocol_version, state=state)
        self._sessions[key] = session
        return session

    def touch(
        self,
        key: str,
        transport: str,
        client_name: str,
        client_version: str,
        bound: str | None,
        protocol_version: str | None,
    ) -> Session:
        session = self._sessions.get(key)
        if session is None:
            session = Session(key, transport, client_name, client_version, bound, protocol_version)
            self._sessions[key] = session
        else:
            session.touch_active()
            # A stdio bridge learns its client's name only at initialize.
            if session.client_name == "unknown" and client_name != "unknown":
                session.client_name, session.client_version = client_name, client_version
            session.protocol_version = protocol_version or session.protocol_version
        return session

    def end(self, key: str) -> None:
        self._sessions.pop(key, None)

    def admit(self, now: float | None = None) -> Session | None:
        """Make room for one more session. Returns the session to evict (the caller closes it in
        its transport), None when there is room, or raises when every session is busy."""
        self.prune(now)
        counted = [s for s in self._sessions.values() if s.counted]
        if len(counted) < self.max_sessions:
            return None
        idle = [s for s in counted if s.in_flight == 0]
        if not idle:
            self.refused += 1
            raise SynapseError(
                "rate_limited",
                f"the daemon holds its maximum of {self.max_sessions} MCP sessions and all are busy",
                hint="close unused IDE sessions, or raise [mcp] max_sessions in config.toml",
                retry_after_s=5,
            )
        # Sessions that never finished the handshake go first, then the longest idle.
        victim = min(idle, key=lambda s: (s.state == "active", s.last_seen))
        del self._sessions[victim.id]
        self.evicted += 1
        return victim

    def expired_uninitialized(self, now: float | None = None) -> list[Session]:
        """Sessions that never got past initialize within their (short) timeout; removed here."""
        cutoff = (now or time.time()) - self.uninitialized_timeout_s
        stale = [s for s in self._sessions.values()
                 if s.state == "initializing" and s.transport == "http" and s.last_seen < cutoff]
        for session in stale:
            del self._sessions[session.id]
        return stale

    def prune(self, now: float | None = None) -> None:
        cutoff = (now or time.time()) - self.idle_timeout_s
        for key in [k for k, s in self._sessions.items() if s.transport == "http" and s.last_seen < cutoff]:
            del self._sessions[key]  # the SDK expired these HTTP sessions by now

    def list(self) -> list[p.McpSessionView]:
        self.prune()
        return [s.view() for s in sorted(self._sessions.values(), key=lambda s: s.connected_at)]

    def __len__(self) -> int:
        self.prune()
        return sum(1 for s in self._sessions.values() if s.counted)
