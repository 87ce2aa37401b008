"""`synapsectl preflight` and `synapsectl test` against a real daemon and fake upstreams on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.test_secrets_never_leak import assert_no_secret
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream, openai_error

KEY = "sk-proj-KRing7Qx2LmN8pVw4ZtY6bHc1DfGj3SsAa"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai", models=["test-model", "gpt-4o-mini"]).start()
    yield fake
    fake.stop()


@pytest.fixture
def wired(daemon: DaemonProcess, upstream: FakeUpstream) -> DaemonProcess:
    added = daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "test-model",
                       "--base-url", upstream.base_url)
    assert added.returncode == 0, added.stderr
    assert daemon.ctl("key", "set", "gpt", input=KEY).returncode == 0
    return daemon


def test_preflight_prints_each_check_and_passes(wired: DaemonProcess) -> None:
    result = wired.ctl("preflight", "gpt")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for stage in ("config", "base_url", "credential", "reach", "auth", "model", "probe"):
        assert any(line.split()[1:3] in ([stage, "ok"], [stage, "skip"]) for line in lines if line.strip()), stage
    assert "preflight passed (1 connection)" in result.stdout
    listing = json.loads(wired.ctl("connections", "list", "--json").stdout)
    assert listing["connections"][0]["last_preflight"]["ok"] is True


def test_preflight_failure_exits_1_with_kind_hint_and_no_key(wired: DaemonProcess, upstream: FakeUpstream) -> None:
    upstream.reply_models(openai_error(401, f"Incorrect API key provided: {KEY}", "invalid_request_error", "invalid_api_key"))
    result = wired.ctl("preflight", "gpt")
    assert result.returncode == 1
    assert "kind: auth_failed" in result.stdout
    assert "hint: the provider rejected the key; store a fresh one with `synapsectl key set gpt`" in result.stdout
    assert "preflight failed for gpt" in result.stdout
    as_json = json.loads(wired.ctl("preflight", "gpt", "--json").stdout)
    assert as_json["ok"] is False
    auth = next(c for c in as_json["reports"][0]["checks"] if c["name"] == "auth")
    assert auth["status"] == "fail" and auth["kind"] == "auth_failed"
    listing = wired.ctl("connections", "list").stdout
    assert "FAIL auth: auth_failed" in listing
    assert wired.stop() == 0
    for text, where in ((result.stdout + result.stderr, "cli"), (wired.paths.log_file.read_text(), "log"),
                        (wired.all_state_text(), "state"), (wired.stderr(), "stderr")):
        assert_no_secret(text, where)


def test_preflight_all_reports_every_connection(wired: DaemonProcess, upstream: FakeUpstream) -> None:
    wired.ctl("connections", "add", "other", "--provider", "openai-compatible", "--model", "nope-model",
              "--base-url", upstream.base_url, "--credential", "env:NOT_SET_ANYWHERE")
    result = wired.ctl("preflight", "--all", "--json")
    assert result.returncode == 1
    reports = {r["connection"]: r for r in json.loads(result.stdout)["reports"]}
    assert reports["gpt"]["ok"] is True
    assert reports["other"]["ok"] is False
    failed = next(c for c in reports["other"]["checks"] if c["status"] == "fail")
    assert failed["name"] == "credential" and failed["kind"] == "credential_missing"


def test_preflight_needs_a_name_or_all(wired: DaemonProcess) -> None:
    assert wired.ctl("preflight").returncode == 2
    missing = wired.ctl("preflight", "ghost", "--json")
    assert missing.returncode == 1 and json.loads(missing.stdout)["error"]["kind"] == "not_found"


def test_test_command_prints_answer_and_stats(wired: DaemonProcess, upstream: FakeUpstream) -> None:
    result = wired.ctl("test", "gpt", "say pong")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pong"
    assert "model served-model" in result.stderr and "tokens 12 in / 3 out" in result.stderr
    sent = upstream.requests[-1]
    assert sent.body["messages"] == [{"role": "user", "content": "say pong"}]
    as_json = json.loads(wired.ctl("test", "gpt", "again", "--json").stdout)
    assert as_json["result"]["text"] == "pong" and as_json["provider"] == "openai"


def test_test_command_reports_upstream_failure_once(wired: DaemonProcess, upstream: FakeUpstream) -> None:
    upstream.reply_chat(openai_error(500, "The server had an error", "server_error"))
    before = upstream.count("POST", upstream.chat_path)
    result = wired.ctl("test", "gpt", "hello", "--json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "upstream_error" and error["status"] == 500
    assert "nothing was retried" in error["hint"]
    assert upstream.count("POST", upstream.chat_path) == before + 1


def test_test_command_on_disabled_connection_never_falls_back(wired: DaemonProcess, upstream: FakeUpstream) -> None:
    wired.ctl("connections", "add", "backup", "--provider", "openai", "--model", "test-model", "--base-url", upstream.base_url)
    wired.ctl("connections", "disable", "gpt")
    result = wired.ctl("test", "gpt", "hello", "--json")
    assert json.loads(result.stdout)["error"]["kind"] == "connection_disabled"
    assert upstream.count("POST", upstream.chat_path) == 0


def test_test_command_rejects_bad_arguments(wired: DaemonProcess) -> None:
    empty = wired.ctl("test", "gpt", "   ", "--json")
    assert json.loads(empty.stdout)["error"]["kind"] == "bad_request"
    hot = wired.ctl("test", "gpt", "hi", "--temperature", "5", "--json")
    assert "temperature must be between 0 and 2" in json.loads(hot.stdout)["error"]["message"]


@pytest.mark.parametrize("provider", ["huggingface", "fireworks", "cerebras", "nvidia"])
def test_new_openai_compatible_services_connect_preflight_and_answer_once(
        daemon: DaemonProcess, upstream: FakeUpstream, provider: str) -> None:
    added = daemon.ctl("connections", "add", provider, "--provider", provider, "--model", "test-model",
                       "--base-url", upstream.base_url)
    assert added.returncode == 0, added.stderr
    assert daemon.ctl("key", "set", provider, input=KEY).returncode == 0
    preflight = daemon.ctl("preflight", provider)
    assert preflight.returncode == 0, preflight.stdout
    chats = upstream.count("POST", upstream.chat_path)
    answered = daemon.ctl("test", provider, "hi")
    assert answered.returncode == 0 and "pong" in answered.stdout
    assert upstream.count("POST", upstream.chat_path) == chats + 1  # exactly one upstream request
    assert upstream.requests[-1].headers["Authorization"] == f"Bearer {KEY}"
    for text, where in ((preflight.stdout + answered.stdout, "cli"), (daemon.all_state_text(), "state")):
        assert_no_secret(text, where)


def test_new_openai_compatible_defaults_are_the_documented_endpoints(daemon: DaemonProcess) -> None:
    documented = {"huggingface": "https://router.huggingface.co/v1", "fireworks": "https://api.fireworks.ai/inference/v1",
                  "cerebras": "https://api.cerebras.ai/v1", "nvidia": "https://integrate.api.nvidia.com/v1"}
    for provider, url in documented.items():
        assert daemon.ctl("connections", "add", f"d-{provider}", "--provider", provider, "--model", "m").returncode == 0
        shown = json.loads(daemon.ctl("--json", "connections", "show", f"d-{provider}").stdout)
        assert shown["connection"]["effective_base_url"] == url


def test_perplexity_has_no_listing_so_preflight_warns_and_only_the_probe_checks_the_key(
        daemon: DaemonProcess, upstream: FakeUpstream) -> None:
    assert daemon.ctl("connections", "add", "pplx", "--provider", "perplexity", "--model", "test-model",
                      "--base-url", upstream.base_url).returncode == 0
    assert daemon.ctl("key", "set", "pplx", input=KEY).returncode == 0
    listings = upstream.count("GET", "/v1/models")
    free = daemon.ctl("preflight", "pplx", "--json")
    assert free.returncode == 0, free.stdout
    checks = {c["name"]: c for c in json.loads(free.stdout)["reports"][0]["checks"]}
    assert checks["auth"]["status"] == "warn" and "--probe" in checks["auth"]["message"]
    assert checks["model"]["status"] == "skip"
    assert upstream.count("GET", "/v1/models") == listings  # no request to an endpoint the service lacks
    probed = daemon.ctl("preflight", "pplx", "--probe", "--json")
    assert probed.returncode == 0 and upstream.count("POST", upstream.chat_path) == 1
    shown = json.loads(daemon.ctl("--json", "connections", "show", "pplx").stdout)["connection"]
    assert shown["base_url"] == upstream.base_url
