"""What the OpenAI family sends and what it parses, against OpenAI's published OpenAPI document."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from synapsed.config import ConnectionConfig
from synapsed.protocol import ChatRequest, Message
from synapsed.providers.base import CallContext
from synapsed.providers.openai import chat_body
from tests.contracts.schemas import ContractError, openai_validate
from tests.support.fake_upstream import FAMILIES, openai_error

FULL = ChatRequest(messages=[Message("user", "hi"), Message("assistant", "hello"), Message("user", "again")],
                   system="be brief", max_output_tokens=64, temperature=0.2, stop=["END"])


def _ctx(model: str = "gpt-4o-mini") -> CallContext:
    return CallContext("c", ConnectionConfig(provider="openai", model=model), "https://api.openai.com/v1", "k",
                       None, 1024)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["max_completion_tokens", "max_tokens"])
@pytest.mark.parametrize("request_", [FULL, ChatRequest(messages=[Message("user", "hi")])], ids=["full", "minimal"])
def test_chat_body_is_a_valid_create_chat_completion_request(field: str, request_: ChatRequest) -> None:
    openai_validate("CreateChatCompletionRequest", chat_body(_ctx(), request_, field), strict=True)


def test_a_misspelled_body_member_fails_the_contract() -> None:
    body: dict[str, Any] = chat_body(_ctx(), FULL, "max_completion_tokens")
    body["max_completion_token"] = body.pop("max_completion_tokens")
    with pytest.raises(ContractError, match="max_completion_token"):
        openai_validate("CreateChatCompletionRequest", body, strict=True)


def test_a_misspelled_message_member_fails_the_contract() -> None:
    body = copy.deepcopy(chat_body(_ctx(), FULL, "max_completion_tokens"))
    body["messages"][1]["contnet"] = body["messages"][1].pop("content")
    with pytest.raises(ContractError):
        openai_validate("CreateChatCompletionRequest", body, strict=True)


def test_fake_chat_reply_is_a_valid_chat_completion_response() -> None:
    openai_validate("CreateChatCompletionResponse", FAMILIES["openai"].chat_ok("pong").json)


def test_fake_model_listing_is_a_valid_list_models_response() -> None:
    openai_validate("ListModelsResponse", FAMILIES["openai"].models_ok(["gpt-4o-mini", "o3"]).json)


def test_fake_error_body_is_a_valid_error_response() -> None:
    openai_validate("ErrorResponse", openai_error(401, "Incorrect API key provided", code="invalid_api_key").json)


def test_a_reply_missing_a_required_member_fails_the_contract() -> None:
    reply = copy.deepcopy(FAMILIES["openai"].chat_ok("pong").json)
    del reply["choices"][0]["finish_reason"]
    with pytest.raises(ContractError, match="finish_reason"):
        openai_validate("CreateChatCompletionResponse", reply)


@pytest.mark.parametrize("model", ["gpt-4o", "o3-mini"])
def test_azure_deployment_body_plus_its_model_is_a_valid_request(model: str) -> None:
    from synapsed.providers.azure_openai import deployment_body

    body = deployment_body(_ctx(model), FULL)
    assert "model" not in body  # the deployment in the URL selects the model
    openai_validate("CreateChatCompletionRequest", {"model": model, **body}, strict=True)
