"""Output: aligned plain-text tables for people, JSON for scripts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

import msgspec

from synapsed import protocol as p


def emit_json(value: Any, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(msgspec.json.format(msgspec.json.encode(value), indent=2).decode() + "\n")


def result(value: Any, as_json: bool, line: str) -> None:
    """A command's outcome: the value as JSON with --json, else one line for people."""
    if as_json:
        emit_json(value)
    else:
        print(line)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up per call: a default bound at import ignores a redirected stdout
    cells = [[str(h).upper() for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")


def fields(pairs: Sequence[tuple[str, Any]], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        out.write(f"{key + ':':<{width + 1}} {'-' if value is None else value}\n")


def duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def key_cell(key: p.KeyStatus | None) -> str:
    if key is None:
        return "-"
    if key.present:
        return f"ok {key.fingerprint}"
    return key.error_kind or "not needed"


def preflight_cell(last: p.LastPreflight | None) -> str:
    if last is None:
        return "never run"
    when = last.at[5:16].replace("T", " ")
    if not last.ok:
        return f"FAIL {last.failed_check}: {last.kind} ({when})"
    return f"ok {when}" + (f" ({last.warnings} warning(s))" if last.warnings else "")


def spend_cell(usage: p.BudgetView | None) -> str:
    if usage is None:
        return "-"
    from synapsed.money import usd

    return f"{usd(usage.today_usd)} / {usage.today_tokens:,} tok"


def budget_cell(usage: p.BudgetView | None) -> str:
    if usage is None or usage.limits is None:
        return "none"
    parts = []
    for limit in usage.limits:
        used = f"${limit.used:.2f}" if limit.unit == "usd" else f"{int(limit.used):,}"
        cap = f"${limit.limit:.2f}" if limit.unit == "usd" else f"{int(limit.limit):,} tok"
        parts.append(f"{limit.period} {used}/{cap}{' OVER' if limit.over else ''}")
    return f"{usage.mode}: " + ", ".join(parts)
