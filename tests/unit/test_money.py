"""How costs read: a small one never shows as $0.0000."""

from __future__ import annotations

import pytest

from synapsed.money import usd


@pytest.mark.parametrize(("value", "shown"), [(None, "—"), (0.0, "$0"), (0.00003, "<$0.0001"), (0.00012, "$0.0001"),
                                              (0.0345, "$0.0345"), (12.5, "$12.50"), (1234.5, "$1,234.50")])
def test_costs_read_as_people_expect(value: float | None, shown: str) -> None:
    assert usd(value) == shown
