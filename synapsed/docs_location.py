"""Where the guides are on this machine: the checkout's docs/ when running from the source tree,
or the copy a wheel installs under {prefix}/share/mcp-synapse/docs (pyproject's data-files), so
that every "see docs/…" synapse prints can be opened offline, by path or `synapsectl docs`."""

from __future__ import annotations

import sys
from pathlib import Path

INSTALLED = Path("share") / "mcp-synapse" / "docs"


def docs_root() -> Path | None:
    checkout = Path(__file__).resolve().parents[1] / "docs"
    for candidate in (checkout, Path(sys.prefix) / INSTALLED, Path(sys.base_prefix) / INSTALLED):
        if (candidate / "providers" / "README.md").is_file():
            return candidate
    return None


def doc_ref(relative: str) -> str:
    """`docs/x.md[#anchor]` as a path that exists here (anchor kept), or as given when none does."""
    page, _, anchor = relative.partition("#")
    root = docs_root()
    if root is None or not page.startswith("docs/"):
        return relative
    found = root / page.removeprefix("docs/")
    return (str(found) + (f"#{anchor}" if anchor else "")) if found.is_file() else relative


def topics() -> dict[str, Path]:
    """Every guide by its short name: `ides`, `usage`, `providers/openai`, …"""
    root = docs_root()
    if root is None:
        return {}
    return {str(p.relative_to(root).with_suffix("")): p for p in sorted(root.rglob("*.md"))}
