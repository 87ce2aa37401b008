"""The loopback port's connection guard: the cap's descriptor reserve and the refusal log."""

from __future__ import annotations

import resource

import pytest

from synapsed.mcp import conn_guard
from synapsed.mcp.conn_guard import FD_RESERVE, MIN_CONNECTIONS, ConnectionGuard, GuardSettings, connection_cap


def test_cap_is_the_configured_one_when_descriptors_are_plenty() -> None:
    assert connection_cap(512, 65536) == 512


def test_cap_leaves_the_reserve_free_under_a_low_descriptor_limit() -> None:
    assert connection_cap(512, 700) == 700 - FD_RESERVE


def test_cap_never_drops_below_a_usable_minimum() -> None:
    assert connection_cap(512, 256) == MIN_CONNECTIONS


def test_an_unlimited_descriptor_limit_keeps_the_configured_cap() -> None:
    assert connection_cap(64, resource.RLIM_INFINITY) == 64


def test_refusals_are_counted_each_time_but_logged_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[dict[str, object]] = []
    monkeypatch.setattr(conn_guard.log, "warning", lambda event, **fields: lines.append({"event": event, **fields}))
    clock = [1000.0]
    monkeypatch.setattr(conn_guard.time, "monotonic", lambda: clock[0])
    guard = ConnectionGuard(GuardSettings(10.0, 60.0, 16))
    for _ in range(50):
        guard.refuse("at_cap")
    guard.refuse("head_timeout")
    assert guard.refusals["at_cap"] == 50
    assert [line["reason"] for line in lines] == ["at_cap", "head_timeout"]
    clock[0] += conn_guard.LOG_EVERY_S
    guard.refuse("at_cap")
    assert lines[-1]["reason"] == "at_cap" and lines[-1]["refused_since_last_report"] == 50
