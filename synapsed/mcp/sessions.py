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

import asyncio
import contextvars
import itertools
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from synapsed import protocol as p
from synapsed.config.schema import McpSettings
from synapsed.errors import SynapseError

State = Literal["initializing", "active"]
# Which bridge session (key, bound connection) a task serves: set per stdio bridge connection,
# inherited by the SDK's handler tasks (they are spawned inside it).
stdio_binding: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar(
    "stdio_binding", default=None
)


# A client sends notifications/initialized as soon as its initialize is answered: a session
# still initializing after this long is taken for abandoned.
HANDSHAKE_GRACE_S = 1.0
# A session with no request for this long is shown as idle (Claude Code leaves one behind for
# each `claude mcp list` and each run: none sends DELETE). HTTP ones expire after
# [mcp] session_idle_timeout_s; the client's next request gets 404 and it initializes anew.
IDLE_AFTER_S = 60.0


def _victim(idle: list[Session], cap: int, now: float) -> Session:
    """Who goes at the cap. Handshakes under way are spared while they are few and young: IDEs
    opening sessions together must push out long-idle sessions, not each other. Many at once
    is a flood of initialize-only sessions: then, as for any abandoned handshake, sessions
    that never initialized go first. Within each group, the longest idle goes first."""
    pending = sum(1 for s in idle if s.state != "active")
    spare = pending <= max(4, cap // 8)

    def rank(session: Session) -> tuple[int, float]:
        if session.state == "active":
            return 1, session.last_seen
        spared = spare and now - session.last_seen < HANDSHAKE_GRACE_S
        return (2 if spared else 0), session.last_seen

    return min(idle, key=rank)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


MAX_CLIENT_NAME = 64
MAX_CLIENT_VERSION = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def client_text(value: str, limit: int) -> str:
    """A client's self-reported name or version as we store and show it: one line, no control or
    bidi characters, at most `limit` characters. It lands on every ledger row and in `mcp
    sessions`, and a client may send 900,000 characters of it."""
    cleaned = " ".join(_CONTROL.sub(" ", value[: limit * 4]).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


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
    log_level_set: bool = False  # the client asked for log messages (logging/setLevel)
    # HTTP sessions the fast path opened have a twin in the SDK only once a request needs one:
    # its id there (None until then), the initialize to replay, whether `initialized` came.
    # A bridge session opened before the SDK loaded keeps its initialize here too.
    sdk_id: str | None = None
    opening: bytes = b""
    initialized: bool = False
    # Workspace roots: whether the client declared the capability, the URIs it last listed
    # (None: not asked yet, or changed since), and our requests to it awaiting an answer.
    roots_capable: bool = False
    roots: list[str] | None = None
    pending: dict[str, asyncio.Future[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client_name = client_text(self.client_name, MAX_CLIENT_NAME) or "unknown"
        self.client_version = client_text(self.client_version, MAX_CLIENT_VERSION)

    @property
    def public_id(self) -> str:
        """The Mcp-Session-Id the client holds."""
        return self.id.removeprefix("http-")

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

    def view(self, timeout_s: float | None = None, now: float | None = None) -> p.McpSessionView:
        now = now or time.time()
        idle = max(0.0, now - self.last_seen)
        state: Literal["initializing", "active", "idle"] = self.state
        if state == "active" and idle >= IDLE_AFTER_S and not self.in_flight:
            state = "idle"
        expires = None if timeout_s is None or self.transport != "http" else max(0.0, timeout_s - idle)
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
            state=state,
            log_level=self.log_level,
            idle_s=round(idle, 1),
            in_flight=self.in_flight,
            expires_in_s=None if expires is None else round(expires, 1),
        )


class SessionRegistry:
    def __init__(self, settings: McpSettings) -> None:
        self._sessions: dict[str, Session] = {}
        # "http-<SDK twin id>" -> "http-<id the client holds>" for fast-path sessions.
        self._twins: dict[str, str] = {}
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
        return self._sessions.get(self._twins.get(key, key))

    def twinned(self, session: Session, sdk_id: str) -> None:
        """The SDK now holds `session` as `sdk_id`; its handlers find it under that id too."""
        session.sdk_id = sdk_id
        if sdk_id != session.public_id:
            self._twins[f"http-{sdk_id}"] = session.id

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
        key = self._twins.get(key, key)
        session = self._sessions.get(key)
        if session is None:
            session = Session(key, transport, client_name, client_version, bound, protocol_version)
            self._sessions[key] = session
        else:
            session.touch_active()
            # A stdio bridge learns its client's name only at initialize.
            if session.client_name == "unknown" and client_name != "unknown":
                session.client_name = client_text(client_name, MAX_CLIENT_NAME) or "unknown"
                session.client_version = client_text(client_version, MAX_CLIENT_VERSION)
            session.protocol_version = protocol_version or session.protocol_version
        return session

    def end(self, key: str) -> None:
        session = self._sessions.pop(self._twins.get(key, key), None)
        if session is not None and session.sdk_id is not None:
            self._twins.pop(f"http-{session.sdk_id}", None)

    def admit(self) -> Session | None:
        """Make room for one more session. Returns the session to evict (the caller closes it in
        its transport), None when there is room, or raises when every session is busy."""
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
        victim = _victim(idle, self.max_sessions, time.time())
        self.end(victim.id)
        self.evicted += 1
        return victim

    def expired(self, now: float | None = None) -> list[Session]:
        """HTTP sessions past their timeout, removed here; the caller closes them in the SDK.

        The SDK's own idle timer is off: calls answered on the fast path never reach it, so
        the daemon alone decides when a session is idle. Sessions that never got past
        initialize go on their own short timeout; stateless-era rows only leave the table."""
        now = now or time.time()
        stale = [s for s in self._sessions.values() if s.transport == "http" and self.is_expired(s, now)]
        for session in stale:
            self.end(session.id)
        return [s for s in stale if s.counted]

    def is_expired(self, session: Session, now: float | None = None) -> bool:
        if session.in_flight:
            return False
        timeout = self.uninitialized_timeout_s if session.state == "initializing" else self.idle_timeout_s
        return session.last_seen < (now or time.time()) - timeout

    def list(self) -> list[p.McpSessionView]:
        now = time.time()
        return [s.view(self.uninitialized_timeout_s if s.state == "initializing" else self.idle_timeout_s, now)
                for s in sorted(self._sessions.values(), key=lambda s: s.connected_at)]

    def __len__(self) -> int:
        return sum(1 for s in self._sessions.values() if s.counted)
