"""Amazon Bedrock and Google Vertex AI end to end: `connections add` -> `preflight` -> `test`
against loopback fakes that check signatures and tokens as the real services do, exactly one
upstream request per call, and no credential anywhere in output, logs or state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapsed.redaction import FRAGMENT
from tests.support.daemon import DaemonProcess
from tests.support.fake_cloud import (
    PROJECT,
    AwsIdentity,
    SigV4Guard,
    TokenIssuer,
    bedrock_error,
    bedrock_upstream,
    vertex_paths,
    vertex_upstream,
)
from tests.support.fake_upstream import Canned, FakeUpstream

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
PROFILE_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
ENV_IDENTITY = AwsIdentity("AKIAENVFAKE7KEY2Q9ZX", "envSecretFq8Wn2Lp5Xr7Tz1Kc4Vb9Hm3Ab6Cd0Ef", "IQoJb3JpZ2luX2VjEFakeSessionTok3nZ8")
PROFILE_IDENTITY = AwsIdentity("AKIAPROFILE7KEY4W2RT", "profileSecretZ9yX8wV7uT6sR5qP4oN3mL2kJ1")
BEDROCK_API_KEY = "ABSKQmVkcm9ja0FQSUtleS1mYWtlLTEyMzQ1Njc4OTA="
EXPRESS_KEY = "AQ.Ab8RN6ExpressModeFakeKey0123456789xyz"


def assert_absent(secrets: list[str], text: str, where: str) -> None:
    for secret in secrets:
        for line in secret.splitlines():
            if line.startswith("-----") or len(line) < FRAGMENT:
                continue
            for i in range(len(line) - FRAGMENT + 1):
                assert line[i : i + FRAGMENT] not in text, f"{where} contains a piece of a credential"


def audit(daemon: DaemonProcess, outputs: list[str], secrets: list[str]) -> None:
    assert daemon.stop() == 0
    for text, where in (("\n".join(outputs), "cli"), (daemon.paths.log_file.read_text(), "log"),
                        (daemon.all_state_text(), "state"), (daemon.stderr(), "stderr")):
        assert_absent(secrets, text, where)


@pytest.fixture
def bedrock() -> Iterator[tuple[FakeUpstream, SigV4Guard]]:
    up, guard = bedrock_upstream(MODEL, [ENV_IDENTITY, PROFILE_IDENTITY], {BEDROCK_API_KEY}, profiles=[PROFILE_MODEL])
    yield up, guard
    up.stop()


def _add_bedrock(daemon: DaemonProcess, up: FakeUpstream, name: str, *extra: str, model: str = MODEL) -> None:
    added = daemon.ctl("connections", "add", name, "--provider", "bedrock", "--model", model, "--option", "region=us-east-1",
                       "--base-url", up.base_url, *extra)
    assert added.returncode == 0, added.stdout + added.stderr


def _checks(result: str) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in json.loads(result)["reports"][0]["checks"]}


def test_bedrock_signs_with_the_aws_chain_preflights_free_and_answers_once(
        daemon_proc: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard]) -> None:
    up, guard = bedrock
    daemon_proc.env.update(AWS_ACCESS_KEY_ID=ENV_IDENTITY.access_key, AWS_SECRET_ACCESS_KEY=ENV_IDENTITY.secret_key,
                           AWS_SESSION_TOKEN=ENV_IDENTITY.session_token or "")
    daemon = daemon_proc.start()
    _add_bedrock(daemon, up, "br", "--credential", "aws")
    preflight = daemon.ctl("preflight", "br", "--json")
    checks = _checks(preflight.stdout)
    assert preflight.returncode == 0, preflight.stdout
    assert "environment" in str(checks["credential"]["message"]) and "AKIA…Q9ZX" in str(checks["credential"]["message"])
    assert "model access granted" in str(checks["model"]["message"])
    assert up.count("POST", up.chat_path) == 0  # preflight sent nothing billable
    answered = daemon.ctl("test", "br", "hi", "--json")
    result = json.loads(answered.stdout)["result"]
    assert result["text"] == "pong" and result["input_tokens"] == 12 and result["output_tokens"] == 3
    assert up.count("POST", up.chat_path) == 1  # exactly one upstream request
    sent = up.requests[-1]
    assert sent.body == {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    assert sent.headers["X-Amz-Security-Token"] == ENV_IDENTITY.session_token
    assert guard.verified == 3  # listing, availability, converse: each signature recomputed and matched
    audit(daemon, [preflight.stdout, answered.stdout], [ENV_IDENTITY.secret_key, ENV_IDENTITY.session_token or ""])


def test_bedrock_signature_with_a_wrong_secret_is_auth_failed_with_a_bedrock_hint(
        daemon_proc: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard]) -> None:
    up, _ = bedrock
    daemon_proc.env.update(AWS_ACCESS_KEY_ID=ENV_IDENTITY.access_key, AWS_SECRET_ACCESS_KEY="not-the-secret-Kc4Vb9Hm3Ab6Cd0Ef1",
                           AWS_SESSION_TOKEN=ENV_IDENTITY.session_token or "")
    daemon = daemon_proc.start()
    _add_bedrock(daemon, up, "br", "--credential", "aws")
    auth = _checks(daemon.ctl("preflight", "br", "--json").stdout)["auth"]
    assert auth["status"] == "fail" and auth["kind"] == "auth_failed"
    assert "signature" in str(auth["hint"]) and "clock" in str(auth["hint"])
    failed = json.loads(daemon.ctl("test", "br", "hi", "--json").stdout)["error"]
    assert failed["kind"] == "auth_failed" and failed["aws_error"] == "InvalidSignatureException"
    assert up.count("POST", up.chat_path) == 1  # refused once, never re-sent


def test_bedrock_profile_from_the_shared_credentials_file_and_inference_profile_ids(
        daemon_proc: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard], short_tmp: Path) -> None:
    up, _ = bedrock
    aws_dir = short_tmp / ".aws"  # HOME of the daemon under test is short_tmp
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text(f"[work]\naws_access_key_id = {PROFILE_IDENTITY.access_key}\n"
                                         f"aws_secret_access_key = {PROFILE_IDENTITY.secret_key}\n")
    daemon = daemon_proc.start()
    _add_bedrock(daemon, up, "prof", "--credential", "aws", "--option", "profile=work", model=PROFILE_MODEL)
    preflight = daemon.ctl("preflight", "prof", "--json")
    checks = _checks(preflight.stdout)
    assert preflight.returncode == 0, preflight.stdout
    assert "profile work: shared credentials file" in str(checks["credential"]["message"])
    assert "resolved by the provider" in str(checks["model"]["message"]) or "available" in str(checks["model"]["message"])
    assert up.count("GET", f"/inference-profiles/{PROFILE_MODEL}") == 1
    answered = daemon.ctl("test", "prof", "hi")
    assert answered.returncode == 0 and answered.stdout.strip() == "pong"
    missing = daemon.ctl("connections", "add", "ghost", "--provider", "bedrock", "--model", MODEL, "--credential", "aws",
                         "--option", "region=us-east-1", "--option", "profile=nope", "--base-url", up.base_url)
    assert missing.returncode == 0
    cred = _checks(daemon.ctl("preflight", "ghost", "--json").stdout)["credential"]
    assert cred["kind"] == "config_invalid" and "aws configure --profile nope" in str(cred["hint"])
    audit(daemon, [preflight.stdout, answered.stdout], [PROFILE_IDENTITY.secret_key])


def test_bedrock_api_key_goes_as_bearer_and_model_access_refusal_has_its_own_hint(
        daemon: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard]) -> None:
    up, _ = bedrock
    _add_bedrock(daemon, up, "key")
    assert daemon.ctl("key", "set", "key", input=BEDROCK_API_KEY).returncode == 0
    preflight = daemon.ctl("preflight", "key", "--json")
    assert preflight.returncode == 0, preflight.stdout
    answered = daemon.ctl("test", "key", "hi")
    assert answered.stdout.strip() == "pong"
    assert up.requests[-1].headers["Authorization"] == f"Bearer {BEDROCK_API_KEY}"
    up.routes[("GET", f"/foundation-model-availability/{MODEL}")] = Canned(200, {
        "modelId": MODEL, "agreementAvailability": {"status": "NOT_AVAILABLE"}, "authorizationStatus": "NOT_AUTHORIZED",
        "entitlementAvailability": "NOT_AVAILABLE", "regionAvailability": "AVAILABLE"})
    model = _checks(daemon.ctl("preflight", "key", "--json").stdout)["model"]
    assert model["kind"] == "permission_denied" and "Model access in the Bedrock console (us-east-1)" in str(model["hint"])
    up.reply_chat(bedrock_error(403, "AccessDeniedException",
                                "You don't have access to the model with the specified model ID."))
    denied = json.loads(daemon.ctl("test", "key", "hi", "--json").stdout)["error"]
    assert denied["kind"] == "permission_denied" and "bedrock:InvokeModel" in denied["hint"]
    audit(daemon, [preflight.stdout, answered.stdout], [BEDROCK_API_KEY])


@pytest.mark.parametrize(("status", "aws_type", "kind"), [
    (429, "ThrottlingException", "rate_limited"),
    (400, "ServiceQuotaExceededException", "quota_exceeded"),
    (429, "ModelNotReadyException", "upstream_error"),
    (408, "ModelTimeoutException", "timeout"),
    (424, "ModelErrorException", "upstream_error"),
    (400, "ValidationException", "bad_request"),
    (404, "ResourceNotFoundException", "model_not_found"),
    (403, "ExpiredTokenException", "auth_failed"),
])
def test_bedrock_errors_map_to_kinds_and_are_never_retried(
        daemon: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard], status: int, aws_type: str, kind: str) -> None:
    up, _ = bedrock
    _add_bedrock(daemon, up, "key")
    daemon.ctl("key", "set", "key", input=BEDROCK_API_KEY)
    up.reply_chat(bedrock_error(status, aws_type, f"{aws_type} happened"))
    error = json.loads(daemon.ctl("test", "key", "hi", "--json").stdout)["error"]
    assert error["kind"] == kind and error["aws_error"] == aws_type and error["hint"]
    assert up.count("POST", up.chat_path) == 1


# ---- Vertex AI --------------------------------------------------------------------------------

@pytest.fixture
def vertex(short_tmp: Path) -> Iterator[tuple[FakeUpstream, TokenIssuer, Path]]:
    up, issuer, key_file = vertex_upstream(short_tmp)
    yield up, issuer, key_file
    up.stop()


def _add_vertex(daemon: DaemonProcess, up: FakeUpstream, name: str, credential: str, model: str = "gemini-2.5-flash",
                *extra: str) -> None:
    added = daemon.ctl("connections", "add", name, "--provider", "vertex", "--model", model, "--credential", credential,
                       "--option", "location=us-central1", "--base-url", up.base_url, *extra)
    assert added.returncode == 0, added.stdout + added.stderr


def test_vertex_service_account_gets_a_verified_token_once_and_gemini_answers_once(
        daemon: DaemonProcess, vertex: tuple[FakeUpstream, TokenIssuer, Path]) -> None:
    up, issuer, key_file = vertex
    _add_vertex(daemon, up, "vx", f"file:{key_file}")
    preflight = daemon.ctl("preflight", "vx", "--json")
    checks = _checks(preflight.stdout)
    assert preflight.returncode == 0, preflight.stdout
    assert "service account synapse-test@" in str(checks["credential"]["message"])
    assert f"project {PROJECT}" in str(checks["auth"]["message"]) and "countTokens" in str(checks["auth"]["message"])
    assert checks["model"]["status"] == "pass"
    assert up.count("POST", up.chat_path) == 0
    outputs = [preflight.stdout]
    for _ in range(2):
        answered = daemon.ctl("test", "vx", "hi")
        outputs.append(answered.stdout + answered.stderr)
        assert answered.returncode == 0 and answered.stdout.strip() == "pong"
    assert up.count("POST", up.chat_path) == 2  # one request per call
    assert issuer.token_requests == 1  # preflight fetched a fresh token; both calls reuse it until it expires
    assert up.requests[-1].headers["Authorization"].removeprefix("Bearer ") in issuer.issued
    assert up.requests[-1].body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    key_text = json.loads(key_file.read_text())
    audit(daemon, outputs, [key_text["private_key"], key_text["private_key_id"], *issuer.issued])


def test_vertex_application_default_credentials_from_the_environment(
        daemon_proc: DaemonProcess, vertex: tuple[FakeUpstream, TokenIssuer, Path]) -> None:
    up, _, key_file = vertex
    daemon_proc.env["GOOGLE_APPLICATION_CREDENTIALS"] = str(key_file)
    daemon = daemon_proc.start()
    _add_vertex(daemon, up, "adc", "adc")
    preflight = daemon.ctl("preflight", "adc", "--json")
    assert preflight.returncode == 0, preflight.stdout
    assert "(adc)" in str(_checks(preflight.stdout)["credential"]["message"])
    assert daemon.ctl("test", "adc", "hi").stdout.strip() == "pong"


def test_vertex_token_endpoint_failure_is_one_request_and_auth_failed(
        daemon: DaemonProcess, vertex: tuple[FakeUpstream, TokenIssuer, Path]) -> None:
    up, issuer, key_file = vertex
    issuer.refuse = Canned(503, {"error": "temporarily_unavailable"})  # google-auth would retry this three times
    _add_vertex(daemon, up, "vx", f"file:{key_file}")
    error = json.loads(daemon.ctl("test", "vx", "hi", "--json").stdout)["error"]
    assert error["kind"] in ("auth_failed", "network_unreachable")
    assert issuer.token_requests == 1
    assert up.count("POST", up.chat_path) == 0


def test_vertex_claude_goes_through_raw_predict_with_the_vertex_anthropic_version(
        daemon: DaemonProcess, short_tmp: Path) -> None:
    model = "claude-sonnet-4-5@20250929"
    up, _, key_file = vertex_upstream(short_tmp, model=model)
    try:
        _add_vertex(daemon, up, "claude", f"file:{key_file}", model)
        preflight = daemon.ctl("preflight", "claude", "--json")
        assert preflight.returncode == 0, preflight.stdout
        assert up.count("POST", vertex_paths(model)["count"]) == 1
        answered = daemon.ctl("test", "claude", "hi", "--json")
        assert json.loads(answered.stdout)["result"]["text"] == "pong"
        body = up.requests[-1].body
        assert body["anthropic_version"] == "vertex-2023-10-16" and "model" not in body
        assert up.count("POST", up.chat_path) == 1
    finally:
        up.stop()


def test_vertex_express_mode_key_needs_no_project(daemon: DaemonProcess, short_tmp: Path) -> None:
    up, issuer, _ = vertex_upstream(short_tmp, express_keys={EXPRESS_KEY})
    try:
        added = daemon.ctl("connections", "add", "express", "--provider", "vertex", "--model", "gemini-2.5-flash",
                           "--base-url", up.base_url)
        assert added.returncode == 0
        assert daemon.ctl("key", "set", "express", input=EXPRESS_KEY).returncode == 0
        answered = daemon.ctl("test", "express", "hi")
        assert answered.returncode == 0 and answered.stdout.strip() == "pong", answered.stdout + answered.stderr
        assert up.requests[-1].path == "/v1/publishers/google/models/gemini-2.5-flash:generateContent"
        assert issuer.token_requests == 0
        audit(daemon, [answered.stdout, answered.stderr], [EXPRESS_KEY])
    finally:
        up.stop()


def test_vertex_api_not_enabled_and_missing_model_have_their_own_hints(
        daemon: DaemonProcess, vertex: tuple[FakeUpstream, TokenIssuer, Path]) -> None:
    from tests.support.fake_upstream import gemini_error

    up, _, key_file = vertex
    _add_vertex(daemon, up, "vx", f"file:{key_file}")
    count = vertex_paths("gemini-2.5-flash")["count"]
    up.routes[("POST", count)] = gemini_error(
        403, f"Vertex AI API has not been used in project {PROJECT} before or it is disabled.", "PERMISSION_DENIED",
        "SERVICE_DISABLED")
    auth = _checks(daemon.ctl("preflight", "vx", "--json").stdout)["auth"]
    assert auth["kind"] == "permission_denied" and "gcloud services enable aiplatform.googleapis.com" in str(auth["hint"])
    up.routes[("POST", count)] = gemini_error(
        404, "Publisher Model `projects/proj-synapse/locations/us-central1/publishers/google/models/gemini-2.5-flash` "
             "was not found or your project does not have access to it.", "NOT_FOUND")
    auth = _checks(daemon.ctl("preflight", "vx", "--json").stdout)["auth"]
    assert auth["kind"] == "model_not_found" and "us-central1" in str(auth["hint"])


async def test_an_ide_compares_bedrock_and_vertex_over_mcp_and_no_credential_reaches_a_reply(
        daemon_proc: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard],
        vertex: tuple[FakeUpstream, TokenIssuer, Path]) -> None:
    from tests.e2e.mcp_support import http_client, start_with_mcp, text_of

    bedrock_up, _ = bedrock
    vertex_up, issuer, key_file = vertex
    daemon_proc.env.update(AWS_ACCESS_KEY_ID=ENV_IDENTITY.access_key, AWS_SECRET_ACCESS_KEY=ENV_IDENTITY.secret_key,
                           AWS_SESSION_TOKEN=ENV_IDENTITY.session_token or "")
    daemon = start_with_mcp(daemon_proc)
    _add_bedrock(daemon, bedrock_up, "br", "--credential", "aws")
    _add_vertex(daemon, vertex_up, "vx", f"file:{key_file}")
    async with http_client(daemon) as client:
        result = await client.call_tool("compare", {"prompt": "hi", "connections": ["br", "vx"]})
    assert result.is_error is False
    answers = {a["connection"]: a for a in (result.structured_content or {})["results"]}
    assert answers["br"]["text"] == "pong" and answers["vx"]["text"] == "pong"
    assert bedrock_up.count("POST", bedrock_up.chat_path) == 1 and vertex_up.count("POST", vertex_up.chat_path) == 1
    key = json.loads(key_file.read_text())
    audit(daemon, [text_of(result), json.dumps(result.structured_content)],
          [ENV_IDENTITY.secret_key, ENV_IDENTITY.session_token or "", key["private_key"], *issuer.issued])


def test_bedrock_inference_profile_arn_is_encoded_in_the_path_and_signed_as_sent(
        daemon_proc: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard]) -> None:
    from tests.support.fake_cloud import converse_ok, inference_profile_ok

    up, guard = bedrock
    arn = f"arn:aws:bedrock:us-east-1:111122223333:inference-profile/{PROFILE_MODEL}"
    up.routes[("GET", f"/inference-profiles/{arn}")] = inference_profile_ok(PROFILE_MODEL)
    up.routes[("POST", f"/model/{arn}/converse")] = converse_ok("pong")
    daemon_proc.env.update(AWS_ACCESS_KEY_ID=ENV_IDENTITY.access_key, AWS_SECRET_ACCESS_KEY=ENV_IDENTITY.secret_key,
                           AWS_SESSION_TOKEN=ENV_IDENTITY.session_token or "")
    daemon = daemon_proc.start()
    _add_bedrock(daemon, up, "arn", "--credential", "aws", model=arn)
    preflight = daemon.ctl("preflight", "arn", "--json")
    assert preflight.returncode == 0, preflight.stdout
    answered = daemon.ctl("test", "arn", "hi")
    assert answered.returncode == 0 and answered.stdout.strip() == "pong", answered.stdout + answered.stderr
    assert up.count("POST", f"/model/{arn}/converse") == 1
    assert guard.verified >= 3  # the percent-encoded ARN path was signed exactly as it went out


def test_without_botocore_only_the_aws_connection_fails_and_the_hint_is_the_install_command(
        daemon_proc: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard], short_tmp: Path) -> None:
    up, _ = bedrock
    shadow = short_tmp / "no-botocore" / "botocore"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'botocore'\", name='botocore')\n")
    daemon_proc.env["PYTHONPATH"] = f"{shadow.parent}:{daemon_proc.env['PYTHONPATH']}"
    daemon = daemon_proc.start()
    _add_bedrock(daemon, up, "br", "--credential", "aws")
    credential = _checks(daemon.ctl("preflight", "br", "--json").stdout)["credential"]
    assert credential["kind"] == "config_invalid" and credential["hint"].startswith("pip install 'mcp-synapse[aws]'")
    failed = json.loads(daemon.ctl("test", "br", "hi", "--json").stdout)["error"]
    assert failed["kind"] == "config_invalid" and "mcp-synapse[aws]" in failed["hint"]
    _add_bedrock(daemon, up, "key")  # a Bedrock API key needs no botocore
    daemon.ctl("key", "set", "key", input=BEDROCK_API_KEY)
    assert daemon.ctl("test", "key", "hi").stdout.strip() == "pong"
    assert up.count("POST", up.chat_path) == 1


@pytest.mark.parametrize(("canned", "kind"), [
    (Canned(200, body=b"<html>Sign in to continue</html>"), "upstream_malformed"),
    (Canned(200, {"output": {}, "stopReason": "end_turn"}), "upstream_malformed"),
    (Canned(200, body=b'{"output": {"message": {"content": [{"text": "late"}]}}}', delay=3.0), "timeout"),
])
def test_bedrock_garbage_and_silence_are_typed_and_sent_once(
        daemon: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard], canned: Canned, kind: str) -> None:
    up, _ = bedrock
    _add_bedrock(daemon, up, "key", "--timeout", "1")
    daemon.ctl("key", "set", "key", input=BEDROCK_API_KEY)
    up.reply_chat(canned)
    error = json.loads(daemon.ctl("test", "key", "hi", "--json").stdout)["error"]
    assert error["kind"] == kind and error["hint"]
    assert up.count("POST", up.chat_path) == 1


def test_vertex_garbage_reply_is_upstream_malformed_and_sent_once(
        daemon: DaemonProcess, vertex: tuple[FakeUpstream, TokenIssuer, Path]) -> None:
    up, _, key_file = vertex
    _add_vertex(daemon, up, "vx", f"file:{key_file}")
    up.reply_chat(Canned(200, body=b"upstream connect error or disconnect/reset before headers"))
    error = json.loads(daemon.ctl("test", "vx", "hi", "--json").stdout)["error"]
    assert error["kind"] == "upstream_malformed"
    assert up.count("POST", up.chat_path) == 1


# ---- redirects: never followed by the Bedrock, Vertex or token paths ---------------------------

@pytest.fixture
def redirect_target() -> Iterator[FakeUpstream]:
    target = FakeUpstream("openai").start()
    yield target
    target.stop()


def test_bedrock_redirect_is_refused_after_one_request_and_the_target_gets_nothing(
        daemon: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard], redirect_target: FakeUpstream) -> None:
    up, _ = bedrock
    _add_bedrock(daemon, up, "key")
    daemon.ctl("key", "set", "key", input=BEDROCK_API_KEY)
    up.reply_chat(Canned(307, body=b"", headers={"Location": redirect_target.base_url + up.chat_path}))
    error = json.loads(daemon.ctl("test", "key", "hi", "--json").stdout)["error"]
    assert error["kind"] == "upstream_malformed" and "redirect" in error["message"]
    assert up.count("POST", up.chat_path) == 1 and redirect_target.requests == []


def test_vertex_redirect_is_refused_after_one_request_and_the_target_gets_nothing(
        daemon: DaemonProcess, vertex: tuple[FakeUpstream, TokenIssuer, Path], redirect_target: FakeUpstream) -> None:
    up, _, key_file = vertex
    _add_vertex(daemon, up, "vx", f"file:{key_file}")
    up.reply_chat(Canned(308, body=b"", headers={"Location": redirect_target.base_url + up.chat_path}))
    error = json.loads(daemon.ctl("test", "vx", "hi", "--json").stdout)["error"]
    assert error["kind"] == "upstream_malformed" and "redirect" in error["message"]
    assert up.count("POST", up.chat_path) == 1 and redirect_target.requests == []


def test_a_token_endpoint_redirect_is_not_followed(
        daemon: DaemonProcess, vertex: tuple[FakeUpstream, TokenIssuer, Path], redirect_target: FakeUpstream) -> None:
    up, issuer, key_file = vertex
    issuer.refuse = Canned(302, body=b"", headers={"Location": redirect_target.base_url + "/token"})
    _add_vertex(daemon, up, "vx", f"file:{key_file}")
    error = json.loads(daemon.ctl("test", "vx", "hi", "--json").stdout)["error"]
    assert error["kind"] in ("auth_failed", "network_unreachable", "upstream_malformed")
    assert issuer.token_requests == 1 and redirect_target.requests == []
    assert up.count("POST", up.chat_path) == 0


def test_a_connection_whose_library_is_missing_says_so_when_added_listed_and_in_doctor(
        daemon_proc: DaemonProcess, bedrock: tuple[FakeUpstream, SigV4Guard], short_tmp: Path) -> None:
    up, _ = bedrock
    blocker = short_tmp / "blocker"
    blocker.mkdir()
    # As if botocore were not installed: the import and find_spec both fail, as for a missing package.
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'botocore' or name.startswith('botocore.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Block())\n")
    daemon_proc.env["PYTHONPATH"] = f"{blocker}:{daemon_proc.env['PYTHONPATH']}"
    daemon = daemon_proc.start()
    added = daemon.ctl("connections", "add", "br", "--provider", "bedrock", "--model", MODEL, "--option",
                       "region=us-east-1", "--base-url", up.base_url, "--credential", "aws", "--json")
    assert added.returncode == 0, added.stderr
    key = json.loads(added.stdout)["connection"]["key"]
    assert key["present"] is False and "botocore" in key["hint"] and "pipx inject mcp-synapse botocore" in key["hint"]
    listed = json.loads(daemon.ctl("connections", "list", "--json").stdout)
    assert "mcp-synapse[aws]" in next(c for c in listed["connections"] if c["name"] == "br")["key"]["hint"]
    doctor = daemon.ctl("doctor", env={**daemon.env})
    assert "pipx inject mcp-synapse botocore" in doctor.stdout
