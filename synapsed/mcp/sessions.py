"""Who is connected over MCP: client name/version, transport, since when, calls and errors.

HTTP sessions of the handshake era are keyed by their Mcp-Session-Id; the stateless 2026-07-28
era has no session, so its requests are grouped per client name and version; each stdio bridge
connection is its own session.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from synapsed import protocol as p
from synapsed.config.schema import McpSettings


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
    connected_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    calls: int = 0
    errors: int = 0

    @property
    def label(self) -> str:
        """How the gateway log and the ledger name this caller."""
        return f"mcp:{self.client_name}"

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
        )


class SessionRegistry:
    def __init__(self, settings: McpSettings) -> None:
        self.idle_timeout_s = settings.session_idle_timeout_s
        self._sessions: dict[str, Session] = {}
        self._stdio_ids = itertools.count(1)

    def configure(self, settings: McpSettings) -> None:
        """Adopt the loaded config's limits (the registry exists before the config is read)."""
        self.idle_timeout_s = settings.session_idle_timeout_s

    def new_stdio_id(self) -> str:
        return f"stdio-{next(self._stdio_ids)}"

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
            session.last_seen = time.time()
            # A stdio bridge learns its client's name only at initialize.
            if session.client_name == "unknown" and client_name != "unknown":
                session.client_name, session.client_version = client_name, client_version
            session.protocol_version = protocol_version or session.protocol_version
        return session

    def end(self, key: str) -> None:
        self._sessions.pop(key, None)

    def _prune(self) -> None:
        cutoff = time.time() - self.idle_timeout_s
        for key in [k for k, s in self._sessions.items() if s.transport == "http" and s.last_seen < cutoff]:
            del self._sessions[key]  # the SDK expired these HTTP sessions by now

    def list(self) -> list[p.McpSessionView]:
        self._prune()
        return [s.view() for s in sorted(self._sessions.values(), key=lambda s: s.connected_at)]

    def __len__(self) -> int:
        self._prune()
        return len(self._sessions)
