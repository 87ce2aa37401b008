"""mcp/sessions.py: one cap over HTTP and bridge sessions, eviction order, refusal when busy."""

from __future__ import annotations

import pytest

from synapsed.config import McpSettings
from synapsed.errors import SynapseError
from synapsed.mcp.sessions import HANDSHAKE_GRACE_S, SessionRegistry


def _registry(cap: int = 3, uninitialized_s: float = 60.0) -> SessionRegistry:
    return SessionRegistry(McpSettings(max_sessions=cap, uninitialized_timeout_s=uninitialized_s))


def test_below_the_cap_nothing_is_evicted() -> None:
    registry = _registry()
    registry.opened("http-a", "http", "cursor", "1", None, "2025-06-18")
    assert registry.admit() is None and len(registry) == 1


def test_at_the_cap_a_session_that_never_initialized_goes_first() -> None:
    registry = _registry(cap=2)
    registry.opened("http-old-active", "http", "cursor", "1", None, None, state="active")
    registry.opened("http-pending", "http", "loop", "1", None, None).last_seen -= HANDSHAKE_GRACE_S + 1
    victim = registry.admit()
    assert victim is not None and victim.id == "http-pending"
    assert [s.id for s in registry.list()] == ["http-old-active"] and registry.evicted == 1


def test_at_the_cap_the_longest_idle_active_session_goes() -> None:
    registry = _registry(cap=2)
    older = registry.opened("http-a", "http", "a", "1", None, None, state="active")
    registry.opened("http-b", "http", "b", "1", None, None, state="active")
    older.last_seen -= 100
    victim = registry.admit()
    assert victim is not None and victim.id == "http-a"


def test_at_the_cap_sessions_mid_handshake_outlast_an_idle_one() -> None:
    """IDEs opening sessions together at the cap: each initialize must not push out the one
    before it, still waiting for its `initialized`."""
    registry = _registry(cap=3)
    registry.opened("http-idle", "http", "a", "1", None, None, state="active").last_seen -= 10
    registry.opened("http-opening-1", "http", "b", "1", None, None)
    registry.opened("http-opening-2", "http", "c", "1", None, None)
    victim = registry.admit()
    assert victim is not None and victim.id == "http-idle"


def test_in_a_flood_of_handshakes_they_go_before_an_idle_ide() -> None:
    """More handshakes under way than IDEs open at once (a flood): sessions that never
    initialized go first, however young, and the connected IDE stays."""
    registry = _registry(cap=6)
    registry.opened("http-ide", "http", "cursor", "1", None, None, state="active").last_seen -= 300
    for i in range(5):
        registry.opened(f"http-flood-{i}", "http", "loop", "1", None, None)
    victim = registry.admit()
    assert victim is not None and victim.id == "http-flood-0"


def test_busy_sessions_are_never_evicted_and_the_newcomer_is_refused() -> None:
    registry = _registry(cap=2)
    for key in ("http-a", "stdio-1"):
        registry.opened(key, "http" if key.startswith("http") else "stdio", "ide", "1", None, None).in_flight = 1
    with pytest.raises(SynapseError) as caught:
        registry.admit()
    assert caught.value.kind == "rate_limited" and "max_sessions" in caught.value.hint
    assert len(registry) == 2 and registry.refused == 1


def test_stateless_era_callers_are_shown_but_not_counted() -> None:
    registry = _registry(cap=1)
    registry.touch("http-stateless-cursor-1", "http", "cursor", "1", None, "2026-07-28")
    assert len(registry) == 0 and registry.admit() is None
    assert [s.client_name for s in registry.list()] == ["cursor"]


def test_uninitialized_sessions_expire_on_their_own_short_timeout() -> None:
    registry = _registry(uninitialized_s=60)
    pending = registry.opened("http-p", "http", "loop", "1", None, None)
    active = registry.opened("http-a", "http", "ide", "1", None, None, state="active")
    pending.last_seen -= 61
    active.last_seen -= 61
    assert [s.id for s in registry.expired()] == ["http-p"]
    assert [s.id for s in registry.list()] == ["http-a"]


def test_every_session_is_listed_with_its_state() -> None:
    registry = _registry()
    registry.opened("http-p", "http", "loop", "1", None, None)
    registry.opened("stdio-1", "stdio", "unknown", "", None, None, state="active")
    assert {(s.id, s.state) for s in registry.list()} == {("http-p", "initializing"), ("stdio-1", "active")}


def test_idle_sessions_expire_after_the_idle_timeout_and_leave_the_table() -> None:
    registry = _registry()
    idle = registry.opened("http-i", "http", "ide", "1", None, None, state="active")
    fresh = registry.opened("http-f", "http", "ide", "1", None, None, state="active")
    idle.last_seen -= registry.idle_timeout_s + 1
    assert [s.id for s in registry.expired()] == ["http-i"]
    assert registry.get("http-i") is None and registry.get("http-f") is fresh


def test_a_session_with_a_call_in_flight_never_expires() -> None:
    registry = _registry()
    busy = registry.opened("http-b", "http", "ide", "1", None, None, state="active")
    busy.last_seen -= registry.idle_timeout_s + 1
    busy.in_flight = 1
    assert registry.expired() == [] and not registry.is_expired(busy)


def test_expired_stateless_rows_leave_the_table_without_a_transport_close() -> None:
    registry = _registry()
    row = registry.touch("http-stateless-cursor-1", "http", "cursor", "1", None, "2026-07-28")
    row.last_seen -= registry.idle_timeout_s + 1
    assert registry.expired() == [] and registry.list() == []


def test_a_huge_client_name_is_capped_before_it_reaches_the_ledger() -> None:
    registry = _registry()
    session = registry.opened("http-a", "http", "n" * 900_000, "v" * 10_000, None, "2025-06-18")
    assert len(session.client_name) == 64 and session.client_name.endswith("…")
    assert len(session.client_version) == 32
    assert len(session.label) == len("mcp:") + 64


def test_control_and_bidi_characters_in_a_client_name_become_spaces() -> None:
    registry = _registry()
    session = registry.opened("http-a", "http", "evil\nname\x1b[31m\u202e", "1\r\n2", None, None)
    assert session.client_name == "evil name [31m" and session.client_version == "1 2"


def test_a_bridge_that_learns_its_name_later_gets_it_cleaned_too() -> None:
    registry = _registry()
    registry.touch("bridge-1", "stdio", "unknown", "", None, None)
    session = registry.touch("bridge-1", "stdio", "x" * 1000 + "\n", "1", None, None)
    assert len(session.client_name) == 64


def test_a_name_of_only_control_characters_is_unknown() -> None:
    assert _registry().opened("http-a", "http", "\n\t\x00", "", None, None).client_name == "unknown"


def test_a_session_without_requests_for_a_minute_shows_as_idle_with_its_time_to_expiry() -> None:
    registry = SessionRegistry(McpSettings(session_idle_timeout_s=1800))
    registry.opened("http-left", "http", "claude-code", "2", None, None, state="active").last_seen -= 300
    registry.opened("http-busy", "http", "cursor", "1", None, None, state="active").last_seen -= 300
    registry.get("http-busy").in_flight = 1  # type: ignore[union-attr]
    registry.opened("stdio-1", "stdio", "zed", "1", None, None, state="active").last_seen -= 300
    views = {v.id: v for v in registry.list()}
    assert views["http-left"].state == "idle" and 299 <= views["http-left"].idle_s <= 301
    assert 1499 <= views["http-left"].expires_in_s <= 1501  # type: ignore[operator]
    assert views["http-busy"].state == "active" and views["http-busy"].in_flight == 1
    assert views["stdio-1"].state == "idle" and views["stdio-1"].expires_in_s is None  # ends with its bridge


def test_a_recent_session_is_active() -> None:
    registry = _registry()
    registry.opened("http-new", "http", "cursor", "1", None, None, state="active")
    (view,) = registry.list()
    assert view.state == "active" and view.idle_s < 5
