"""synapsed/event_loop.py: `[daemon] event_loop` picks the loop, and says why."""

from __future__ import annotations

import asyncio
import sys

import pytest

from synapsed import event_loop
from synapsed.errors import SynapseError


def _without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError


def _runs_on(choice: event_loop.EventLoopChoice) -> str:
    async def name() -> str:
        return event_loop.running_name()

    with asyncio.Runner(loop_factory=choice.factory) as runner:
        return runner.run(name())


def test_auto_picks_uvloop_where_it_is_installed() -> None:
    choice = event_loop.choose("auto")
    assert (choice.name, choice.reason) == ("uvloop", "auto: uvloop is installed")
    assert _runs_on(choice) == "uvloop"


def test_the_asyncio_setting_runs_the_stdlib_loop() -> None:
    choice = event_loop.choose("asyncio")
    assert (choice.name, choice.reason) == ("asyncio", "configured")
    assert _runs_on(choice) == "asyncio"


def test_the_uvloop_setting_runs_uvloop() -> None:
    assert _runs_on(event_loop.choose("uvloop")) == "uvloop"


def test_auto_without_uvloop_is_the_stdlib_loop_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_uvloop(monkeypatch)
    choice = event_loop.choose("auto")
    assert (choice.name, choice.reason) == ("asyncio", "auto: uvloop is not installed")
    assert _runs_on(choice) == "asyncio"


def test_the_uvloop_setting_without_uvloop_is_config_invalid_with_the_install_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _without_uvloop(monkeypatch)
    with pytest.raises(SynapseError) as caught:
        event_loop.choose("uvloop")
    assert caught.value.kind == "config_invalid"
    assert "uvloop is not installed" in caught.value.message
    assert caught.value.hint.startswith("pip install 'uvloop")
