"""synapsed/mcp/roots.py: our requests to the client and its answers, matched by id."""

from __future__ import annotations

import asyncio
import json

import pytest

from synapsed.errors import SynapseError
from synapsed.mcp import roots
from synapsed.mcp.sessions import Session


def _session() -> Session:
    return Session("stdio-1", "stdio", "ide", "1", None, None)


async def _asked(session: Session) -> tuple[asyncio.Future[dict], str]:
    sent: list[bytes] = []

    async def send(line: bytes) -> None:
        sent.append(line)

    asking = asyncio.ensure_future(roots.ask(session, send, "roots/list"))
    await asyncio.sleep(0)
    return asking, json.loads(sent[0])["id"]


async def test_a_roots_answer_naming_a_root_method_is_still_taken() -> None:
    """Only the message's own `method` makes it a request; a root may be called anything."""
    session = _session()
    asking, request_id = await _asked(session)
    answer = {"jsonrpc": "2.0", "id": request_id, "result": {"roots": [{"uri": "file:///w", "name": "method"}]}}
    assert roots.take_response(session, json.dumps(answer).encode())
    assert roots.uris_of(await asking) == ["file:///w"] and session.pending == {}


async def test_a_request_with_our_id_shape_is_not_taken_for_an_answer() -> None:
    session = _session()
    asking, request_id = await _asked(session)
    assert not roots.take_response(session, json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "ping"}).encode())
    assert not roots.take_response(session, b'{"jsonrpc": "2.0", "id": "synapse-req-999999", "result": {}}')
    asking.cancel()


async def test_an_error_answer_fails_the_ask() -> None:
    session = _session()
    asking, request_id = await _asked(session)
    error = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": "no roots here"}}
    assert roots.take_response(session, json.dumps(error).encode())
    with pytest.raises(SynapseError, match="refused roots/list"):
        await asking


async def test_a_client_that_never_answers_is_file_refused_after_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roots, "ROOTS_TIMEOUT_S", 0.05)
    asking, _ = await _asked(_session())
    with pytest.raises(SynapseError) as refused:
        await asking
    assert refused.value.kind == "file_refused" and "did not answer roots/list" in refused.value.message
