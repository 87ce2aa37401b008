"""The console in a real Chromium: the guide done in the browser alone, the one-time login, the
write-only key, live preflight stages, refusals, session expiry and keyboard-only use."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Response

from tests.browser.conftest import shoot, signed_in
from tests.support.console import console_daemon, origin
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream

KEY = "sk-browser-test-4c3b2a1908f7e6d5c4b3"


def nav(page: Page, section: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=section, exact=True).click()


def add_through_form(page: Page, name: str, base_url: str, key: str | None = KEY) -> None:
    nav(page, "Connections")
    page.get_by_role("link", name="Add connection").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Provider").select_option("openai")
    page.get_by_label("Model").fill("gpt-4o-mini")
    page.get_by_label("Base URL").fill(base_url)
    page.get_by_label("Credential").fill("keyring")
    page.get_by_label("Timeout").fill("20")
    if key is not None:
        page.get_by_label("Key", exact=True).fill(key)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/console/connections/{name}?notice=saved")


def test_the_guide_end_to_end_in_the_console_alone(
        page: Page, served: tuple[DaemonProcess, FakeUpstream], screens: Path) -> None:
    daemon, upstream = served
    shoot(page, screens, "01-connections-empty")
    page.get_by_role("link", name="Add connection").click()
    shoot(page, screens, "02-add-connection")
    nav(page, "Connections")
    add_through_form(page, "guide", upstream.base_url)
    assert page.locator("#key-status code").inner_text() == "sk-…" + KEY[-4:]
    shoot(page, screens, "03-connection-saved")

    listed = json.loads(daemon.ctl("--json", "connections", "list").stdout)["connections"]
    guide = next(c for c in listed if c["name"] == "guide")
    assert (guide["provider"], guide["model"], guide["key"]["present"]) == ("openai", "gpt-4o-mini", True)

    page.get_by_role("link", name="Run preflight").click()
    page.get_by_role("button", name="Run preflight").click()
    page.locator("#preflight-verdict").wait_for()
    assert page.locator("#preflight-verdict").inner_text() == "All checks passed."
    stages = page.locator("table[data-connection=guide] tr.check").evaluate_all("rows => rows.map(r => r.dataset.stage)")
    assert stages[:3] == ["config", "base_url", "credential"] and {"reach", "auth", "model"} <= set(stages)
    shoot(page, screens, "04-preflight-passed")

    nav(page, "Test prompt")
    page.get_by_label("Connection").select_option("guide")
    page.get_by_label("Prompt").fill("Say hi")
    page.get_by_role("button", name="Send").click()
    assert page.locator("blockquote.answer").inner_text() == "echo: Say hi"
    assert "ms" in page.locator("#answer").inner_text()
    shoot(page, screens, "05-test-prompt")

    nav(page, "IDEs")
    page.get_by_role("button", name="Copy Cursor snippet").click()
    page.get_by_role("button", name="Copied").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert json.loads(copied)["mcpServers"]["synapse"]["args"] == ["mcp", "stdio"]
    shoot(page, screens, "06-ides")

    nav(page, "Usage")
    assert page.locator("svg.chart").count() == 2
    assert "guide" in page.locator("table.history").inner_text()
    shoot(page, screens, "07-usage")
    nav(page, "Threads")
    shoot(page, screens, "08-threads")


def test_a_login_link_signs_in_once_and_leaves_the_address_bar(
        context: BrowserContext, browser, served: tuple[DaemonProcess, FakeUpstream], screens: Path) -> None:
    daemon = served[0]
    link = daemon.client.console_login().url
    page = context.new_page()
    page.goto(link)
    page.wait_for_url("**/console/connections")
    assert "#" not in page.url
    page.go_back()
    assert link.split("#")[1] not in page.url  # the entry the link made was rewritten before use

    other = browser.new_context()
    try:
        late = other.new_page()
        late.goto(link)
        late.get_by_text("already used or has expired").wait_for()
        assert "/console/login" in late.url
        assert not [c for c in other.cookies() if c["name"] == "synapse_console"]
        shoot(late, screens, "09-login-link-used")
    finally:
        other.close()


def test_the_key_never_reaches_a_page_a_response_or_the_dom(
        page: Page, served: tuple[DaemonProcess, FakeUpstream]) -> None:
    daemon, upstream = served
    bodies: list[bytes] = []

    def keep(response: Response) -> None:
        try:
            bodies.append(response.body())
        except Exception:  # redirects have no body to read
            pass

    page.on("response", keep)
    add_through_form(page, "secretive", upstream.base_url)
    assert page.get_by_role("textbox", name="Key", exact=True).input_value() == ""
    doms = []
    for link in ("Connections", "Preflight", "Test prompt", "Usage", "IDEs", "Threads"):
        nav(page, link)
        page.wait_for_load_state()
        doms.append(page.content())
    page.goto(origin(daemon) + "/console/connections/secretive")
    doms.append(page.content())
    page.remove_listener("response", keep)
    assert bodies and all(KEY.encode() not in body for body in bodies)
    assert all(KEY not in dom and KEY[-10:] not in dom for dom in doms)
    assert KEY not in daemon.all_state_text()


def test_a_failed_stage_shows_its_kind_and_hint(page: Page, served: tuple[DaemonProcess, FakeUpstream], screens: Path) -> None:
    add_through_form(page, "keyless", served[1].base_url, key=None)
    page.get_by_role("link", name="Run preflight").click()
    page.get_by_role("button", name="Run preflight").click()
    failed = page.locator("table[data-connection=keyless] tr.check.fail")
    failed.wait_for()
    assert failed.get_attribute("data-stage") == "credential"
    assert "credential_missing" in failed.inner_text() and "hint:" in failed.inner_text()
    assert page.locator("#preflight-verdict").inner_text() == "Preflight failed."
    shoot(page, screens, "10-preflight-failed")


def test_the_billed_probe_asks_before_it_spends(page: Page, served: tuple[DaemonProcess, FakeUpstream]) -> None:
    daemon, upstream = served
    add_through_form(page, "probed", upstream.base_url)
    page.get_by_role("link", name="Run preflight").click()
    page.get_by_label("Also send a billed test request (probe)").check()
    chats = upstream.count("POST", upstream.chat_path)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Run preflight").click()
    time.sleep(0.5)
    assert upstream.count("POST", upstream.chat_path) == chats  # declined: nothing sent
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Run preflight").click()
    page.locator("table[data-connection=probed] tr[data-stage=probe]").wait_for()
    assert upstream.count("POST", upstream.chat_path) == chats + 1


class _Attacker(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        page = (f'<form id="f" method="post" action="{self.target}">'
                '<input name="name" value="planted"><input name="provider" value="openai">'
                '<input name="model" value="m"><input name="csrf" value="guess"></form>'
                '<script>document.getElementById("f").submit()</script>')
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(page.encode())

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def attacker_site(served: tuple[DaemonProcess, FakeUpstream]) -> Iterator[str]:
    _Attacker.target = origin(served[0]) + "/console/connections/new"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_cross_origin_form_post_is_refused(page: Page, attacker_site: str, served: tuple[DaemonProcess, FakeUpstream]) -> None:
    with page.expect_response(lambda r: r.url.endswith("/console/connections/new")) as refused:
        page.goto(attacker_site)
    assert refused.value.status == 403
    assert "planted" not in {c.name for c in served[0].client.connections_list().connections}


def test_an_expired_session_goes_back_to_login(context: BrowserContext, screens: Path) -> None:
    with console_daemon("\n[console]\nsession_idle_s = 1\nsession_max_age_s = 1\n") as (daemon, _upstream):
        page = signed_in(context, daemon)
        time.sleep(1.5)
        nav(page, "Usage")
        page.get_by_text("Your console session has ended.").wait_for()
        assert "/console/login" in page.url
        shoot(page, screens, "11-session-ended")


def test_the_add_form_works_from_the_keyboard_alone(page: Page, served: tuple[DaemonProcess, FakeUpstream]) -> None:
    daemon, upstream = served

    def tab_to(predicate: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(predicate):
                return
        raise AssertionError(f"Tab never reached: {predicate}")

    tab_to("document.activeElement.textContent.trim() === 'Add connection'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/connections/new")
    tab_to("document.activeElement.id === 'name'")
    order = []
    typed = {"name": "by-keys", "model": "gpt-4o-mini", "base_url": upstream.base_url, "key": KEY}
    for _ in range(13):
        element = page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        order.append(element)
        if element in typed:
            page.keyboard.type(typed[element])
        if element == "Save":
            break
        page.keyboard.press("Tab")
    assert order == ["name", "provider", "model", "base_url", "credential", "timeout_s",
                     "opt-openai-organization", "opt-openai-project", "opt-openai-store", "key", "enabled", "Save"]
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/connections/by-keys?notice=saved")
    assert daemon.client.connections_get("by-keys").connection.key.present  # type: ignore[union-attr]
