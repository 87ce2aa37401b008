"""Who may use the console: one-time login links and the browser sessions they open.

A login link is minted over the control socket (`synapsectl console`, which only the daemon's
user can reach), used once within LINK_TTL_S, and exchanged for a session: a random cookie
value plus its own CSRF token. Nothing here is derived from the MCP bearer token, so neither
credential can stand in for the other. Pure logic with an injectable clock.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from synapsed.config import ConsoleSettings
from synapsed.mcp.security import same_secret

LINK_TTL_S = 60.0
MAX_PENDING_LINKS = 16  # a loop minting links cannot grow the table
MAX_SESSIONS = 64


@dataclass
class ConsoleSession:
    id: str  # the cookie value
    csrf: str
    created: float
    last_seen: float


class ConsoleAuth:
    def __init__(self, settings: Callable[[], ConsoleSettings], clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._links: dict[str, float] = {}  # token -> expiry
        self._sessions: dict[str, ConsoleSession] = {}
        self.logins = 0

    @property
    def max_age_s(self) -> float:
        return self._settings().session_max_age_s

    def enabled(self) -> bool:
        """[console] enabled as the config says now: a reload turns the console on or off at once,
        and turning it off ends every session and unused link."""
        if self._settings().enabled:
            return True
        self._links.clear()
        self._sessions.clear()
        return False

    # ---- one-time links --------------------------------------------------------------------

    def issue_link(self) -> str:
        now = self._clock()
        self._links = {t: exp for t, exp in self._links.items() if exp > now}
        while len(self._links) >= MAX_PENDING_LINKS:
            self._links.pop(next(iter(self._links)))
        token = secrets.token_urlsafe(32)
        self._links[token] = now + LINK_TTL_S
        return token

    def redeem(self, token: str) -> ConsoleSession | None:
        """The link's session, or None when it is unknown, used or expired. Used links are gone
        whatever the outcome, so a second use always fails."""
        match = next((t for t in self._links if same_secret(token, t)), None)
        if match is None:
            return None
        expiry = self._links.pop(match)
        if self._clock() > expiry:
            return None
        return self._open()

    # ---- sessions --------------------------------------------------------------------------

    def _open(self) -> ConsoleSession:
        self._prune()
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
            del self._sessions[oldest.id]
        now = self._clock()
        session = ConsoleSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        self._sessions[session.id] = session
        self.logins += 1
        return session

    def _expired(self, session: ConsoleSession, now: float) -> bool:
        settings = self._settings()
        return now - session.last_seen > settings.session_idle_s or now - session.created > settings.session_max_age_s

    def _prune(self) -> None:
        now = self._clock()
        self._sessions = {sid: s for sid, s in self._sessions.items() if not self._expired(s, now)}

    def session(self, cookie: str | None) -> ConsoleSession | None:
        """The live session a cookie names (its idle clock restarts), or None."""
        if not cookie:
            return None
        session = self._sessions.get(cookie)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            del self._sessions[cookie]
            return None
        session.last_seen = now
        return session

    def end(self, session: ConsoleSession) -> None:
        self._sessions.pop(session.id, None)

    def csrf_ok(self, session: ConsoleSession, presented: str | None) -> bool:
        return bool(presented) and same_secret(presented or "", session.csrf)

    def __len__(self) -> int:
        self._prune()
        return len(self._sessions)
