"""Shared helpers for the benchmarks: percentiles and rewriting one section of BENCHMARKS.md."""

from __future__ import annotations

import time
from pathlib import Path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def write_section(path: Path, name: str, table: str, machine: str, command: str) -> None:
    """Replace this benchmark's section in BENCHMARKS.md, leaving the others as they are."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    stamp = time.strftime("%Y-%m-%d")
    section = f"{start}\n## {name}\n\nCommand: `{command}` — {stamp}, {machine}\n\n{table}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nFigures from `make bench` on the machine named in each section.\n"
    if start in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
