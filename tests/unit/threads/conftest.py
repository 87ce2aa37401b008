"""A temp thread store and the rules over it, with settings a test may change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from synapsed.config import ThreadSettings
from synapsed.protocol import Message
from synapsed.threads.rules import Threads
from synapsed.threads.store import ThreadStore, TurnMeta

META = TurnMeta("gpt", "openai", "gpt-4o-mini-2024-07-18", "mcp:cursor")


class Settings:
    def __init__(self) -> None:
        self.value = ThreadSettings()

    def set(self, **changes: object) -> None:
        self.value = msgspec.structs.replace(self.value, **changes)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ThreadStore]:
    s = ThreadStore(tmp_path / "threads.sqlite3")
    s.open()
    yield s
    s.close()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def threads(store: ThreadStore, settings: Settings) -> Threads:
    return Threads(store, lambda: settings.value)


def one_turn(threads: Threads, thread: str, prompt: str, answer: str, system: str | None = None) -> tuple[str, int]:
    claim = threads.begin(thread)
    try:
        turn = claim.commit(system if system is not None else claim.system, [Message("user", prompt)],
                            Message("assistant", answer), META)
    finally:
        claim.release()
    return claim.id, turn
