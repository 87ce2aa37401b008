"""The end-to-end secret-leak audit: distinctive keys from the keyring, env: and file:, every
feature driven (including upstreams that echo the key back and a forced internal error), then
every file under SYNAPSE_HOME, all output and all RPC / MCP replies scanned for each key and
every 8-character piece of it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.mcp_support import http_client, start_with_mcp, stdio_client
from tests.e2e.test_secrets_never_leak import assert_no_secret
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import Canned, FakeUpstream, Recorded, anthropic_error, gemini_error, openai_error

KEYRING_KEY = "sk-proj-AuditKr7Qx2LmN8pVw4ZtY6bHc1DfGj3S"
ENV_KEY = "sk-ant-api03-AuditEnvZ9yX8wV7uT6sR5qP4oN3"
FILE_KEY = "AIzaAuditFileQ1w2E3r4T5y6U7i8O9p0AsDf"
EXPLODE_KEY = "sk-boomAudit-Uq7Wn3Ke9Rt5Yp1Ia8Sd2Fg4Hj"
SECRETS = (KEYRING_KEY, ENV_KEY, FILE_KEY, EXPLODE_KEY)


def _scan(text: str, where: str) -> None:
    import tests.e2e.test_secrets_never_leak as base

    saved = base.ALL
    base.ALL = SECRETS
    try:
        assert_no_secret(text, where)
    finally:
        base.ALL = saved


def _echo_openai(record: Recorded) -> Canned:
    return openai_error(401, f"Incorrect API key provided: {record.headers.get('Authorization', '')}", "invalid_request_error", "invalid_api_key")


async def test_no_key_leaks_anywhere_across_every_feature(daemon_proc: DaemonProcess, short_tmp: Path) -> None:
    openai_up = FakeUpstream("openai").start()
    anthropic_up = FakeUpstream("anthropic").start()
    gemini_up = FakeUpstream("gemini").start()
    outputs: list[str] = []
    replies: list[str] = []
    try:
        key_file = short_tmp / "gemini.key"
        key_file.write_text(FILE_KEY + "\n")
        key_file.chmod(0o600)
        daemon_proc.env["AUDIT_ANTHROPIC"] = ENV_KEY
        daemon = start_with_mcp(daemon_proc, "")

        def ctl(*args: str, input: str | None = None) -> int:
            result = daemon.ctl(*args, input=input)
            outputs.extend([result.stdout, result.stderr])
            return result.returncode

        # CRUD with all three credential sources
        assert ctl("connections", "add", "gpt", "--provider", "openai", "--model", "test-model", "--base-url", openai_up.base_url) == 0
        assert ctl("connections", "add", "claude", "--provider", "anthropic", "--model", "test-model",
                   "--base-url", anthropic_up.base_url, "--credential", "env:AUDIT_ANTHROPIC") == 0
        assert ctl("connections", "add", "gem", "--provider", "gemini", "--model", "test-model",
                   "--base-url", gemini_up.base_url, "--credential", f"file:{key_file}") == 0
        assert ctl("connections", "add", "explode-now", "--provider", "openai", "--model", "test-model") == 0
        assert ctl("key", "set", "gpt", input=KEYRING_KEY) == 0
        for args in (("connections", "list"), ("connections", "list", "--json"), ("connections", "show", "gem"),
                     ("key", "status", "--json"), ("status", "--json"), ("connections", "edit", "gpt", "--timeout", "20"),
                     ("connections", "disable", "gem"), ("connections", "enable", "gem")):
            ctl(*args)

        # preflight pass, then fail with upstreams echoing the key
        assert ctl("preflight", "--all", "--json") == 1  # explode-now has no key
        openai_up.reply_models(_echo_openai)
        anthropic_up.reply_models(lambda r: anthropic_error(401, f"invalid x-api-key {r.headers.get('x-api-key')}", "authentication_error"))
        gemini_up.reply_models(lambda r: gemini_error(400, f"API key not valid: {r.headers.get('x-goog-api-key')}", "INVALID_ARGUMENT", "API_KEY_INVALID"))
        ctl("preflight", "--all")
        ctl("preflight", "gpt", "--probe", "--json")

        # chat.complete: success, then echoed failures
        assert ctl("test", "gpt", "hello") == 0
        openai_up.reply_chat(_echo_openai)
        anthropic_up.reply_chat(lambda r: anthropic_error(401, f"invalid x-api-key {r.headers.get('x-api-key')}", "authentication_error"))
        gemini_up.reply_chat(lambda r: gemini_error(400, f"API key not valid: {r.headers.get('x-goog-api-key')}", "INVALID_ARGUMENT", "API_KEY_INVALID"))
        for name in ("gpt", "claude", "gem"):
            assert ctl("test", name, "hello", "--json") == 1

        # MCP over HTTP and stdio, including errors that echo keys
        async with http_client(daemon) as client:
            for arguments in ({"prompt": "x", "connection": "gpt"}, {"prompt": "x", "connection": "gem"}):
                replies.append(json.dumps((await client.call_tool("ask", arguments)).model_dump(mode="json")))
            compared = await client.call_tool("compare", {"prompt": "x", "connections": ["gpt", "claude", "gem"]})
            replies.append(json.dumps(compared.model_dump(mode="json")))
            replies.append(json.dumps((await client.call_tool("list_connections", {})).model_dump(mode="json")))
        async with stdio_client(daemon, "audit-stdio") as client:
            replies.append(json.dumps((await client.call_tool("ask", {"prompt": "x", "connection": "claude"})).model_dump(mode="json")))

        # a forced internal error whose message carries a key
        ctl("key", "set", "explode-now", input=EXPLODE_KEY)

        # usage export, history, sessions, doctor, logs
        ctl("usage", "export", "--format", "csv", "-o", str(daemon.home / "state" / "export.csv"))
        ctl("usage", "export", "--format", "jsonl")
        ctl("usage", "history", "--json")
        ctl("usage")
        ctl("mcp", "sessions", "--json")
        ctl("doctor")
        ctl("logs", "-n", "1000")
        for body in (b'{"jsonrpc":"2.0","id":1,"method":"secrets.status","params":{}}',
                     b'{"jsonrpc":"2.0","id":2,"method":"connections.list","params":{}}',
                     b'{"jsonrpc":"2.0","id":3,"method":"usage.history","params":{"limit":1000}}',
                     b'{"jsonrpc":"2.0","id":4,"method":"daemon.status"}'):
            replies.append(daemon.client.post(body)[1].decode())
        assert daemon.stop() == 0
    finally:
        for fake in (openai_up, anthropic_up, gemini_up):
            fake.stop()

    # The upstreams really did echo keys back, so the scan below is meaningful.
    assert any(KEYRING_KEY in str(r.headers) for r in openai_up.requests)
    log_text = daemon.paths.log_file.read_text()
    assert "exploded while storing" in log_text and "[REDACTED]" in log_text
    _scan(daemon.all_state_text(), "files under SYNAPSE_HOME")
    _scan(daemon.stderr(), "daemon stderr")
    _scan("\n".join(outputs), "synapsectl stdout/stderr")
    _scan("\n".join(replies), "RPC and MCP replies")
