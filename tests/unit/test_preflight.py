"""Preflight stage by stage: each failure stops the run with its kind and hint, later stages skip."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import msgspec
import pytest

from synapsed import preflight
from synapsed.config import ConfigStore, ConnectionConfig
from synapsed.gateway import Gateway
from synapsed.protocol import PreflightReport
from tests.support.fake_upstream import Canned, FakeUpstream, openai_error, self_signed_context

KEY = "sk-test-Pf7Qa2Wm9Lr4Tz6Xc1Vb8Nk3"


@pytest.fixture
def env_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PF_KEY", KEY)
    return KEY


async def _gateway(tmp_path: Path, conns: dict[str, ConnectionConfig]) -> Gateway:
    store = ConfigStore(tmp_path / "config.toml")
    store.load()
    # Set the live config directly: some tests need values that validation would refuse at the door.
    await store.mutate(lambda c: msgspec.structs.replace(c, connections=conns))
    return Gateway(store)


def _conn(upstream: FakeUpstream | None, **overrides: object) -> ConnectionConfig:
    fields: dict[str, object] = dict(provider="openai", model="test-model", credential="env:PF_KEY", timeout_s=5.0)
    if upstream is not None:
        fields["base_url"] = upstream.base_url
    fields.update(overrides)
    return ConnectionConfig(**fields)  # type: ignore[arg-type]


def _statuses(report: PreflightReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def _failed(report: PreflightReport):
    failed = [c for c in report.checks if c.status == "fail"]
    assert len(failed) == 1, report
    later = report.checks[[c.name for c in report.checks].index(failed[0].name) + 1 :]
    assert all(c.status == "skip" and "earlier check failed" in c.message for c in later)
    return failed[0]


async def _run(tmp_path: Path, conn: ConnectionConfig, probe: bool = False) -> PreflightReport:
    gateway = await _gateway(tmp_path, {"c": conn})
    try:
        return await preflight.run_one(gateway, "c", probe=probe)
    finally:
        await gateway.close()


async def test_healthy_connection_passes_every_stage_without_billing(tmp_path, upstreams, env_key) -> None:
    upstream = FakeUpstream("openai").start()
    upstreams.append(upstream)
    report = await _run(tmp_path, _conn(upstream))
    assert report.ok
    assert [c.name for c in report.checks] == list(preflight.STAGES)
    assert _statuses(report) == {s: "pass" for s in preflight.STAGES[:-1]} | {"probe": "skip"}
    assert upstream.count("POST", upstream.chat_path) == 0  # nothing billed without --probe
    assert "sk-…Nk3" not in str(report) and KEY not in msgspec.json.encode(report).decode()


async def test_preflight_reports_disabled_connection_at_config(tmp_path, env_key) -> None:
    check = _failed(await _run(tmp_path, _conn(None, enabled=False)))
    assert check.name == "config" and check.kind == "connection_disabled"
    assert "synapsectl connections enable c" in (check.hint or "")


async def test_preflight_reports_unknown_connection_at_config(tmp_path) -> None:
    gateway = await _gateway(tmp_path, {})
    report = await preflight.run_one(gateway, "ghost")
    assert _failed(report).kind == "not_found"


async def test_preflight_reports_bad_base_url_with_its_hint(tmp_path, env_key) -> None:
    check = _failed(await _run(tmp_path, _conn(None, base_url="https://api.example.com/v1/chat/completions")))
    assert check.name == "base_url" and check.kind == "base_url_invalid"
    assert "synapse appends /chat/completions" in (check.hint or "")


async def test_preflight_reports_missing_key_with_hint(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PF_KEY", raising=False)
    check = _failed(await _run(tmp_path, _conn(None)))
    assert check.name == "credential" and check.kind == "credential_missing"
    assert "set PF_KEY in the daemon's environment" in (check.hint or "")


async def test_preflight_reports_empty_key(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PF_KEY", "  ")
    assert _failed(await _run(tmp_path, _conn(None))).kind == "credential_empty"


async def test_preflight_reports_dns_failure(tmp_path, env_key, monkeypatch) -> None:
    async def no_dns(self, host, port, **kw):  # noqa: ANN001 - loop method signature
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", no_dns)
    check = _failed(await _run(tmp_path, _conn(None, base_url="https://api.nowhere.example/v1")))
    assert check.name == "reach" and check.kind == "network_unreachable"
    assert "DNS lookup for api.nowhere.example failed" in check.message


async def test_preflight_reports_refused_port(tmp_path, env_key) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    check = _failed(await _run(tmp_path, _conn(None, base_url=f"http://127.0.0.1:{port}/v1")))
    assert check.name == "reach" and check.kind == "network_unreachable"
    assert "is the service running" in (check.hint or "")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to make a certificate")
async def test_preflight_reports_untrusted_certificate_as_tls_error(tmp_path, upstreams, env_key) -> None:
    upstream = FakeUpstream("openai", ssl_context=self_signed_context(tmp_path)).start()
    upstreams.append(upstream)
    check = _failed(await _run(tmp_path, _conn(upstream)))
    assert check.name == "reach" and check.kind == "tls_error"
    assert "certificate" in check.message


async def test_preflight_reports_rejected_key_at_auth(tmp_path, upstreams, env_key) -> None:
    upstream = FakeUpstream("openai").start()
    upstreams.append(upstream)
    upstream.reply_models(openai_error(401, f"Incorrect API key provided: {KEY}", "invalid_request_error", "invalid_api_key"))
    check = _failed(await _run(tmp_path, _conn(upstream)))
    assert check.name == "auth" and check.kind == "auth_failed"
    assert "$PF_KEY" in (check.hint or "") and "key set" not in (check.hint or "")  # names the credential it uses
    assert KEY not in check.message and "[REDACTED]" in check.message


async def test_preflight_suggests_close_model_names(tmp_path, upstreams, env_key) -> None:
    upstream = FakeUpstream("openai", models=["gpt-4o-mini", "gpt-4o", "o3-mini"]).start()
    upstreams.append(upstream)
    check = _failed(await _run(tmp_path, _conn(upstream, model="gpt-4o-mnii")))
    assert check.name == "model" and check.kind == "model_not_found"
    assert (check.hint or "").startswith("did you mean gpt-4o-mini")
    assert check.detail and check.detail["suggestions"][0] == "gpt-4o-mini"


async def test_preflight_matches_ollama_latest_tag(tmp_path, upstreams) -> None:
    upstream = FakeUpstream("ollama", models=["llama3.2:latest"]).start()
    upstreams.append(upstream)
    report = await _run(tmp_path, _conn(upstream, provider="ollama", model="llama3.2", credential="keyring"))
    assert report.ok, report
    assert "needs no key" in report.checks[2].message


async def test_probe_sends_one_completion_and_requires_text(tmp_path, upstreams, env_key) -> None:
    upstream = FakeUpstream("openai").start()
    upstreams.append(upstream)
    report = await _run(tmp_path, _conn(upstream), probe=True)
    assert report.ok and report.checks[-1].status == "pass"
    assert upstream.count("POST", upstream.chat_path) == 1
    assert upstream.requests[-1].body["max_completion_tokens"] == preflight.PROBE_MAX_TOKENS
    upstream.reply_chat(upstream.family.chat_ok(""))
    (tmp_path / "again").mkdir()
    check = _failed(await _run(tmp_path / "again", _conn(upstream), probe=True))
    assert check.name == "probe" and check.kind == "upstream_malformed"


async def test_azure_model_stage_is_skipped_with_probe_advice(tmp_path, upstreams, env_key) -> None:
    upstream = FakeUpstream("azure-openai").start()
    upstreams.append(upstream)
    conn = _conn(upstream, provider="azure-openai", model="gpt-4o", options={"deployment": "prod-4o", "api_version": "2024-10-21"})
    report = await _run(tmp_path, conn)
    assert report.ok
    model = next(c for c in report.checks if c.name == "model")
    assert model.status == "skip" and "--probe" in model.message


async def test_all_runs_connections_concurrently(tmp_path, upstreams, env_key) -> None:
    slow = []
    for _ in range(3):
        upstream = FakeUpstream("openai").start()
        upstreams.append(upstream)
        upstream.reply_models(Canned(200, upstream.family.models_ok(["test-model"]).json, delay=0.4))
        slow.append(upstream)
    gateway = await _gateway(tmp_path, {f"c{i}": _conn(u) for i, u in enumerate(slow)})
    try:
        seen: list[tuple[str, str]] = []

        async def progress(name: str, check) -> None:  # noqa: ANN001
            seen.append((name, check.name))

        reports = await preflight.run_many(gateway, ["c0", "c1", "c2"], progress=progress)
    finally:
        await gateway.close()
    assert all(r.ok for r in reports)
    auth = [next(c for c in r.checks if c.name == "auth") for r in reports]
    # Every auth check started before any other one finished: they overlapped.
    for a in auth:
        for b in auth:
            assert a.started_at < b.started_at + b.duration_ms / 1000
    assert len(seen) == 3 * len(preflight.STAGES)
