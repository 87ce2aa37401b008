"""What the Gemini API and Gemini on Vertex AI send and parse, against the official google-genai
types (which forbid unknown members)."""

from __future__ import annotations

from typing import Any

import pytest

from synapsed.protocol import ChatRequest, Message
from synapsed.providers.gemini import content_body
from tests.contracts.schemas import ContractError, genai_validate, genai_validate_request
from tests.support.fake_cloud import GEMINI_COUNT
from tests.support.fake_upstream import FAMILIES, gemini_error

FULL = ChatRequest(messages=[Message("user", "hi"), Message("assistant", "hello"), Message("user", "again")],
                   system="be brief", max_output_tokens=64, temperature=0.2, stop=["END"])


@pytest.mark.parametrize("request_", [FULL, ChatRequest(messages=[Message("user", "hi")])], ids=["full", "minimal"])
def test_generate_content_body_is_valid(request_: ChatRequest) -> None:
    genai_validate_request(content_body(request_))


def test_a_misspelled_generation_config_member_fails_the_contract() -> None:
    body: dict[str, Any] = content_body(FULL)
    body["generationConfig"]["maxOutputToken"] = body["generationConfig"].pop("maxOutputTokens")
    with pytest.raises(ContractError, match="maxOutputToken"):
        genai_validate_request(body)


def test_a_misspelled_top_level_member_fails_the_contract() -> None:
    body: dict[str, Any] = content_body(FULL)
    body["systemInstructions"] = body.pop("systemInstruction")
    with pytest.raises(ContractError, match="systemInstructions"):
        genai_validate_request(body)


def test_fake_generate_content_reply_is_a_valid_response() -> None:
    genai_validate("GenerateContentResponse", FAMILIES["gemini"].chat_ok("pong").json)


def test_fake_count_tokens_reply_is_a_valid_response() -> None:
    genai_validate("CountTokensResponse", GEMINI_COUNT)


def test_fake_model_listing_entries_are_valid_models() -> None:
    for entry in FAMILIES["gemini"].models_ok(["gemini-2.5-flash"]).json["models"]:
        genai_validate("Model", {k: v for k, v in entry.items() if k != "supportedGenerationMethods"} |
                       {"supportedActions": entry["supportedGenerationMethods"]})


def test_fake_error_body_has_google_rpc_status_shape() -> None:
    body = gemini_error(400, "API key not valid", "INVALID_ARGUMENT", "API_KEY_INVALID").json["error"]
    assert isinstance(body["code"], int) and isinstance(body["message"], str) and body["status"] == "INVALID_ARGUMENT"
    assert body["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
