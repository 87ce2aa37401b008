"""What the Anthropic family (and Claude on Vertex AI) sends and parses, against the official
SDK's generated types."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from synapsed.errors import SynapseError
from synapsed.protocol import ChatRequest, Message
from synapsed.providers.anthropic import message_body
from synapsed.providers.vertex import VERTEX_ANTHROPIC_VERSION
from tests.contracts.schemas import ContractError, anthropic_validate, anthropic_validate_request
from tests.support.fake_cloud import CLAUDE_COUNT, vertex_claude_ok
from tests.support.fake_upstream import FAMILIES, anthropic_error

MODEL = "claude-opus-4-8"
FULL = ChatRequest(messages=[Message("user", "hi"), Message("assistant", "hello"), Message("user", "again")],
                   system="be brief", max_output_tokens=64, stop=["END"])


@pytest.mark.parametrize("request_", [FULL, ChatRequest(messages=[Message("user", "hi")])], ids=["full", "minimal"])
def test_messages_body_is_a_valid_message_create_request(request_: ChatRequest) -> None:
    anthropic_validate_request({"model": MODEL, **message_body(request_, MODEL)})


def test_the_current_schema_has_no_temperature_and_it_is_refused_for_current_models() -> None:
    body: dict[str, Any] = {"model": MODEL, **message_body(FULL, MODEL), "temperature": 0.2}
    with pytest.raises(ContractError, match="temperature"):
        anthropic_validate_request(body)
    with pytest.raises(SynapseError) as refused:
        message_body(msgspec.structs.replace(FULL, temperature=0.2), MODEL)
    assert refused.value.kind == "bad_request"


def test_older_models_still_get_temperature_and_nothing_else_outside_the_schema() -> None:
    legacy = "claude-sonnet-4-5-20250929"
    body: dict[str, Any] = {"model": legacy, **message_body(msgspec.structs.replace(FULL, temperature=0.2), legacy)}
    assert body.pop("temperature") == 0.2  # the one member the current schema dropped, kept for these models
    anthropic_validate_request(body)


def testvertex_claude_ok_body_is_the_messages_body_without_model_plus_its_version() -> None:
    body: dict[str, Any] = {"anthropic_version": VERTEX_ANTHROPIC_VERSION, **message_body(FULL, MODEL)}
    assert "model" not in body
    anthropic_validate_request({"model": MODEL, **{k: v for k, v in body.items() if k != "anthropic_version"}})


def test_a_misspelled_body_member_fails_the_contract() -> None:
    body: dict[str, Any] = {"model": MODEL, **message_body(FULL, MODEL)}
    body["stop_sequence"] = body.pop("stop_sequences")
    with pytest.raises(ContractError, match="stop_sequence"):
        anthropic_validate_request(body)


@pytest.mark.parametrize("canned", [FAMILIES["anthropic"].chat_ok("pong"), vertex_claude_ok("pong")], ids=["api", "vertex"])
def test_fake_message_replies_are_valid_messages(canned: Any) -> None:
    anthropic_validate("Message", canned.json)


def test_fake_model_listing_entries_are_valid_model_infos() -> None:
    for entry in FAMILIES["anthropic"].models_ok(["claude-sonnet-4-5-20250929"]).json["data"]:
        anthropic_validate("ModelInfo", entry)


def test_fake_error_body_is_a_valid_error_response() -> None:
    anthropic_validate("ErrorResponse", anthropic_error(401, "invalid x-api-key", "authentication_error").json)


def test_a_reply_with_a_wrong_type_fails_the_contract() -> None:
    reply = dict(FAMILIES["anthropic"].chat_ok("pong").json)
    reply["usage"] = {"input_tokens": "twelve", "output_tokens": 3}
    with pytest.raises(ContractError):
        anthropic_validate("Message", reply)


def test_fakevertex_claude_ok_count_tokens_reply_is_a_valid_token_count() -> None:
    anthropic_validate("MessageTokensCount", CLAUDE_COUNT)
