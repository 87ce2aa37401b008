"""Preflight's auth and model stages the way each provider resolves models: aliases resolved by
the per-model endpoint, compatible servers without one, and least-privilege keys that may call
the model but not list models. Every test counts the requests that reached the upstream."""

from __future__ import annotations

from pathlib import Path

import pytest

from synapsed import preflight
from synapsed.protocol import PreflightReport
from tests.support.fake_upstream import FakeUpstream, anthropic_error, gemini_error, openai_error
from tests.unit.test_preflight import KEY, _conn, _run

SCOPE_MESSAGE = "You have insufficient permissions for this operation. Missing scopes: api.model.read."


@pytest.fixture(autouse=True)
def env_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PF_KEY", KEY)
    return KEY


def _check(report: PreflightReport, stage: str):
    return next(c for c in report.checks if c.name == stage)


def _start(upstreams: list, *args: object, **kwargs: object) -> FakeUpstream:
    upstream = FakeUpstream(*args, **kwargs).start()  # type: ignore[arg-type]
    upstreams.append(upstream)
    return upstream


def _gets(upstream: FakeUpstream) -> list[str]:
    return [r.path for r in upstream.requests if r.method == "GET"]


# ---- aliases (issue: preflight failed models the provider would accept) ----------------------------

async def test_anthropic_alias_passes_and_shows_the_resolved_id(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "anthropic", model="claude-sonnet-4-5", models=["claude-sonnet-4-5-20250929"],
                      aliases={"claude-sonnet-4-5": "claude-sonnet-4-5-20250929"})
    report = await _run(tmp_path, _conn(upstream, provider="anthropic", model="claude-sonnet-4-5"))
    assert report.ok, report
    model = _check(report, "model")
    assert model.status == "pass"
    assert "claude-sonnet-4-5 → claude-sonnet-4-5-20250929" in model.message
    assert model.detail == {"resolved": "claude-sonnet-4-5-20250929"}
    assert _gets(upstream) == ["/v1/models", "/v1/models/claude-sonnet-4-5"]  # one free request more, no billing
    assert upstream.count("POST", "/v1/messages") == 0


async def test_anthropic_unknown_model_fails_with_suggestions(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "anthropic", model="claude-sonet-4-5-20250929", models=["claude-sonnet-4-5-20250929"])
    report = await _run(tmp_path, _conn(upstream, provider="anthropic", model="claude-sonet-4-5-20250929"))
    model = _check(report, "model")
    assert not report.ok and model.kind == "model_not_found"
    assert model.detail is not None and model.detail["suggestions"] == ["claude-sonnet-4-5-20250929"]
    assert _gets(upstream) == ["/v1/models", "/v1/models/claude-sonet-4-5-20250929"]


async def test_listed_model_needs_no_lookup(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "openai")
    report = await _run(tmp_path, _conn(upstream))
    assert report.ok and _check(report, "model").message == "test-model is available"
    assert _gets(upstream) == ["/v1/models"]


async def test_openai_alias_resolved_by_models_endpoint(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "openai", model="gpt-4o", models=["gpt-4o-2024-08-06"],
                      aliases={"gpt-4o": "gpt-4o-2024-08-06"})
    report = await _run(tmp_path, _conn(upstream, model="gpt-4o"))
    assert report.ok and _check(report, "model").detail == {"resolved": "gpt-4o-2024-08-06"}
    assert _gets(upstream) == ["/v1/models", "/v1/models/gpt-4o"]


async def test_compatible_server_without_per_model_endpoint_falls_back_to_the_listing(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "openai", model="llama-3.1-8b", models=["llama-3.1-8b-instruct"], model_lookup=False)
    report = await _run(tmp_path, _conn(upstream, provider="vllm", model="llama-3.1-8b"))
    model = _check(report, "model")
    assert model.kind == "model_not_found" and model.detail["suggestions"] == ["llama-3.1-8b-instruct"]  # type: ignore[index]
    assert _gets(upstream) == ["/v1/models", "/v1/models/llama-3.1-8b"]


async def test_gemini_alias_and_models_prefix(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "gemini", model="gemini-flash-latest", models=["gemini-2.5-flash"],
                      aliases={"gemini-flash-latest": "gemini-2.5-flash"})
    report = await _run(tmp_path, _conn(upstream, provider="gemini", model="gemini-flash-latest"))
    assert report.ok and _check(report, "model").detail == {"resolved": "gemini-2.5-flash"}
    (tmp_path / "prefixed").mkdir()
    listed = await _run(tmp_path / "prefixed", _conn(upstream, provider="gemini", model="models/gemini-2.5-flash"))
    assert listed.ok and _check(listed, "model").message.endswith("is available")


async def test_gemini_unknown_model_is_model_not_found(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "gemini", model="gemini-9-ultra", models=["gemini-2.5-flash"])
    report = await _run(tmp_path, _conn(upstream, provider="gemini", model="gemini-9-ultra"))
    assert _check(report, "model").kind == "model_not_found"


async def test_ollama_bare_name_means_latest(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "ollama", model="llama3.2", models=["llama3.2:latest"])
    report = await _run(tmp_path, _conn(upstream, provider="ollama", model="llama3.2", credential="keyring"))
    assert report.ok and _check(report, "model").status == "pass"
    assert upstream.count("POST", "/api/show") == 0  # the listing already answered


async def test_ollama_model_pulled_but_not_listed_is_resolved_by_show(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "ollama", model="qwen3", models=["llama3.2:latest"], aliases={"qwen3:latest": "qwen3:latest"})
    report = await _run(tmp_path, _conn(upstream, provider="ollama", model="qwen3", credential="keyring"))
    assert report.ok and _check(report, "model").detail == {"resolved": "qwen3:latest"}
    assert upstream.count("POST", "/api/show") == 1


async def test_ollama_missing_model_fails(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "ollama", model="mistral", models=["llama3.2:latest"])
    report = await _run(tmp_path, _conn(upstream, provider="ollama", model="mistral", credential="keyring"))
    assert _check(report, "model").kind == "model_not_found"


# ---- least-privilege keys ------------------------------------------------------------------------

def _restricted_openai(upstreams: list, status: int = 401) -> FakeUpstream:
    upstream = _start(upstreams, "openai")
    refusal = openai_error(status, SCOPE_MESSAGE, type_="invalid_request_error")
    upstream.reply_models(refusal)
    upstream.routes[("GET", "/v1/models/test-model")] = refusal
    return upstream


@pytest.mark.parametrize("status", [401, 403])
async def test_scoped_key_warns_at_auth_and_model_never_auth_failed(tmp_path: Path, upstreams, status: int) -> None:
    upstream = _restricted_openai(upstreams, status)
    report = await _run(tmp_path, _conn(upstream))
    statuses = {c.name: c.status for c in report.checks}
    assert statuses == {"config": "pass", "base_url": "pass", "credential": "pass", "reach": "pass",
                        "auth": "warn", "model": "warn", "probe": "skip"}
    assert all(c.kind != "auth_failed" for c in report.checks)
    assert "Missing scopes: api.model.read" in _check(report, "auth").message
    assert "--probe" in _check(report, "probe").message
    assert report.ok  # nothing failed; the warnings say what only --probe can confirm
    assert upstream.count("POST", upstream.chat_path) == 0


async def test_scoped_key_with_probe_proves_the_model_works(tmp_path: Path, upstreams) -> None:
    upstream = _restricted_openai(upstreams)
    report = await _run(tmp_path, _conn(upstream), probe=True)
    assert report.ok and _check(report, "probe").status == "pass"
    assert "key works for calls" in _check(report, "probe").message
    assert upstream.count("POST", upstream.chat_path) == 1


async def test_plain_401_fails_auth_without_probe(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "openai")
    upstream.reply_models(openai_error(401, "Incorrect API key provided", code="invalid_api_key"))
    report = await _run(tmp_path, _conn(upstream))
    assert _check(report, "auth").kind == "auth_failed" and not report.ok


async def test_plain_401_with_probe_lets_the_probe_decide(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "openai")
    refusal = openai_error(401, "Incorrect API key provided", code="invalid_api_key")
    upstream.reply_models(refusal)
    upstream.routes[("GET", "/v1/models/test-model")] = refusal
    upstream.reply_chat(refusal)
    report = await _run(tmp_path, _conn(upstream), probe=True)
    assert _check(report, "auth").status == "warn"
    assert _check(report, "probe").kind == "auth_failed" and not report.ok
    assert upstream.count("POST", upstream.chat_path) == 1


async def test_anthropic_permission_error_on_listing_is_a_warning(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "anthropic", model="claude-sonnet-4-5")
    refusal = anthropic_error(403, "Your API key does not have permission to use the specified resource.",
                              "permission_error")
    upstream.reply_models(refusal)
    upstream.routes[("GET", "/v1/models/claude-sonnet-4-5")] = refusal
    report = await _run(tmp_path, _conn(upstream, provider="anthropic", model="claude-sonnet-4-5"), probe=True)
    assert [c.status for c in report.checks][-3:] == ["warn", "warn", "pass"] and report.ok


async def test_gemini_permission_denied_on_listing_is_a_warning(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "gemini")
    refusal = gemini_error(403, "Permission denied on resource project.", "PERMISSION_DENIED")
    upstream.reply_models(refusal)
    upstream.routes[("GET", "/v1beta/models/test-model")] = refusal
    report = await _run(tmp_path, _conn(upstream, provider="gemini"))
    assert _check(report, "auth").status == "warn" and report.ok


def test_permission_text_is_recognised() -> None:
    from synapsed.errors import SynapseError

    assert preflight.is_permission_refusal(SynapseError("auth_failed", f"provider answered 401: {SCOPE_MESSAGE}"))
    assert preflight.is_permission_refusal(SynapseError("permission_denied", "provider answered 403: nope"))
    assert not preflight.is_permission_refusal(SynapseError("auth_failed", "provider answered 401: Incorrect API key"))


async def test_the_model_stage_names_the_responses_api_for_a_model_served_only_there(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "openai", model="gpt-5.2-pro")
    report = await _run(tmp_path, _conn(upstream, model="gpt-5.2-pro"))
    model = _check(report, "model")
    assert model.status == "pass" and "Responses API" in model.message


async def test_the_model_stage_says_nothing_of_endpoints_for_chat_models(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "openai", model="gpt-5.2")
    report = await _run(tmp_path, _conn(upstream, model="gpt-5.2"))
    assert "Responses" not in _check(report, "model").message


async def test_a_base_url_missing_v1_is_named_at_the_auth_stage(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "openai", model="llama-3.1-8b")
    root = upstream.base_url.removesuffix("/v1")  # the server serves /v1/models; the user gave the bare root
    report = await _run(tmp_path, _conn(upstream, provider="vllm", model="llama-3.1-8b", base_url=root))
    auth = _check(report, "auth")
    assert not report.ok and auth.kind == "base_url_invalid"
    assert auth.hint is not None and f"--base-url {root}/v1" in auth.hint


async def test_a_404_listing_under_a_v1_root_stays_what_it_was(tmp_path: Path, upstreams) -> None:
    upstream = _start(upstreams, "openai", model="m")
    upstream.routes[("GET", "/v1/models")] = openai_error(404, "no listing here", "not_found")
    report = await _run(tmp_path, _conn(upstream, provider="vllm", model="m"))
    assert _check(report, "auth").kind == "model_not_found"
