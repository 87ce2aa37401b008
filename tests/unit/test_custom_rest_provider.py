"""custom-rest calls against a fake gateway: keys that would split a header are refused before
anything is sent, and the connection's JMESPath expressions never hold up the event loop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest

from synapsed import custom_rest
from synapsed.config import ConfigStore, ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.gateway import Gateway
from synapsed.protocol import ChatRequest, Message
from synapsed.providers import custom_rest as provider
from tests.support.fake_upstream import Canned, FakeUpstream

KEY_WITH_BREAK = "k-S3cretGatewayKey\r\nX-Injected: 1"
GEN = "/v1/gen"  # the fake's base URL ends in /v1


async def _gateway(tmp_path: Path, upstream: FakeUpstream, credential: str) -> Gateway:
    store = ConfigStore(tmp_path / "config.toml")
    store.load()
    conn = ConnectionConfig(provider="custom-rest", model="m", base_url=upstream.base_url + "/gen", credential=credential,
                            timeout_s=10, options={"body": '{"q": "{prompt}"}', "answer": "out.text",
                                                   "headers": '{"Authorization": "Token {key}"}'})
    await store.mutate(lambda c: msgspec.structs.replace(c, connections={"c": conn}))
    return Gateway(store)


@pytest.fixture
def gateway_up(upstreams: list[FakeUpstream]) -> FakeUpstream:
    upstream = FakeUpstream("openai").start()
    upstreams.append(upstream)
    upstream.routes[("POST", GEN)] = Canned(200, {"out": {"text": "pong"}})
    return upstream


async def _ask(gateway: Gateway) -> str:
    _, result = await gateway.complete("c", ChatRequest(messages=[Message("user", "hi")]))
    return result.text


async def test_a_key_from_env_with_a_line_break_is_refused_before_sending(
        tmp_path: Path, gateway_up: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEY", KEY_WITH_BREAK)
    gateway = await _gateway(tmp_path, gateway_up, "env:GATEWAY_KEY")
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    assert caught.value.kind == "credential_unreadable" and caught.value.detail["field"] == "credential"
    assert "GATEWAY_KEY" in (caught.value.hint or "")
    assert "S3cretGateway" not in f"{caught.value.message} {caught.value.hint}"
    assert gateway_up.count("POST", GEN) == 0
    await gateway.close()


async def test_a_key_file_with_a_line_break_inside_is_refused_and_preflight_sees_it(
        tmp_path: Path, gateway_up: FakeUpstream) -> None:
    from synapsed import secrets

    key_file = tmp_path / "gateway.key"
    key_file.write_text(KEY_WITH_BREAK + "\n")
    key_file.chmod(0o600)
    gateway = await _gateway(tmp_path, gateway_up, f"file:{key_file}")
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    assert caught.value.kind == "credential_unreadable"
    assert str(key_file) in (caught.value.hint or "")
    status = secrets.status("c", f"file:{key_file}")  # what preflight's credential stage reports
    assert status.present is False and status.error_kind == "credential_unreadable"
    assert gateway_up.count("POST", GEN) == 0
    await gateway.close()


async def test_a_key_file_with_only_a_trailing_newline_is_fine(tmp_path: Path, gateway_up: FakeUpstream) -> None:
    key_file = tmp_path / "gateway.key"
    key_file.write_text("k-S3cretGatewayKey\r\n")
    key_file.chmod(0o600)
    gateway = await _gateway(tmp_path, gateway_up, f"file:{key_file}")
    assert await _ask(gateway) == "pong"
    assert gateway_up.requests[-1].headers["Authorization"] == "Token k-S3cretGatewayKey"
    await gateway.close()


def test_render_headers_never_splits_a_header_with_a_key() -> None:
    spec = custom_rest.parse_spec({"body": '{"q": "{prompt}"}', "answer": "a", "headers": '{"X-Key": "{key}"}'})
    with pytest.raises(SynapseError) as caught:
        custom_rest.render_headers(spec, "abc\ndef")
    assert caught.value.kind == "credential_unreadable"


async def test_expressions_run_off_the_event_loop(tmp_path: Path, gateway_up: FakeUpstream,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "k-fine")
    real_search = custom_rest.search

    def slow_search(spec: custom_rest.RestSpec, name: str, document: object) -> object:
        time.sleep(0.3)  # a heavy expression over a big reply
        return real_search(spec, name, document)

    monkeypatch.setattr(custom_rest, "search", slow_search)
    gateway = await _gateway(tmp_path, gateway_up, "env:GATEWAY_KEY")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    running = asyncio.create_task(ticker())
    assert await _ask(gateway) == "pong"
    running.cancel()
    assert ticks >= 10  # the loop kept turning while the expressions ran
    await gateway.close()


async def test_expressions_past_their_time_are_upstream_malformed(tmp_path: Path, gateway_up: FakeUpstream,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "k-fine")
    monkeypatch.setattr(provider, "EXPRESSION_TIMEOUT_S", 0.1)
    monkeypatch.setattr(custom_rest, "search", lambda spec, name, document: time.sleep(0.5))
    gateway = await _gateway(tmp_path, gateway_up, "env:GATEWAY_KEY")
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    assert caught.value.kind == "upstream_malformed" and "took over 0.1 s" in caught.value.message
    assert gateway_up.count("POST", GEN) == 1
    await gateway.close()


async def test_an_expression_failing_on_the_reply_is_upstream_malformed(tmp_path: Path, gateway_up: FakeUpstream,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "k-fine")
    gateway = await _gateway(tmp_path, gateway_up, "env:GATEWAY_KEY")
    await gateway.config_store.mutate(lambda c: c.with_connection("c", msgspec.structs.replace(
        c.connections["c"], options={**c.connections["c"].options, "answer": "abs(out.text)"})))
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    assert caught.value.kind == "upstream_malformed" and "answer" in caught.value.message
    await gateway.close()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_gateway_redirect_is_refused_and_the_key_goes_nowhere_else(
        tmp_path: Path, gateway_up: FakeUpstream, upstreams: list[FakeUpstream], monkeypatch: pytest.MonkeyPatch,
        status: int) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "k-fine")
    target = FakeUpstream("openai").start()
    upstreams.append(target)
    gateway_up.routes[("POST", GEN)] = Canned(status, body=b"", headers={"Location": target.base_url + "/gen"})
    gateway = await _gateway(tmp_path, gateway_up, "env:GATEWAY_KEY")
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    assert caught.value.kind == "upstream_malformed" and "redirect" in caught.value.message
    assert gateway_up.count("POST", GEN) == 1 and target.requests == []
    await gateway.close()
