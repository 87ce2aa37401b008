"""The web console over plain HTTP against a real daemon: login, guards, forms running the RPC
methods' own rules, and the key never coming back. (tests/browser/ drives it in Chromium.)"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import aiohttp
import pytest

from synapsed.console.guards import COOKIE, CSRF_HEADER
from tests.e2e.mcp_support import token as mcp_token
from tests.support.console import console_daemon, http_session, login_token, origin, sign_in
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream

KEY = "sk-console-http-9f8e7d6c5b4a39281706"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[DaemonProcess, FakeUpstream]]:
    with console_daemon() as pair:
        yield pair


@pytest.fixture
def daemon(served: tuple[DaemonProcess, FakeUpstream]) -> DaemonProcess:
    return served[0]


def add_keyed(daemon: DaemonProcess, name: str, upstream: FakeUpstream) -> None:
    """An OpenAI connection to the fake, its key in the (test) keyring."""
    added = daemon.ctl("connections", "add", name, "--provider", "openai", "--model", "gpt-4o-mini",
                       "--base-url", upstream.base_url, "--credential", "keyring")
    assert added.returncode == 0, added.stderr
    daemon.client.secrets_set(name, KEY)


async def submit_new(session: aiohttp.ClientSession, daemon: DaemonProcess, csrf: str, **fields: str) -> tuple[int, str]:
    """POST the add-connection form as the page would; the final status and page."""
    base = origin(daemon)
    async with session.post(base + "/console/connections/new", data=form(csrf, **fields), headers={"Origin": base}) as reply:
        return reply.status, await reply.text()


def form(csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf": csrf, **fields}


async def test_login_link_works_once(daemon: DaemonProcess) -> None:
    base, token = origin(daemon), login_token(daemon)
    async with http_session() as first, http_session() as second:
        async with first.post(base + "/console/login", json={"token": token}, headers={"Origin": base}) as ok:
            assert ok.status == 200
            cookie = ok.headers["Set-Cookie"]
        async with second.post(base + "/console/login", json={"token": token}, headers={"Origin": base}) as again:
            assert again.status == 403
            assert "already used or has expired" in (await again.json())["message"]
            assert "Set-Cookie" not in again.headers
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/console"):
        assert attribute in cookie


async def test_login_link_is_in_the_fragment_never_the_query(daemon: DaemonProcess) -> None:
    url = daemon.client.console_login().url
    assert "/console/login#" in url and "?" not in url


async def test_unknown_login_token_is_refused(daemon: DaemonProcess) -> None:
    base = origin(daemon)
    async with http_session() as session, session.post(
            base + "/console/login", json={"token": "guess"}, headers={"Origin": base}) as reply:
        assert reply.status == 403


@pytest.mark.parametrize("body", [b"{not json", b'{"token": ' + b"[" * 5000 + b"]" * 5000 + b"}"],
                         ids=["garbage", "nested past the interpreter's limit"])
async def test_a_malformed_login_body_is_a_400_saying_what_to_send(daemon: DaemonProcess, body: bytes) -> None:
    base = origin(daemon)
    async with http_session() as session, session.post(
            base + "/console/login", data=body, headers={"Origin": base, "Content-Type": "application/json"}) as reply:
        assert reply.status == 400 and "token" in (await reply.json())["message"]


async def test_a_csrf_header_that_is_not_utf8_is_refused_403_not_a_server_error(daemon: DaemonProcess) -> None:
    async with http_session() as session:
        await sign_in(session, daemon)
        cookie = next(c for c in session.cookie_jar if c.key == COOKIE).value
    base = origin(daemon)
    port = int(base.rsplit(":", 1)[1])
    body = b'{"target": "*"}'
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:  # aiohttp's client sends only UTF-8
        raw.sendall(b"POST /console/preflight/run HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: %s\r\n"
                    b"Cookie: %s=%s\r\n%s: \xff\xfe\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (port, base.encode(), COOKIE.encode(), cookie.encode(), CSRF_HEADER.encode(), len(body), body))
        assert raw.recv(64).startswith(b"HTTP/1.1 403 ")


async def test_pages_without_a_session_send_the_browser_to_login(daemon: DaemonProcess) -> None:
    async with http_session() as session, session.get(
            origin(daemon) + "/console/connections", allow_redirects=False) as reply:
        assert reply.status == 303
        assert reply.headers["Location"] == "/console/login?ended=1"


async def test_every_response_carries_the_security_headers(daemon: DaemonProcess) -> None:
    base = origin(daemon)
    async with http_session() as session:
        csrf = await sign_in(session, daemon)
        for method, path, kwargs in (("GET", "/console/connections", {}), ("GET", "/console/static/console.css", {}),
                                     ("GET", "/console/login", {}), ("POST", "/console/connections/new",
                                                                     {"data": form(csrf), "headers": {"Origin": "http://evil.test"}})):
            async with session.request(method, base + path, allow_redirects=False, **kwargs) as reply:
                assert "default-src 'self'" in reply.headers["Content-Security-Policy"], path
                assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"], path
                assert reply.headers["X-Frame-Options"] == "DENY", path
                assert reply.headers["Referrer-Policy"] == "no-referrer", path
                assert reply.headers["Cache-Control"] == "no-store", path


async def test_a_rebinding_host_is_refused(daemon: DaemonProcess) -> None:
    async with http_session() as session, session.get(
            origin(daemon) + "/console/login", headers={"Host": "attacker.example:80"}) as reply:
        assert reply.status == 403


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.test"},
    {},  # no Origin at all (a script outside any browser)
    {"Origin": "null"},  # an opaque origin without the browser's same-origin mark
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://localhost:1"},
], ids=["foreign", "absent", "null", "null-cross-site", "other-port"])
async def test_a_state_change_from_another_origin_is_refused(daemon: DaemonProcess, headers: dict[str, str]) -> None:
    base = origin(daemon)
    async with http_session() as session:
        csrf = await sign_in(session, daemon)
        data = form(csrf, name="cross-origin", provider="openai", model="m", credential="keyring", timeout_s="60")
        async with session.post(base + "/console/connections/new", data=data, headers=headers,
                                allow_redirects=False) as reply:
            assert reply.status == 403
    assert "cross-origin" not in {c.name for c in daemon.client.connections_list().connections}


async def test_a_same_origin_form_post_with_an_opaque_origin_is_accepted(daemon: DaemonProcess) -> None:
    """What Chromium sends for a form on a no-referrer page: Origin null + Sec-Fetch-Site same-origin."""
    base = origin(daemon)
    async with http_session() as session:
        csrf = await sign_in(session, daemon)
        data = form(csrf, name="opaque-origin", provider="ollama", model="llama3", credential="keyring", timeout_s="60")
        async with session.post(base + "/console/connections/new", data=data, allow_redirects=False,
                                headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}) as reply:
            assert reply.status == 303
    assert daemon.client.connections_get("opaque-origin").connection.provider == "ollama"


@pytest.mark.parametrize("csrf", ["", "wrong-token"], ids=["missing", "wrong"])
async def test_a_post_without_the_sessions_csrf_token_is_refused(daemon: DaemonProcess, csrf: str) -> None:
    base = origin(daemon)
    async with http_session() as session:
        await sign_in(session, daemon)
        async with session.post(base + "/console/ides/rotate-token", data={"csrf": csrf},
                                headers={"Origin": base}, allow_redirects=False) as reply:
            assert reply.status == 403
            assert "CSRF" in await reply.text()


async def test_the_mcp_token_is_not_a_console_credential(daemon: DaemonProcess) -> None:
    base, bearer = origin(daemon), mcp_token(daemon)
    async with aiohttp.ClientSession() as session:
        for headers in ({"Cookie": f"synapse_console={bearer}"}, {"Authorization": f"Bearer {bearer}"}):
            async with session.get(base + "/console/connections", headers=headers, allow_redirects=False) as reply:
                assert reply.status == 303, headers


async def test_the_console_cookie_is_not_an_mcp_credential(daemon: DaemonProcess) -> None:
    base = origin(daemon)
    async with http_session() as session:
        await sign_in(session, daemon)
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}}
        async with session.post(base + "/mcp", json=body, headers={"Accept": "application/json, text/event-stream"}) as reply:
            assert reply.status == 401


async def test_a_bad_base_url_shows_the_cli_error_beside_its_field(daemon: DaemonProcess) -> None:
    data_fields = dict(name="bad-url", provider="openai", model="gpt-4o-mini", base_url="http://example.com/v1",
                       credential="keyring", timeout_s="60")
    async with http_session() as session:
        status, page = await submit_new(session, daemon, await sign_in(session, daemon), **data_fields)
    assert status == 422
    cli = daemon.ctl("--json", "connections", "add", "bad-url", "--provider", "openai", "--model", "gpt-4o-mini",
                     "--base-url", "http://example.com/v1")
    error = json.loads(cli.stdout)["error"]
    assert error["kind"] == "base_url_invalid"
    assert 'id="base_url-error"' in page
    assert error["hint"].replace("'", "&#39;") in page or error["hint"] in page
    assert "bad-url" not in {c.name for c in daemon.client.connections_list().connections}


async def test_a_key_set_in_the_console_is_shown_only_as_its_fingerprint(daemon: DaemonProcess) -> None:
    base = origin(daemon)
    fields = dict(name="keyed", provider="openai", model="gpt-4o-mini", credential="keyring", timeout_s="60",
                  enabled="on", key=KEY)
    async with http_session() as session:
        status, page = await submit_new(session, daemon, await sign_in(session, daemon), **fields)
        assert status == 200  # after the redirect: the connection's page
        bodies = [page]
        for path in ("/console/connections", "/console/connections/keyed", "/console/ides", "/console/usage",
                     "/console/preflight", "/console/prompt", "/console/threads", "/console/usage/export.csv"):
            async with session.get(base + path) as more:
                bodies.append(await more.text())
    assert "…" + KEY[-4:] in page
    assert all(KEY not in body and KEY[-12:] not in body for body in bodies)
    assert KEY not in daemon.all_state_text()  # config, ledger, logs (the test keyring lives outside the home)


async def test_a_key_for_an_env_credential_is_refused_before_anything_is_saved(daemon: DaemonProcess) -> None:
    fields = dict(name="env-keyed", provider="openai", model="m", credential="env:SOME_VAR", timeout_s="60", key=KEY)
    async with http_session() as session:
        status, page = await submit_new(session, daemon, await sign_in(session, daemon), **fields)
    assert status == 422
    assert 'id="key-error"' in page and KEY not in page
    assert "env-keyed" not in {c.name for c in daemon.client.connections_list().connections}


async def test_delete_asks_first_then_removes_the_connection(daemon: DaemonProcess) -> None:
    base = origin(daemon)
    daemon.ctl("connections", "add", "doomed", "--provider", "ollama", "--model", "llama3")
    async with http_session() as session:
        csrf = await sign_in(session, daemon)
        async with session.get(base + "/console/connections/doomed/delete") as confirm:
            assert "Delete connection" in await confirm.text()
        assert "doomed" in {c.name for c in daemon.client.connections_list().connections}
        async with session.post(base + "/console/connections/doomed/delete", data=form(csrf),
                                headers={"Origin": base}, allow_redirects=False) as reply:
            assert reply.status == 303
    assert "doomed" not in {c.name for c in daemon.client.connections_list().connections}


async def test_an_unknown_connection_page_says_not_found_with_a_hint(daemon: DaemonProcess) -> None:
    async with http_session() as session:
        await sign_in(session, daemon)
        async with session.get(origin(daemon) + "/console/connections/nope") as reply:
            assert reply.status == 404
            text = await reply.text()
    assert "not_found" in text and "hint:" in text


async def test_test_prompt_returns_the_answer_with_tokens_and_cost_source(
        served: tuple[DaemonProcess, FakeUpstream]) -> None:
    daemon, upstream = served
    add_keyed(daemon, "echo", upstream)
    base = origin(daemon)
    async with http_session() as session:
        csrf = await sign_in(session, daemon)
        async with session.post(base + "/console/prompt", headers={"Origin": base},
                                data=form(csrf, connection="echo", prompt="hello there", max_output_tokens="")) as reply:
            page = await reply.text()
    assert "echo: hello there" in page
    assert "ESTIMATED" in page or "UNKNOWN" in page or "ACTUAL" in page
    assert KEY not in page


async def test_preflight_streams_one_line_per_stage(served: tuple[DaemonProcess, FakeUpstream]) -> None:
    daemon, upstream = served
    add_keyed(daemon, "streamed", upstream)
    base = origin(daemon)
    async with http_session() as session:
        csrf = await sign_in(session, daemon)
        async with session.post(base + "/console/preflight/run", json={"target": "streamed", "probe": False},
                                headers={"Origin": base, "X-CSRF-Token": csrf}) as reply:
            assert reply.headers["Content-Type"].startswith("application/x-ndjson")
            lines = [json.loads(line) for line in (await reply.text()).splitlines()]
    stages = [line["check"]["name"] for line in lines if line["type"] == "check"]
    assert stages[:3] == ["config", "base_url", "credential"] and "auth" in stages and "model" in stages
    assert lines[-1]["type"] == "result" and lines[-1]["result"]["ok"] is True


async def test_usage_downloads_as_csv_and_json_lines(served: tuple[DaemonProcess, FakeUpstream]) -> None:
    daemon, upstream = served
    add_keyed(daemon, "spender", upstream)
    assert daemon.ctl("test", "spender", "hi").returncode == 0
    base = origin(daemon)
    async with http_session() as session:
        await sign_in(session, daemon)
        async with session.get(base + "/console/usage/export.csv?connection=spender") as csv_reply:
            assert csv_reply.headers["Content-Disposition"].startswith("attachment")
            csv_text = await csv_reply.text()
        async with session.get(base + "/console/usage/export.jsonl?connection=spender") as jsonl_reply:
            rows = [json.loads(line) for line in (await jsonl_reply.text()).splitlines()]
        async with session.get(base + "/console/usage?connection=spender") as page:
            html = await page.text()
    assert csv_text.splitlines()[0].startswith("id,") and len(csv_text.splitlines()) == 2
    assert len(rows) == 1 and rows[0]["connection"] == "spender"
    assert "<svg" in html and "spender" in html
    assert not list(daemon.paths.state_dir.glob(".console-export-*"))  # the staged file is gone


async def test_logout_ends_the_session(daemon: DaemonProcess) -> None:
    base = origin(daemon)
    async with http_session() as session:
        csrf = await sign_in(session, daemon)
        async with session.post(base + "/console/logout", data=form(csrf), headers={"Origin": base},
                                allow_redirects=False) as reply:
            assert reply.status == 303
        async with session.get(base + "/console/connections", allow_redirects=False) as after:
            assert after.status == 303


def test_synapsectl_console_prints_a_one_time_url(daemon: DaemonProcess) -> None:
    result = daemon.ctl("console", "--print-url")
    assert result.returncode == 0
    assert result.stdout.strip().startswith(origin(daemon) + "/console/login#")
    as_json = json.loads(daemon.ctl("--json", "console").stdout)
    assert as_json["expires_in_s"] == 60


def test_a_disabled_console_is_neither_served_nor_offered() -> None:
    with console_daemon("\n[console]\nenabled = false\n") as (daemon, _upstream):
        result = daemon.ctl("--json", "console")
        assert result.returncode == 1
        assert json.loads(result.stdout)["error"]["kind"] == "config_invalid"
        import urllib.error
        import urllib.request
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(origin(daemon) + "/console/login", timeout=5)
        assert refused.value.code == 404


async def test_turning_the_console_off_and_on_with_reload_applies_at_once(daemon_proc: DaemonProcess) -> None:
    from tests.e2e.mcp_support import start_with_mcp

    daemon = start_with_mcp(daemon_proc)
    config = daemon.paths.config_file
    async with http_session() as session:
        await sign_in(session, daemon)
        base = origin(daemon)
        async with session.get(base + "/console/connections") as page:
            assert page.status == 200
        config.write_text(config.read_text() + "\n[console]\nenabled = false\n")
        assert daemon.ctl("reload").returncode == 0
        async with session.get(base + "/console/connections", allow_redirects=False) as page:
            assert page.status == 404 and "turned off" in await page.text()
        off = daemon.ctl("console", "--json")
        assert off.returncode == 1 and "console.enabled" in off.stdout + off.stderr
        config.write_text(config.read_text().replace("enabled = false", "enabled = true"))
        assert daemon.ctl("reload").returncode == 0
        # The old session ended when the console went off; a new link signs in again.
        async with session.get(base + "/console/connections", allow_redirects=False) as page:
            assert page.status == 303
    async with http_session() as session:
        await sign_in(session, daemon)
        async with session.get(origin(daemon) + "/console/connections") as page:
            assert page.status == 200


async def test_a_console_off_at_start_is_turned_on_by_reload(daemon_proc: DaemonProcess) -> None:
    from tests.e2e.mcp_support import start_with_mcp

    daemon = start_with_mcp(daemon_proc, "\n[console]\nenabled = false\n")
    assert daemon.ctl("console", "--json").returncode == 1
    config = daemon.paths.config_file
    config.write_text(config.read_text().replace("enabled = false", "enabled = true"))
    assert daemon.ctl("reload").returncode == 0
    async with http_session() as session:
        await sign_in(session, daemon)
        async with session.get(origin(daemon) + "/console/connections") as page:
            assert page.status == 200
