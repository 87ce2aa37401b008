"""Custom REST gateways end to end: a template saved with field errors when wrong, the key where
the user put it, one request per call, answers and usage read by JMESPath, preflight free."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.test_secrets_never_leak import assert_no_secret
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import Canned, FakeUpstream, Recorded

KEY = "sk-proj-KRing7Qx2LmN8pVw4ZtY6bHc1DfGj3SsAa"  # one of the audit's known secrets
HEADERS = '{"X-Api-Key": "{key}", "X-Team": "search"}'
BODY = '{"model": "{model}", "input": {"system": "{system}", "turns": "{messages}"}, "limits": {"max_tokens": "{max_tokens}"}}'


def _reply(record: Recorded) -> Canned:
    if record.headers.get("X-Api-Key") != KEY:
        return Canned(401, {"fault": {"text": f"bad key {record.headers.get('X-Api-Key')}"}})
    turns = record.body["input"]["turns"]
    return Canned(200, {"result": {"outputs": [{"text": "echo:" + turns[-1]["content"]}]},
                        "meta": {"tokens": {"in": 7, "out": 2}}})


@pytest.fixture
def gateway() -> Iterator[FakeUpstream]:
    up = FakeUpstream("openai").start()
    up.routes[("POST", "/api/generate")] = _reply
    up.routes[("GET", "/health")] = lambda r: Canned(200 if r.headers.get("X-Api-Key") == KEY else 403, {"ok": True})
    yield up
    up.stop()


def _add(daemon: DaemonProcess, up: FakeUpstream, *extra: str, body: str = BODY, answer: str = "result.outputs[0].text"):
    return daemon.ctl("connections", "add", "corp", "--provider", "custom-rest", "--model", "corp-llm-7b",
                      "--base-url", f"http://127.0.0.1:{up.port}/api/generate", "--option", f"headers={HEADERS}",
                      "--option", f"body={body}", "--option", f"answer={answer}",
                      "--option", "input_tokens=meta.tokens.in", "--option", "output_tokens=meta.tokens.out",
                      "--option", "error=fault.text", *extra)


def test_custom_rest_sends_the_template_with_the_key_in_its_header_and_reads_the_answer(
        daemon: DaemonProcess, gateway: FakeUpstream) -> None:
    added = _add(daemon, gateway, "--option", f"check_url=http://127.0.0.1:{gateway.port}/health")
    assert added.returncode == 0, added.stdout + added.stderr
    assert daemon.ctl("key", "set", "corp", input=KEY).returncode == 0
    preflight = daemon.ctl("preflight", "corp", "--json")
    assert preflight.returncode == 0, preflight.stdout
    auth = next(c for c in json.loads(preflight.stdout)["reports"][0]["checks"] if c["name"] == "auth")
    assert "/health answered 200" in auth["message"]
    assert gateway.count("POST", "/api/generate") == 0  # nothing billable without --probe
    answered = daemon.ctl("test", "corp", "hello there", "--system", "be brief", "--json")
    result = json.loads(answered.stdout)["result"]
    assert result["text"] == "echo:hello there" and result["input_tokens"] == 7 and result["output_tokens"] == 2
    assert gateway.count("POST", "/api/generate") == 1
    sent = gateway.requests[-1]
    assert sent.body == {"model": "corp-llm-7b", "input": {"system": "be brief",
                                                           "turns": [{"role": "user", "content": "hello there"}]},
                         "limits": {}}  # unset max_tokens is dropped, never sent as null
    assert sent.headers["X-Team"] == "search"
    gateway.routes[("POST", "/api/generate")] = lambda r: Canned(401, {"fault": {"text": f"bad key {KEY}"}})
    failed = json.loads(daemon.ctl("test", "corp", "hi", "--json").stdout)["error"]
    assert failed["kind"] == "auth_failed" and "bad key" in failed["message"]
    assert daemon.stop() == 0
    for text, where in ((preflight.stdout + answered.stdout + json.dumps(failed), "cli"),
                        (daemon.paths.log_file.read_text(), "log"), (daemon.all_state_text(), "state")):
        assert_no_secret(text, where)


def test_custom_rest_gateway_error_in_a_200_body_is_an_upstream_error(daemon: DaemonProcess, gateway: FakeUpstream) -> None:
    assert _add(daemon, gateway).returncode == 0
    daemon.ctl("key", "set", "corp", input=KEY)
    gateway.routes[("POST", "/api/generate")] = Canned(200, {"fault": {"text": "model overloaded"}})
    error = json.loads(daemon.ctl("test", "corp", "hi", "--json").stdout)["error"]
    assert error["kind"] == "upstream_error" and "model overloaded" in error["message"]
    gateway.routes[("POST", "/api/generate")] = Canned(200, {"something": "else"})
    error = json.loads(daemon.ctl("test", "corp", "hi", "--json").stdout)["error"]
    assert error["kind"] == "upstream_malformed" and "result.outputs[0].text" in error["message"]


@pytest.mark.parametrize(("body", "answer", "option", "says"), [
    ('{"input": "{prompt}"', "a", "body", "not valid JSON"),
    ('{"input": "{promt}"}', "a", "body", "unknown placeholder {promt}"),
    ('{"input": "{prompt}", "auth": "{key}"}', "a", "body", "the key never goes in the body"),
    ('{"input": "say {messages}"}', "a", "body", "{messages} inside the text"),
    ('{"input": "hello"}', "a", "body", "never sends the prompt"),
    ('{"input": "{prompt}"}', "result.[", "answer", "is not a JMESPath expression"),
])
def test_custom_rest_template_mistakes_are_refused_when_saved_naming_the_option(
        daemon: DaemonProcess, gateway: FakeUpstream, body: str, answer: str, option: str, says: str) -> None:
    refused = _add(daemon, gateway, "--json", body=body, answer=answer)
    assert refused.returncode == 1
    error = json.loads(refused.stdout)["error"]
    assert error["kind"] == "config_invalid" and error["field"] == f"options.{option}" and says in error["message"]
    assert daemon.ctl("connections", "show", "corp").returncode == 1  # nothing was saved


def test_custom_rest_without_a_check_url_preflights_without_sending_anything(
        daemon: DaemonProcess, gateway: FakeUpstream) -> None:
    assert _add(daemon, gateway).returncode == 0
    daemon.ctl("key", "set", "corp", input=KEY)
    preflight = daemon.ctl("preflight", "corp", "--json")
    assert preflight.returncode == 0, preflight.stdout
    checks = {c["name"]: c for c in json.loads(preflight.stdout)["reports"][0]["checks"]}
    assert checks["auth"]["status"] == "pass" and "check_url" in checks["auth"]["message"]
    assert checks["model"]["status"] == "skip"
    assert gateway.count("POST", "/api/generate") == 0 and gateway.count("GET", "/health") == 0
    probed = daemon.ctl("preflight", "corp", "--probe", "--json")
    assert probed.returncode == 0 and gateway.count("POST", "/api/generate") == 1


def test_custom_rest_non_json_reply_and_timeout_are_typed_and_sent_once(daemon: DaemonProcess, gateway: FakeUpstream) -> None:
    assert _add(daemon, gateway, "--timeout", "1").returncode == 0
    daemon.ctl("key", "set", "corp", input=KEY)
    gateway.routes[("POST", "/api/generate")] = Canned(200, body=b"<html>proxy login</html>")
    assert json.loads(daemon.ctl("test", "corp", "hi", "--json").stdout)["error"]["kind"] == "upstream_malformed"
    gateway.routes[("POST", "/api/generate")] = Canned(200, {"result": {"outputs": [{"text": "late"}]}}, delay=3.0)
    assert json.loads(daemon.ctl("test", "corp", "hi", "--json").stdout)["error"]["kind"] == "timeout"
    assert gateway.count("POST", "/api/generate") == 2
