"""Hostile numbers and text at every outside boundary of a real daemon: every RPC numeric
parameter, every console query parameter and form field. Whatever arrives, the answer is a
typed refusal or a result: never a 500, never `internal`."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapsed import protocol as p
from synapsed.console.guards import COOKIE, CSRF_HEADER
from tests.support.console import console_daemon, http_session, origin, sign_in
from tests.support.daemon import DaemonProcess

SOME = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Numbers as JSON text: ordinary, negative, fractional, past int64 and float range, thousands of digits.
json_numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e30", "1e400", "-1e400", "9223372036854775808", "1" * 5000, "0", "-0", "1.5", "2e-400"]),
)
# What a person or a script types into a form or URL where a number is expected, and worse.
form_texts = st.one_of(
    st.sampled_from(["", "0", "10", "-1", "1e30", "²", "١٢", "9" * 23, "9" * 5000, "NaN", "inf", " 5 ", "0x10", "5\n"]),
    st.text(max_size=40),
)

# Every numeric RPC parameter, with params that are otherwise valid (field path -> method, params).
RPC_NUMBERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ThreadListParams.limit": ("threads.list", {"limit": None}),
    "ThreadListParams.offset": ("threads.list", {"offset": None}),
    "UsageHistoryParams.limit": ("usage.history", {"limit": None}),
    "UsageHistoryParams.offset": ("usage.history", {"offset": None}),
    "ThreadTrimParams.keep": ("threads.trim", {"id": "th-0123456789abcdef", "keep": None}),
    "ChatParams.max_output_tokens": ("chat.complete", {"name": "c", "prompt": "hi", "max_output_tokens": None}),
    "ChatParams.temperature": ("chat.complete", {"name": "c", "prompt": "hi", "temperature": None}),
    "ConnectionSpec.timeout_s": ("connections.create", {"spec": {"name": "fz", "provider": "ollama", "model": "m",
                                                                  "timeout_s": None}}),
    "ConnectionPatch.timeout_s": ("connections.update", {"name": "c", "changes": {"timeout_s": None}}),
    "NameParams.revision": ("connections.enable", {"name": "c", "revision": None}),
    "DeleteParams.revision": ("connections.delete", {"name": "nope", "revision": None}),
    "CreateParams.revision": ("connections.create", {"spec": {"name": "fz2", "provider": "ollama", "model": "m"},
                                                     "revision": None}),
    "UpdateParams.revision": ("connections.update", {"name": "c", "changes": {}, "revision": None}),
}


def _numeric_fields(struct: Any, prefix: str, seen: set[str]) -> set[str]:
    found: set[str] = set()
    for field in msgspec.structs.fields(struct):
        name = f"{prefix}.{field.name}"
        for t in getattr(field.type, "__args__", None) or (field.type,):
            if t in (int, float):
                found.add(name)
            elif isinstance(t, type) and issubclass(t, msgspec.Struct) and t.__name__ not in seen:
                found |= _numeric_fields(t, t.__name__, seen | {t.__name__})
    return found


def test_every_numeric_rpc_parameter_is_fuzzed() -> None:
    params = [c for n, c in vars(p).items() if n.endswith("Params") and isinstance(c, type)
              and issubclass(c, msgspec.Struct) and n not in ("RpcRequest",)]
    numeric: set[str] = set()
    for struct in params:
        numeric |= _numeric_fields(struct, struct.__name__, {struct.__name__})
    assert numeric <= set(RPC_NUMBERS), f"add these to RPC_NUMBERS: {sorted(numeric - set(RPC_NUMBERS))}"


@pytest.fixture(scope="module")
def console() -> Iterator[tuple[DaemonProcess, str, str, str]]:
    with console_daemon() as (daemon, upstream):
        daemon.ctl("connections", "add", "c", "--provider", "openai", "--model", "gpt-4o-mini",
                   "--base-url", upstream.base_url, "--credential", "env:FUZZ_KEY")

        async def login() -> tuple[str, str]:
            async with http_session() as session:
                csrf = await sign_in(session, daemon)
                cookie = next(c.value for c in session.cookie_jar if c.key == COOKIE)
                return csrf, cookie

        csrf, cookie = asyncio.run(login())
        yield daemon, origin(daemon), csrf, cookie


def _rpc(daemon: DaemonProcess, method: str, params_json: str) -> tuple[int, dict[str, Any]]:
    body = f'{{"jsonrpc": "2.0", "id": 1, "method": "{method}", "params": {params_json}}}'.encode()
    status, raw = daemon.client.post(body)
    return status, json.loads(raw)


def _not_internal(status: int, reply: dict[str, Any]) -> None:
    assert status != 500, reply
    if "error" in reply:
        assert reply["error"]["data"]["kind"] != "internal", reply


@SOME
@given(field=st.sampled_from(sorted(RPC_NUMBERS)), number=json_numbers)
def test_any_number_in_any_rpc_parameter_is_a_result_or_bad_request(console, field: str, number: str) -> None:
    daemon = console[0]
    method, params = RPC_NUMBERS[field]
    text = json.dumps(params).replace("null", number, 1)
    status, reply = _rpc(daemon, method, text)
    _not_internal(status, reply)


def test_threads_list_offset_1e30_is_bad_request_naming_the_field(console) -> None:
    _, reply = _rpc(console[0], "threads.list", '{"offset": 100000000000000000000000000000}')
    assert reply["error"]["data"]["kind"] == "bad_request" and reply["error"]["data"]["field"] == "offset"


def test_chat_max_output_tokens_past_any_model_is_refused_before_sending(console) -> None:
    _, reply = _rpc(console[0], "chat.complete", '{"name": "c", "prompt": "hi", "max_output_tokens": 1000000000000}')
    assert reply["error"]["data"]["kind"] == "bad_request"
    assert reply["error"]["data"]["field"] == "max_output_tokens"


def _console(base: str, csrf: str, cookie: str, method: str, path: str, form: dict[str, str] | None = None) -> int:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {"Cookie": f"{COOKIE}={cookie}", "Origin": base}
    body = None
    if form is not None:
        body = urlencode(form).encode()
        headers.update({"Content-Type": "application/x-www-form-urlencoded", CSRF_HEADER: csrf})
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


CONSOLE_QUERIES = {
    "/console/usage": ("since", "until", "connection", "model", "client", "status", "offset"),
    "/console/usage/export.csv": ("since", "until", "connection", "model", "client", "status"),
    "/console/threads": ("offset", "notice"),
    "/console/connections": ("notice",),
    "/console/connections/c": ("notice",),
    "/console/prompt": ("connection",),
    "/console/ides": ("rotated",),
}
CONSOLE_FORMS = {
    "/console/prompt": {"connection": "c", "prompt": "hi", "max_output_tokens": "10", "reasoning": ""},
    "/console/connections/new": {"name": "fz", "provider": "ollama", "model": "m", "base_url": "", "credential": "keyring",
                                 "timeout_s": "60"},
    "/console/connections/c/edit": {"provider": "openai", "model": "gpt-4o-mini", "base_url": "", "credential": "env:FUZZ_KEY",
                                    "timeout_s": "60"},
}


@SOME
@given(target=st.sampled_from([(path, name) for path, names in CONSOLE_QUERIES.items() for name in names]),
       value=form_texts)
def test_any_console_query_parameter_gets_a_page_never_a_500(console, target: tuple[str, str], value: str) -> None:
    _daemon, base, csrf, cookie = console
    path, name = target
    assert _console(base, csrf, cookie, "GET", f"{path}?{name}={quote(value, safe='')}") < 500


@SOME
@given(target=st.sampled_from([(path, name) for path, fields in CONSOLE_FORMS.items() for name in fields]),
       value=form_texts)
def test_any_console_form_field_gets_a_page_never_a_500(console, target: tuple[str, str], value: str) -> None:
    _daemon, base, csrf, cookie = console
    path, name = target
    form = {**CONSOLE_FORMS[path], name: value}
    assert _console(base, csrf, cookie, "POST", path, form) < 500


@pytest.mark.parametrize("offset", ["9" * 23, "9" * 5000, "²", "-1"])
def test_console_offsets_past_any_page_are_a_400_naming_offset(console, offset: str) -> None:
    _daemon, base, csrf, cookie = console
    assert _console(base, csrf, cookie, "GET", f"/console/threads?offset={quote(offset)}") == 400
