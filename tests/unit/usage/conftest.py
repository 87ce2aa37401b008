"""Shared fixtures of the usage tests: a temp ledger and a row factory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from synapsed.usage.ledger import Ledger, UsageRow

KEY = "sk-test-Us9Qa2Wm7Lr4Tz6Xc1Vb8Nk3"


def _row(connection: str = "gpt", status: str = "ok", ts: float | None = None, **kw: object) -> UsageRow:
    fields: dict[str, object] = dict(
        ts=ts if ts is not None else time.time(), connection=connection, provider="openai", model_requested="gpt-4o-mini",
        model_reported="gpt-4o-mini-2024-07-18", caller="synapsectl", caller_session=None, status=status,
        error_kind=None if status == "ok" else "rate_limited", latency_ms=12.5, input_tokens=10 if status == "ok" else None,
        output_tokens=5 if status == "ok" else None, cost_usd=0.001 if status == "ok" else None,
        cost_source="ESTIMATED" if status == "ok" else "UNKNOWN", price_version=None,
    )
    fields.update(kw)
    return UsageRow(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def ledger(tmp_path: Path):
    led = Ledger(tmp_path / "usage.sqlite3")
    led.open()
    yield led
    led.close()


