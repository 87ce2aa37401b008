"""Helpers for console tests: a module-wide daemon with a fake OpenAI upstream, login by the
one-time link over plain HTTP, and the CSRF token a page carries."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from tests.e2e.mcp_support import start_with_mcp
from tests.support.daemon import DaemonProcess, isolated_env
from tests.support.fake_upstream import FakeUpstream

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def console_daemon(extra_config: str = "") -> Iterator[tuple[DaemonProcess, FakeUpstream]]:
    """A daemon (MCP on a free port, isolated keyring and home) and an echoing OpenAI fake."""
    root = Path(tempfile.mkdtemp(prefix="syn-", dir="/tmp"))
    upstream = FakeUpstream("openai", model="gpt-4o-mini").start()
    upstream.echo_chat("echo: ")
    daemon = DaemonProcess(root / "h", isolated_env(root, root / "h", root / "keyring.json"))
    try:
        yield start_with_mcp(daemon, extra_config), upstream
    finally:
        daemon.cleanup()
        upstream.stop()
        shutil.rmtree(root, ignore_errors=True)


def origin(daemon: DaemonProcess) -> str:
    status = daemon.client.daemon_status()
    assert status.mcp is not None
    return status.mcp.url.removesuffix("/mcp")


def login_token(daemon: DaemonProcess) -> str:
    return daemon.client.console_login().url.split("#", 1)[1]


def http_session() -> aiohttp.ClientSession:
    # unsafe=True: keep cookies for an IP-address host such as 127.0.0.1.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(session: aiohttp.ClientSession, daemon: DaemonProcess) -> str:
    """Redeem a fresh link as the login page's script does; the CSRF token of the new session."""
    base = origin(daemon)
    async with session.post(base + "/console/login", json={"token": login_token(daemon)},
                            headers={"Origin": base}) as reply:
        assert reply.status == 200, await reply.text()
    async with session.get(base + "/console/connections") as page:
        found = CSRF_RE.search(await page.text())
    assert found is not None
    return found.group(1)
