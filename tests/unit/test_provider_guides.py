"""Every provider id has a guide as complete as the product's own OpenAI page: the sections a
user works through, a section per preflight stage (what `preflight --explain` links to), and
every error kind the adapters and the gateway can raise, explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from synapsed.catalog import GUIDE_STAGES, PROVIDERS, guide_for
from synapsed.providers.http import ADAPTER_KINDS, CONNECTION_KINDS

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = (
    "## Prerequisites",
    "## Connect it",
    "## Minimum settings",
    "## Options",
    "## How preflight checks it",
    "## Troubleshooting",
    "## Error kinds",
    "## Security and least privilege",
    "## Boundary conditions",
    "## Final checklist",
)
GUIDES = sorted({info.docs for info in PROVIDERS.values()})


def test_every_provider_id_has_a_guide_that_exists() -> None:
    for pid, info in PROVIDERS.items():
        assert info.docs, pid
        assert (ROOT / info.docs).is_file(), f"{pid}: {info.docs} is missing"
        assert f"`{pid}`" in (ROOT / info.docs).read_text(encoding="utf-8"), f"{info.docs} never names {pid}"


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_has_every_section(guide: str) -> None:
    text = (ROOT / guide).read_text(encoding="utf-8")
    missing = [s for s in SECTIONS if s not in text]
    assert missing == [], f"{guide} lacks {missing}"


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_has_a_section_per_preflight_stage(guide: str) -> None:
    text = (ROOT / guide).read_text(encoding="utf-8")
    missing = [stage for stage in GUIDE_STAGES if f"### {stage} stage" not in text]
    assert missing == [], f"{guide} lacks stage sections {missing}"


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_explains_every_error_kind(guide: str) -> None:
    text = (ROOT / guide).read_text(encoding="utf-8")
    missing = [kind for kind in (*ADAPTER_KINDS, *CONNECTION_KINDS) if f"`{kind}`" not in text]
    assert missing == [], f"{guide} does not explain {missing}"


def test_explain_links_point_at_real_sections() -> None:
    link = guide_for("openai", "auth")
    page, anchor = link.split("#")
    assert anchor == "auth-stage" and "### auth stage" in (ROOT / page).read_text(encoding="utf-8")


def test_architecture_lists_every_error_kind() -> None:
    from pathlib import Path

    from synapsed.errors import ERROR_KINDS

    text = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    assert [k for k in ERROR_KINDS if f"`{k}`" not in text] == []
