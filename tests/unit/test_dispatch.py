"""The JSON-RPC dispatcher in isolation: shapes of success, errors and notifications."""

from __future__ import annotations

import json

import msgspec

from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.redaction import SECRETS
from synapsed.rpc.dispatch import Dispatcher, Method


class EchoParams(msgspec.Struct, forbid_unknown_fields=True):
    text: str


async def _echo(params: EchoParams) -> dict[str, str]:
    return {"echo": params.text}


async def _domain(params: p.NoParams) -> None:
    raise SynapseError("budget_exceeded", "daily budget of $5 used up", hint="raise it", limit="5 USD")


async def _crash(params: p.NoParams) -> None:
    raise RuntimeError("kaboom sk-crash-abcdefghijklmnop")


def _dispatcher() -> Dispatcher:
    return Dispatcher({"t.echo": Method(EchoParams, _echo), "t.domain": Method(p.NoParams, _domain), "t.crash": Method(p.NoParams, _crash)})


async def _call(body: dict | bytes) -> dict:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    out = await _dispatcher().handle(raw)
    assert out is not None
    return json.loads(out)


async def test_success_has_jsonrpc_id_and_result() -> None:
    reply = await _call({"jsonrpc": "2.0", "id": 7, "method": "t.echo", "params": {"text": "hi"}})
    assert reply == {"jsonrpc": "2.0", "id": 7, "result": {"echo": "hi"}}


async def test_domain_error_maps_to_server_code_with_kind_hint_and_detail() -> None:
    reply = await _call({"jsonrpc": "2.0", "id": 1, "method": "t.domain"})
    assert reply["error"] == {
        "code": p.DOMAIN_ERROR,
        "message": "daily budget of $5 used up",
        "data": {"kind": "budget_exceeded", "hint": "raise it", "limit": "5 USD"},
    }


async def test_unexpected_exception_is_internal_without_its_text() -> None:
    reply = await _call({"jsonrpc": "2.0", "id": 1, "method": "t.crash"})
    assert reply["error"]["code"] == p.INTERNAL_ERROR
    assert reply["error"]["data"]["kind"] == "internal"
    assert "kaboom" not in json.dumps(reply) and "sk-crash" not in json.dumps(reply)


async def test_error_messages_are_redacted() -> None:
    SECRETS.add("sk-leak-Zz9Yy8Xx7Ww6Vv5")

    async def leaky(params: p.NoParams) -> None:
        raise SynapseError("auth_failed", "upstream said: bad key sk-leak-Zz9Yy8Xx7Ww6Vv5")

    out = await Dispatcher({"t.leaky": Method(p.NoParams, leaky)}).handle(b'{"jsonrpc":"2.0","id":1,"method":"t.leaky"}')
    assert out is not None and b"Zz9Yy8Xx" not in out


async def test_notification_returns_nothing_but_runs() -> None:
    dispatcher = _dispatcher()
    assert await dispatcher.handle(b'{"jsonrpc":"2.0","method":"t.echo","params":{"text":"x"}}') is None
    assert dispatcher.calls == 1


async def test_param_kinds_map_to_invalid_params() -> None:
    async def bad(params: p.NoParams) -> None:
        raise SynapseError("base_url_invalid", "bad url")

    out = await Dispatcher({"t.bad": Method(p.NoParams, bad)}).handle(b'{"jsonrpc":"2.0","id":1,"method":"t.bad"}')
    assert json.loads(out or b"{}")["error"]["code"] == p.INVALID_PARAMS


async def test_method_not_found_lists_methods() -> None:
    reply = await _call({"jsonrpc": "2.0", "id": 1, "method": "t.nope"})
    assert "t.echo" in reply["error"]["data"]["hint"]


async def test_boolean_id_is_not_echoed_as_an_id() -> None:
    reply = await _call({"jsonrpc": "2.0", "id": True, "method": "t.echo", "params": {"text": "x"}})
    assert reply["id"] is None and reply["error"]["code"] == p.INVALID_REQUEST


async def test_nesting_past_the_interpreters_limit_is_a_parse_error_with_a_hint() -> None:
    reply = await _call(b'{"jsonrpc":"2.0","id":1,"method":"t.echo","params":' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert reply["error"]["code"] == p.PARSE_ERROR and reply["error"]["data"]["kind"] == "bad_request"
    assert reply["error"]["data"]["hint"]
