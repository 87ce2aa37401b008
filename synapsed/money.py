"""USD amounts as people read them: small costs never show as $0.0000 (`--json` keeps the exact value)."""

from __future__ import annotations


def usd(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    if abs(value) < 0.0001:
        return "<$0.0001"
    if abs(value) < 1:
        return f"${value:.4f}"
    return f"${value:,.2f}"
