"""Property tests: hostile or random input never crashes a boundary and never leaks a secret."""

from __future__ import annotations

import io
import json
import logging
import string
import sys
from urllib.parse import urlsplit

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapsed import logging as slog
from synapsed.config import Config, parse
from synapsed.errors import SynapseError
from synapsed.mcp.tools import TOOLS, ToolRunner
from synapsed.redaction import FRAGMENT, SECRETS
from synapsed.rpc.dispatch import Dispatcher, Method
from synapsed.validation import check_base_url

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@FAST
@given(st.text(max_size=400))
def test_any_text_parses_to_a_config_or_a_config_error(text: str) -> None:
    try:
        assert isinstance(parse(text), Config)
    except SynapseError as exc:
        assert exc.kind in ("config_invalid", "base_url_invalid")


@FAST
@given(st.dictionaries(st.sampled_from(["schema_version", "revision", "daemon", "mcp", "connections", "budget", "prices", "x"]),
                       json_values, max_size=5))
def test_any_toml_document_parses_or_is_refused_with_a_field(doc: dict) -> None:
    import tomli_w

    try:
        text = tomli_w.dumps({k: v for k, v in doc.items()}, multiline_strings=False)
    except (TypeError, ValueError):
        return  # not representable in TOML (None, mixed arrays)
    try:
        parse(text)
    except SynapseError as exc:
        assert exc.kind in ("config_invalid", "base_url_invalid") and exc.hint


class EchoParams(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    count: int = 1


async def _echo(params: EchoParams) -> dict:
    return {"echo": params.text * min(params.count, 3)}


def _check_reply(raw: bytes | None) -> None:
    if raw is None:
        return  # a notification
    reply = json.loads(raw)
    assert reply["jsonrpc"] == "2.0" and "id" in reply
    assert ("result" in reply) != ("error" in reply)
    if "error" in reply:
        assert isinstance(reply["error"]["code"], int) and reply["error"]["data"]["hint"]


@FAST
@given(st.binary(max_size=300))
async def test_arbitrary_bytes_always_get_a_jsonrpc_reply(body: bytes) -> None:
    _check_reply(await Dispatcher({"t.echo": Method(EchoParams, _echo)}).handle(body))


@FAST
@given(json_values, st.sampled_from(["t.echo", "t.nope", "", "daemon.status"]), json_values,
       st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans(), st.floats(allow_nan=False)))
async def test_arbitrary_json_always_gets_a_jsonrpc_reply(anything, method: str, params, rid) -> None:
    dispatcher = Dispatcher({"t.echo": Method(EchoParams, _echo)})
    _check_reply(await dispatcher.handle(json.dumps(anything).encode()))
    request = {"jsonrpc": "2.0", "method": method, "params": params, "id": rid}
    _check_reply(await dispatcher.handle(json.dumps(request).encode()))


@FAST
@given(st.sampled_from(sorted(TOOLS)), st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_any_tool_arguments_validate_or_are_a_bad_request(tool: str, arguments: dict) -> None:
    try:
        ToolRunner._args(TOOLS[tool], arguments)
    except SynapseError as exc:
        assert exc.kind == "bad_request" and tool in exc.message


url_like = st.builds(
    lambda scheme, user, host, port, path, tail: f"{scheme}{user}{host}{port}{path}{tail}",
    st.sampled_from(["https://", "http://", "ftp://", "", "HTTPS://", "//"]),
    st.sampled_from(["", "user:pw@", "@"]),
    st.sampled_from(["api.openai.com", "127.0.0.1", "localhost", "[::1]", "10.0.0.1", "", "exa mple.com", "xn--d1a.com"]),
    st.sampled_from(["", ":443", ":0", ":99999", ":abc", ":8080"]),
    st.sampled_from(["", "/", "/v1", "/v1/v1", "/v1/chat/completions", "/api/chat", "/openai/v1/"]),
    st.sampled_from(["", "?key=1", "#x", "?", " "]),
)


@FAST
@given(st.one_of(url_like, st.text(max_size=60)))
def test_base_urls_normalise_safely_or_are_refused(url: str) -> None:
    try:
        out = check_base_url(url)
    except SynapseError as exc:
        assert exc.kind == "base_url_invalid" and exc.hint
        return
    assert out.startswith(("https://", "http://"))
    assert "?" not in out and "#" not in out and "@" not in out.split("://", 1)[1].split("/", 1)[0]
    if out.startswith("http://"):
        host = urlsplit(out).hostname or ""  # an IPv6 literal without a port has colons of its own
        assert host in ("127.0.0.1", "localhost", "::1") or host.endswith(".localhost") or host.startswith("127.")


secret_text = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=12, max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret_text, st.sampled_from(["value", "nested", "list", "exception", "key", "message", "partial"]), json_values)
def test_a_loaded_secret_never_survives_log_rendering(secret: str, where: str, noise) -> None:
    stream = io.StringIO()
    saved = sys.stderr
    sys.stderr = stream
    try:
        slog.configure("debug", None, human=False)
        SECRETS.clear()
        SECRETS.add(secret)
        log = slog.get_logger("fuzz")
        partial = f"Incorrect key {secret[:3]}…{secret[-9:]}"
        event = {
            "value": {"detail": secret, "noise": noise},
            "nested": {"a": [{"b": {"c": f"x{secret}y"}}], "noise": noise},
            "list": {"items": [noise, secret, (secret,)]},
            "key": {secret: "the secret as a key", "noise": noise},
            "message": {},
            "partial": {"upstream": partial},
            "exception": {},
        }[where]
        if where == "exception":
            try:
                raise RuntimeError(f"provider said {secret}")
            except RuntimeError:
                log.exception("failed", **event)
        elif where == "message":
            log.warning(f"event text carrying {secret}")
        else:
            log.info("event", **event)
        logging.getLogger("aiohttp.client").warning("stdlib record %s", secret)
        for handler in logging.getLogger().handlers:
            handler.flush()
    finally:
        sys.stderr = saved
        SECRETS.clear()
    out = stream.getvalue()
    decoded = "\n".join(json.dumps(json.loads(line), ensure_ascii=False) for line in out.splitlines() if line.strip())
    for text in (out, decoded):
        assert secret not in text
        for i in range(len(secret) - FRAGMENT + 1):
            assert secret[i : i + FRAGMENT] not in text


@pytest.fixture(autouse=True)
def _quiet_root_logger():
    yield
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)
        handler.close()
