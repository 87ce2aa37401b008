"""Fixtures the end-to-end modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_upstream import FakeUpstream


@pytest.fixture
def openai_up() -> Iterator[FakeUpstream]:
    """An OpenAI fake that echoes the last message (a module may override it)."""
    fake = FakeUpstream("openai").start()
    fake.echo_chat()
    yield fake
    fake.stop()
