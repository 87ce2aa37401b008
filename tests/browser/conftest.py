"""Browser tests: Playwright driving the OS's Chromium (Playwright's own browser download is
never used). Skipped, with the reason, where the package or the browser is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.console import console_daemon, origin
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream

CHROMIUM = os.environ.get("SYNAPSE_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which a
# closed network refuses many times a second.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None

# pytest refuses a module-level skip in a conftest (it aborts the whole run), so the reason is
# attached to every browser test at collection instead.
SKIP_REASON: str | None = None
if sync_playwright is None:
    SKIP_REASON = "browser tests need the playwright package: pip install -r requirements-dev.txt (make test does)"
elif not Path(CHROMIUM).exists():
    SKIP_REASON = (f"browser tests need Chromium at {CHROMIUM}: apt-get install chromium (Debian) "
                   "or set SYNAPSE_TEST_CHROMIUM")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SKIP_REASON is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API runs its own event loop, which must be gone before
    # any asyncio test of another module starts.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots of every page for humans to look at: under the run's temp dir, or where
    $SYNAPSE_CONSOLE_SCREENS says (`make screens` refreshes docs/console/ that way)."""
    chosen = os.environ.get("SYNAPSE_CONSOLE_SCREENS")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen)
    return tmp_path_factory.mktemp("console-screens")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[DaemonProcess, FakeUpstream]]:
    with console_daemon() as pair:
        yield pair


@pytest.fixture
def context(browser: Browser, served: tuple[DaemonProcess, FakeUpstream]) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin(served[0]))
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def signed_in(ctx: BrowserContext, daemon: DaemonProcess) -> Page:
    page = ctx.new_page()
    page.goto(daemon.client.console_login().url)
    page.wait_for_url("**/console/connections")
    return page


@pytest.fixture
def page(context: BrowserContext, served: tuple[DaemonProcess, FakeUpstream]) -> Page:
    return signed_in(context, served[0])


def shoot(page: Page, screens: Path, name: str, **kwargs: Any) -> None:
    page.screenshot(path=str(screens / f"{name}.png"), full_page=True, **kwargs)
