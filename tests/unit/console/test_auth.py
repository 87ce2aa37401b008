"""One-time login links and console sessions, on a hand-driven clock."""

from __future__ import annotations

from synapsed.config import ConsoleSettings
from synapsed.console.auth import LINK_TTL_S, MAX_PENDING_LINKS, ConsoleAuth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def auth(clock: Clock, idle: float = 60.0, max_age: float = 600.0) -> ConsoleAuth:
    settings = ConsoleSettings(session_idle_s=idle, session_max_age_s=max_age)
    return ConsoleAuth(lambda: settings, clock)


def test_a_link_opens_one_session_and_only_once() -> None:
    clock = Clock()
    console = auth(clock)
    link = console.issue_link()
    first = console.redeem(link)
    assert first is not None and console.session(first.id) is first
    assert console.redeem(link) is None


def test_a_link_expires_after_its_ttl() -> None:
    clock = Clock()
    console = auth(clock)
    link = console.issue_link()
    clock.now += LINK_TTL_S + 0.1
    assert console.redeem(link) is None


def test_an_unknown_token_opens_nothing() -> None:
    console = auth(Clock())
    console.issue_link()
    assert console.redeem("not-a-link") is None


def test_pending_links_are_bounded() -> None:
    console = auth(Clock())
    links = [console.issue_link() for _ in range(MAX_PENDING_LINKS + 5)]
    assert console.redeem(links[0]) is None  # the oldest made room
    assert console.redeem(links[-1]) is not None


def test_a_session_ends_after_its_idle_time() -> None:
    clock = Clock()
    console = auth(clock, idle=60)
    session = console.redeem(console.issue_link())
    assert session is not None
    clock.now += 59
    assert console.session(session.id) is session  # use restarts the idle clock
    clock.now += 59
    assert console.session(session.id) is session
    clock.now += 61
    assert console.session(session.id) is None


def test_a_busy_session_still_ends_at_its_max_age() -> None:
    clock = Clock()
    console = auth(clock, idle=60, max_age=120)
    session = console.redeem(console.issue_link())
    assert session is not None
    for _ in range(3):
        clock.now += 50
        console.session(session.id)
    assert console.session(session.id) is None


def test_logout_ends_the_session() -> None:
    console = auth(Clock())
    session = console.redeem(console.issue_link())
    assert session is not None
    console.end(session)
    assert console.session(session.id) is None


def test_csrf_must_match_the_sessions_own_token() -> None:
    console = auth(Clock())
    one, two = console.redeem(console.issue_link()), console.redeem(console.issue_link())
    assert one is not None and two is not None
    assert console.csrf_ok(one, one.csrf)
    assert not console.csrf_ok(one, two.csrf)
    assert not console.csrf_ok(one, None)
    assert not console.csrf_ok(one, "")


def test_sessions_and_csrf_tokens_are_distinct_random_values() -> None:
    console = auth(Clock())
    session = console.redeem(console.issue_link())
    assert session is not None
    assert session.id != session.csrf and len(session.id) >= 40


def test_docs_console_lists_every_security_header_as_sent() -> None:
    from pathlib import Path

    from synapsed.console.guards import SECURITY_HEADERS

    docs = (Path(__file__).resolve().parents[3] / "docs" / "console.md").read_text()
    for name, value in SECURITY_HEADERS.items():
        assert f"`{name}: {value}`" in docs, f"docs/console.md does not show {name} as the server sends it"
