"""usage/prices.py: ACTUAL / ESTIMATED / UNKNOWN, overrides and wildcards."""

from __future__ import annotations

import pytest

from synapsed.config import PriceOverride
from synapsed.protocol import PriceRow
from synapsed.usage.prices import PriceTable, builtin
from tests.unit.usage.conftest import KEY, _row  # noqa: F401


def test_reported_cost_is_actual() -> None:
    assert PriceTable().cost("openrouter", "x", "x", 10, 5, 0.0123).source == "ACTUAL"


def test_listed_model_is_estimated_with_table_version() -> None:
    cost = PriceTable().cost("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000, None)
    assert cost.source == "ESTIMATED" and cost.usd == pytest.approx(0.75)
    assert cost.price_version == f"builtin:{builtin()[0]}"


def test_unknown_model_or_missing_tokens_is_unknown_never_guessed() -> None:
    assert PriceTable().cost("openai", "gpt-9-hyper", "gpt-9-hyper", 10, 5, None).source == "UNKNOWN"
    assert PriceTable().cost("openai", "gpt-4o", "gpt-4o", None, 5, None).source == "UNKNOWN"
    assert PriceTable().cost("azure-openai", "gpt-4o", "gpt-4o", 10, 5, None).source == "UNKNOWN"


def test_user_overrides_win_and_wildcards_apply() -> None:
    table = PriceTable({"openai/gpt-4o": PriceOverride(1.0, 2.0), "ollama/*": PriceOverride(0.0, 0.0)})
    assert table.cost("openai", "gpt-4o", "gpt-4o", 1_000_000, 0, None).usd == pytest.approx(1.0)
    local = table.cost("ollama", "llama3.2", "llama3.2", 100, 100, None)
    assert local.source == "ESTIMATED" and local.usd == 0.0 and local.price_version == "config"
    assert table.rows()[0] == PriceRow("ollama/*", 0.0, 0.0, "config")


