"""Shared helpers for the benchmarks: percentiles and rewriting one section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HEADERS = ("measure", "target", "result", "verdict")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def report(section: str, rows: Sequence[Sequence[object]], markdown: Path | None, note: str = "",
           headers: Sequence[str] = HEADERS) -> None:
    """Print the table (and a note), and rewrite this benchmark's section of BENCHMARKS.md."""
    table = "\n".join([
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows],
    ])
    print(table)
    print(f"\nmachine: {machine()}" + (f"; {note}" if note else ""))
    if markdown:
        command = " ".join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
        write_section(markdown, section, table, machine(), command)


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
