"""Every provider family against a fake upstream speaking its wire format: the request it sends,
the result it parses, and every failure mapped to its kind — each requested exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from synapsed.config import ConfigStore, ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.gateway import Gateway
from synapsed.protocol import ChatRequest, Message
from tests.support.fake_upstream import (
    Canned,
    FakeUpstream,
    anthropic_error,
    gemini_error,
    ollama_error,
    openai_error,
)

KEY = "sk-test-Fq8Wn2Lp5Xr7Tz1Kc4Vb9Hm3"
GEMINI_KEY = "AIzaSyFakeKeyForTests0123456789abcd"
FAMILY_OF = {"openai": "openai", "groq": "openai", "azure-openai": "azure-openai", "anthropic": "anthropic",
             "gemini": "gemini", "ollama": "ollama"}
PROVIDERS = list(FAMILY_OF)


@dataclass
class Harness:
    provider: str
    upstream: FakeUpstream
    gateway: Gateway
    key: str

    async def ask(self, text: str = "ping", **kw: object) -> object:
        request = ChatRequest(messages=[Message("user", text)], **kw)  # type: ignore[arg-type]
        _, result = await self.gateway.complete("c", request)
        return result

    async def fail(self, **kw: object) -> SynapseError:
        with pytest.raises(SynapseError) as caught:
            await self.ask(**kw)
        return caught.value

    def chat_requests(self) -> int:
        return self.upstream.count("POST", self.upstream.chat_path)


def _connection(provider: str, base_url: str, timeout_s: float) -> ConnectionConfig:
    options = {"deployment": "prod-4o", "api_version": "2024-10-21"} if provider == "azure-openai" else {}
    model = "test-model"
    return ConnectionConfig(provider=provider, model=model, base_url=base_url, credential="env:TEST_PROVIDER_KEY",
                            timeout_s=timeout_s, options=options)


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstreams: list[FakeUpstream]):
    gateways: list[Gateway] = []

    async def build(provider: str, timeout_s: float = 5.0, max_response_bytes: int = 64 * 1024,
                    base_url: str | None = None) -> Harness:
        key = GEMINI_KEY if provider == "gemini" else KEY
        monkeypatch.setenv("TEST_PROVIDER_KEY", key)
        upstream = FakeUpstream(FAMILY_OF[provider]).start()
        upstreams.append(upstream)
        store = ConfigStore(tmp_path / f"config-{len(upstreams)}.toml")
        store.load()
        conn = _connection(provider, base_url or upstream.base_url, timeout_s)
        await store.mutate(lambda c: msgspec.structs.replace(c, connections={"c": conn}))
        gateway = Gateway(store, max_response_bytes=max_response_bytes)
        gateways.append(gateway)
        return Harness(provider, upstream, gateway, key)

    yield build


def assert_redacted(error: SynapseError, key: str) -> None:
    rendered = f"{error.message} {error.hint} {error.detail}"
    assert key not in rendered
    for i in range(len(key) - 7):
        assert key[i : i + 8] not in rendered, f"fragment {key[i:i+8]!r} leaked"


# ---- success and wire format -------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
async def test_success_returns_text_usage_model_and_latency(make, provider: str) -> None:
    h = await make(provider)
    # Anthropic's current Messages schema has no temperature (tested in test_anthropic_temperature_*).
    result = await h.ask(max_output_tokens=50, temperature=None if provider == "anthropic" else 0.2, system="be brief")
    assert result.text == "pong"
    assert result.input_tokens == 12 and result.output_tokens == 3
    assert result.model == "served-model"
    assert result.latency_ms > 0
    assert h.chat_requests() == 1
    await h.gateway.close()


async def test_anthropic_temperature_is_refused_before_any_request_for_models_that_reject_it(make) -> None:
    h = await make("anthropic")
    error = await h.fail(temperature=0.2)
    assert error.kind == "bad_request" and error.detail["field"] == "temperature"
    assert h.chat_requests() == 0
    await h.gateway.close()


async def test_anthropic_temperature_is_sent_to_the_older_models_that_take_it(make) -> None:
    h = await make("anthropic")
    await h.gateway.config_store.mutate(lambda c: c.with_connection(
        "c", msgspec.structs.replace(c.connections["c"], model="claude-sonnet-4-5-20250929")))
    await h.ask(temperature=0.2)
    assert h.upstream.requests[-1].body["temperature"] == 0.2
    await h.gateway.close()


async def test_openai_sends_bearer_max_completion_tokens_and_system_message(make) -> None:
    h = await make("openai")
    await h.ask(max_output_tokens=50, system="be brief", stop=["\n"])
    sent = h.upstream.requests[-1]
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.body["max_completion_tokens"] == 50 and "max_tokens" not in sent.body
    assert sent.body["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent.body["stream"] is False and sent.body["stop"] == ["\n"]
    await h.gateway.close()


async def test_openai_compatible_sends_max_tokens(make) -> None:
    h = await make("groq")
    await h.ask(max_output_tokens=50)
    assert h.upstream.requests[-1].body["max_tokens"] == 50
    await h.gateway.close()


async def test_openai_reports_request_id_and_openrouter_style_cost(make) -> None:
    h = await make("openai")
    ok = h.upstream.family.chat_ok("pong")
    ok.json["usage"]["cost"] = 0.00042
    h.upstream.reply_chat(ok)
    result = await h.ask()
    assert result.request_id == "req_fake_openai" and result.cost_usd == 0.00042
    await h.gateway.close()


async def test_azure_uses_deployment_url_api_key_header_and_api_version(make) -> None:
    h = await make("azure-openai")
    await h.ask()
    sent = h.upstream.requests[-1]
    assert sent.path == "/openai/deployments/prod-4o/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == KEY and "Authorization" not in sent.headers
    assert "model" not in sent.body
    await h.gateway.close()


async def test_anthropic_sends_x_api_key_version_and_top_level_system(make) -> None:
    h = await make("anthropic")
    await h.ask(system="be brief", stop=["END"])
    sent = h.upstream.requests[-1]
    assert sent.headers["x-api-key"] == KEY and sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["system"] == "be brief"
    assert all(m["role"] != "system" for m in sent.body["messages"])
    assert sent.body["max_tokens"] == 4096 and sent.body["stop_sequences"] == ["END"]
    await h.gateway.close()


async def test_gemini_puts_key_in_header_never_in_url(make) -> None:
    h = await make("gemini")
    await h.ask(system="be brief", max_output_tokens=20)
    sent = h.upstream.requests[-1]
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    assert "key" not in sent.query and GEMINI_KEY not in sent.path
    assert sent.body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert sent.body["generationConfig"] == {"maxOutputTokens": 20}
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "ping"}]}]
    await h.gateway.close()


async def test_ollama_sends_stream_false_and_options(make) -> None:
    h = await make("ollama")
    await h.ask(max_output_tokens=20, temperature=0.0)
    sent = h.upstream.requests[-1]
    assert sent.body["stream"] is False
    assert sent.body["options"] == {"num_predict": 20, "temperature": 0.0}
    await h.gateway.close()


async def test_ollama_works_without_any_key(make, monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make("ollama")
    monkeypatch.delenv("TEST_PROVIDER_KEY")
    result = await h.ask()
    assert result.text == "pong"
    assert "Authorization" not in h.upstream.requests[-1].headers
    await h.gateway.close()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_list_models_parses_each_family(make, provider: str) -> None:
    h = await make(provider)
    conn = h.gateway.connection("c")
    from synapsed.providers.registry import provider_for

    models = await provider_for(provider).list_models(h.gateway.context("c", conn, h.key))
    assert models == ["test-model", "other-model"]
    await h.gateway.close()


# ---- failures ----------------------------------------------------------------------------------

def _auth_failure(provider: str, key: str) -> Canned:
    echo = f"Incorrect API key provided: {key}. Partial: {key[:3]}****{key[-6:]}"
    return {
        "openai": openai_error(401, echo, "invalid_request_error", "invalid_api_key"),
        "groq": openai_error(401, echo, "invalid_request_error", "invalid_api_key"),
        "azure-openai": Canned(401, {"error": {"code": "401", "message": f"Access denied due to invalid subscription key {key}"}}),
        "anthropic": anthropic_error(401, f"invalid x-api-key {key}", "authentication_error"),
        "gemini": gemini_error(400, f"API key not valid. Please pass a valid API key. ({key})", "INVALID_ARGUMENT", "API_KEY_INVALID"),
        "ollama": ollama_error(401, f"unauthorized token {key}"),
    }[provider]


FAILURES: dict[str, dict[str, Canned]] = {
    "permission_denied": {
        "openai": openai_error(403, "You are not allowed to sample from this model", "invalid_request_error"),
        "anthropic": anthropic_error(403, "Your API key does not have permission to use the specified resource.", "permission_error"),
        "gemini": gemini_error(403, "Permission denied on resource project.", "PERMISSION_DENIED"),
        "ollama": ollama_error(403, "forbidden"),
    },
    "model_not_found": {
        "openai": openai_error(404, "The model `test-model` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found"),
        "azure-openai": Canned(404, {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."}}),
        "anthropic": anthropic_error(404, "model: test-model", "not_found_error"),
        "gemini": gemini_error(404, "models/test-model is not found for API version v1beta", "NOT_FOUND"),
        "ollama": ollama_error(404, 'model "test-model" not found, try pulling it first'),
    },
    "rate_limited": {
        "openai": Canned(429, {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}, headers={"retry-after": "7"}),
        "anthropic": Canned(429, {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}, headers={"retry-after": "7"}),
        "gemini": Canned(429, {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}, headers={"retry-after": "7"}),
        "ollama": Canned(429, {"error": "server busy, please try again.  maximum pending requests exceeded"}, headers={"retry-after": "7"}),
    },
    "quota_exceeded": {
        "openai": openai_error(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota"),
    },
    "context_too_long": {
        "openai": openai_error(400, "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.", "invalid_request_error", "context_length_exceeded"),
        "anthropic": anthropic_error(400, "prompt is too long: 210000 tokens > 200000 maximum", "invalid_request_error"),
        "gemini": gemini_error(400, "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", "INVALID_ARGUMENT"),
    },
    "bad_request": {
        "openai": openai_error(400, "Invalid value for 'temperature'", "invalid_request_error"),
        "anthropic": anthropic_error(400, "messages: roles must alternate", "invalid_request_error"),
        "gemini": gemini_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"),
        "ollama": ollama_error(400, "invalid options"),
    },
    "upstream_error": {
        "openai": openai_error(500, "The server had an error while processing your request.", "server_error"),
        "anthropic": anthropic_error(529, "Overloaded", "overloaded_error"),
        "gemini": gemini_error(503, "The model is overloaded. Please try again later.", "UNAVAILABLE"),
        "ollama": ollama_error(500, "llama runner process has terminated"),
    },
}


def _family_variant(table: dict[str, Canned], provider: str) -> Canned | None:
    if provider in table:
        return table[provider]
    if provider in ("groq", "azure-openai"):
        return table.get("openai")
    return None


FAILURE_CASES = [
    (kind, provider) for kind, table in FAILURES.items() for provider in PROVIDERS if _family_variant(table, provider) is not None
]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_auth_failure_is_auth_failed_with_echoed_key_redacted(make, provider: str) -> None:
    h = await make(provider)
    h.upstream.reply_chat(_auth_failure(provider, h.key))
    error = await h.fail()
    assert error.kind == "auth_failed"
    assert "$TEST_PROVIDER_KEY" in error.hint  # the credential this connection really uses
    assert "[REDACTED]" in error.message
    assert_redacted(error, h.key)
    assert h.chat_requests() == 1
    await h.gateway.close()


@pytest.mark.parametrize(("kind", "provider"), FAILURE_CASES)
async def test_http_failure_maps_to_kind_once_with_upstream_message(make, kind: str, provider: str) -> None:
    h = await make(provider)
    canned = _family_variant(FAILURES[kind], provider)
    assert canned is not None
    h.upstream.reply_chat(canned)
    error = await h.fail()
    assert error.kind == kind, error.message
    assert error.detail["status"] == canned.status
    upstream_message = canned.json["error"] if isinstance(canned.json.get("error"), str) else canned.json["error"]["message"]
    assert " ".join(upstream_message.split()) in error.message
    assert h.chat_requests() == 1  # no hidden retry
    await h.gateway.close()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rate_limit_surfaces_retry_after_without_waiting(make, provider: str) -> None:
    h = await make(provider)
    h.upstream.reply_chat(_family_variant(FAILURES["rate_limited"], provider) or FAILURES["rate_limited"]["openai"])
    error = await h.fail()
    assert error.kind == "rate_limited"
    assert error.detail["retry_after_s"] == "7"
    assert "did not wait or retry" in error.hint
    assert h.chat_requests() == 1
    await h.gateway.close()


MALFORMED = {
    "non_json": Canned(200, body=b"<html>Welcome to the captive portal</html>"),
    "empty": Canned(200, body=b""),
    "truncated_json": Canned(200, body=b'{"choices": [{"message": {"content": "po'),
    "invalid_utf8": Canned(200, body=b'{"x": "\xff\xfe"}'),
}

CHOICELESS = {
    "openai": {"id": "x", "object": "chat.completion", "model": "m", "choices": []},
    "anthropic": {"id": "x", "type": "message", "role": "assistant", "model": "m", "content": [], "stop_reason": None},
    "gemini": {"candidates": [], "usageMetadata": {"promptTokenCount": 1}},
    "ollama": {"model": "m", "done": True},
}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("shape", list(MALFORMED))
async def test_malformed_success_body_is_upstream_malformed(make, provider: str, shape: str) -> None:
    h = await make(provider)
    h.upstream.reply_chat(MALFORMED[shape])
    error = await h.fail()
    assert error.kind == "upstream_malformed"
    assert h.chat_requests() == 1
    await h.gateway.close()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_answer_without_choices_is_upstream_malformed(make, provider: str) -> None:
    h = await make(provider)
    h.upstream.reply_chat(Canned(200, CHOICELESS[FAMILY_OF[provider] if FAMILY_OF[provider] in CHOICELESS else "openai"]))
    assert (await h.fail()).kind == "upstream_malformed"
    await h.gateway.close()


async def test_gemini_blocked_prompt_is_bad_request_with_reason(make) -> None:
    h = await make("gemini")
    h.upstream.reply_chat(Canned(200, {"promptFeedback": {"blockReason": "SAFETY"}}))
    error = await h.fail()
    assert error.kind == "bad_request" and "SAFETY" in error.message
    await h.gateway.close()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_slow_upstream_hits_the_timeout_once(make, provider: str) -> None:
    h = await make(provider, timeout_s=0.3)
    h.upstream.reply_chat(Canned(200, {"late": True}, delay=2.0))
    error = await h.fail()
    assert error.kind == "timeout"
    assert "nothing was retried" in error.message
    assert h.chat_requests() == 1
    await h.gateway.close()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_connection_refused_is_network_unreachable(make, provider: str) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    h = await make(provider, base_url=f"http://127.0.0.1:{closed_port}")
    error = await h.fail()
    assert error.kind == "network_unreachable"
    assert f"127.0.0.1:{closed_port}" in error.message
    await h.gateway.close()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_oversized_body_is_dropped_as_upstream_malformed(make, provider: str) -> None:
    h = await make(provider, max_response_bytes=64 * 1024)
    h.upstream.reply_chat(Canned(200, body=b'{"x":"' + b"a" * (200 * 1024) + b'"}'))
    error = await h.fail()
    assert error.kind == "upstream_malformed" and "exceeded" in error.message
    await h.gateway.close()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_connection_closed_mid_body_is_upstream_malformed(make, provider: str) -> None:
    h = await make(provider)
    ok = h.upstream.family.chat_ok("pong")
    h.upstream.reply_chat(Canned(200, ok.json, close_mid_body=True))
    assert (await h.fail()).kind == "upstream_malformed"
    assert h.chat_requests() == 1
    await h.gateway.close()


async def test_disabled_connection_fails_without_any_upstream_call(make) -> None:
    h = await make("openai")
    await h.gateway.config_store.mutate(
        lambda c: msgspec.structs.replace(
            c, connections={"c": msgspec.structs.replace(c.connections["c"], enabled=False)}
        )
    )
    error = await h.fail()
    assert error.kind == "connection_disabled" and "no other connection was tried" in error.message
    assert h.upstream.requests == []
    await h.gateway.close()


async def test_missing_key_fails_before_any_upstream_call(make, monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make("openai")
    monkeypatch.delenv("TEST_PROVIDER_KEY")
    assert (await h.fail()).kind == "credential_missing"
    assert h.upstream.requests == []
    await h.gateway.close()


async def test_models_listing_500_is_requested_once(make) -> None:
    h = await make("openai")
    h.upstream.reply_models(openai_error(500, "boom", "server_error"))
    from synapsed.providers.registry import provider_for

    with pytest.raises(SynapseError) as caught:
        await provider_for("openai").list_models(h.gateway.context("c", h.gateway.connection("c"), KEY))
    assert caught.value.kind == "upstream_error"
    assert h.upstream.count("GET", "/v1/models") == 1
    await h.gateway.close()


async def test_dns_failure_is_network_unreachable(make, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import socket

    async def no_dns(self, host, port, **kw):  # noqa: ANN001 - loop method signature
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", no_dns)
    h = await make("openai", base_url="https://api.nowhere.example/v1")
    error = await h.fail()
    assert error.kind == "network_unreachable"
    assert "DNS lookup failed for api.nowhere.example" in error.message
    await h.gateway.close()


async def test_untrusted_certificate_is_tls_error(make, upstreams: list[FakeUpstream], tmp_path: Path) -> None:
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI to make a certificate")
    from tests.support.fake_upstream import self_signed_context

    tls = FakeUpstream("openai", ssl_context=self_signed_context(tmp_path)).start()
    upstreams.append(tls)
    h = await make("openai", base_url=tls.base_url)
    error = await h.fail()
    assert error.kind == "tls_error"
    assert "SSL_CERT_FILE" in error.hint
    assert tls.count("POST", tls.chat_path) == 0  # the handshake failed before any request
    await h.gateway.close()


async def test_netrc_credentials_are_never_attached(make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret-value\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    h = await make("ollama")
    monkeypatch.delenv("TEST_PROVIDER_KEY")
    await h.ask()
    assert "Authorization" not in h.upstream.requests[-1].headers
    await h.gateway.close()


def test_proxy_from_environment_applies_except_loopback_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from synapsed.providers.http import proxy_for

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.corp")
    proxy_for.cache_clear()
    try:
        assert proxy_for("https", "api.openai.com") == "http://proxy.corp:3128"
        assert proxy_for("https", "llm.internal.corp") is None
        assert proxy_for("http", "127.0.0.1") is None
        assert proxy_for("http", "localhost") is None
    finally:
        proxy_for.cache_clear()


ERROR_WITH_200 = {
    "openai": {"error": {"message": "upstream gateway: model overloaded", "type": "server_error", "code": None}},
    "anthropic": {"type": "error", "error": {"type": "overloaded_error", "message": "upstream gateway: model overloaded"}},
    "gemini": {"error": {"code": 503, "message": "upstream gateway: model overloaded", "status": "UNAVAILABLE"}},
    "ollama": {"error": "upstream gateway: model overloaded"},
}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_200_with_an_error_body_is_the_providers_error(make, provider: str) -> None:
    h = await make(provider)
    family = FAMILY_OF[provider] if FAMILY_OF[provider] in ERROR_WITH_200 else "openai"
    h.upstream.reply_chat(Canned(200, ERROR_WITH_200[family]))
    error = await h.fail()
    assert error.kind == "upstream_error"
    assert "upstream gateway: model overloaded" in error.message
    assert h.chat_requests() == 1
    await h.gateway.close()


async def test_ten_megabyte_body_is_refused_by_the_default_cap(make) -> None:
    from synapsed.providers.http import MAX_RESPONSE_BYTES

    h = await make("openai", max_response_bytes=MAX_RESPONSE_BYTES)
    h.upstream.reply_chat(Canned(200, body=b'{"x":"' + b"a" * (10 * 1024 * 1024) + b'"}'))
    error = await h.fail()
    assert error.kind == "upstream_malformed" and "exceeded 8 MiB" in error.message
    await h.gateway.close()


async def test_upstream_that_accepts_then_stalls_times_out(make) -> None:
    h = await make("anthropic", timeout_s=0.5)
    ok = h.upstream.family.chat_ok("late")
    h.upstream.reply_chat(Canned(200, ok.json, delay=5.0))
    error = await h.fail()
    assert error.kind == "timeout"
    await h.gateway.close()


# ---- compressed answers: the cap counts decoded bytes ---------------------------------------------

def _compressed(encoding: str, data: bytes) -> bytes:
    import gzip
    import zlib

    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        return pytest.importorskip("brotli").compress(data)  # type: ignore[no-any-return]
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        zstd = pytest.importorskip("backports.zstd")
    return zstd.compress(data)  # type: ignore[no-any-return]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "ollama"])
async def test_compressed_answer_past_the_cap_is_refused_after_decoding(make, provider: str, encoding: str) -> None:
    h = await make(provider, max_response_bytes=64 * 1024)
    inflated = b'{"x":"' + b"a" * (4 * 1024 * 1024) + b'"}'
    payload = _compressed(encoding, inflated)
    assert len(payload) < 64 * 1024  # the compressed body alone is well under the cap
    h.upstream.reply_chat(Canned(200, body=payload, headers={"Content-Encoding": encoding}))
    error = await h.fail()
    assert error.kind == "upstream_malformed" and "exceeded" in error.message
    assert h.chat_requests() == 1
    await h.gateway.close()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
async def test_compressed_answer_under_the_cap_is_decoded(make, encoding: str) -> None:
    h = await make("openai")
    ok = h.upstream.family.chat_ok("pong")
    payload = _compressed(encoding, msgspec.json.encode(ok.json))
    h.upstream.reply_chat(Canned(200, body=payload, headers={"Content-Encoding": encoding, **ok.headers}))
    assert (await h.ask()).text == "pong"
    await h.gateway.close()


async def test_answer_in_an_encoding_never_offered_is_upstream_malformed(make) -> None:
    h = await make("openai")
    h.upstream.reply_chat(Canned(200, body=b"\x1f\x9d\x90garbage", headers={"Content-Encoding": "compress"}))
    error = await h.fail()
    assert error.kind == "upstream_malformed" and "'compress'" in error.message
    await h.gateway.close()


async def test_requests_offer_only_the_encodings_decoded_with_a_bound(make) -> None:
    from synapsed.providers.bounded_body import ACCEPT_ENCODING

    h = await make("openai")
    await h.ask()
    assert h.upstream.requests[-1].headers["Accept-Encoding"] == ACCEPT_ENCODING
    await h.gateway.close()


# ---- redirects: never followed, the target receives nothing ---------------------------------------

@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_redirect_is_a_typed_error_after_one_request_and_its_target_gets_nothing(
        make, upstreams: list[FakeUpstream], provider: str, status: int) -> None:
    h = await make(provider)
    target = FakeUpstream(FAMILY_OF[provider]).start()
    upstreams.append(target)
    location = target.base_url + target.chat_path.removeprefix("/v1")
    h.upstream.reply_chat(Canned(status, body=b"", headers={"Location": location}))
    error = await h.fail()
    assert error.kind == "upstream_malformed" and f"answered {status}, a redirect to" in error.message
    assert "connections edit c --base-url" in (error.hint or "")
    assert h.chat_requests() == 1
    assert target.requests == []
    await h.gateway.close()
