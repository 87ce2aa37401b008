"""What the Bedrock provider sends and parses, against botocore's service models for
bedrock-runtime (Converse) and bedrock (the control-plane calls preflight makes)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from synapsed.protocol import ChatRequest, Message
from synapsed.providers.bedrock import converse_body
from tests.contracts.schemas import ContractError, bedrock_error_types, bedrock_validate
from tests.support.fake_cloud import (
    availability_ok,
    converse_ok,
    foundation_model_ok,
    foundation_models_ok,
    inference_profile_ok,
)

MODEL = "amazon.nova-lite-v1:0"
FULL = ChatRequest(messages=[Message("user", "hi"), Message("assistant", "hello"), Message("user", "again")],
                   system="be brief", max_output_tokens=64, temperature=0.2, stop=["END"])
# The exception types the provider maps (and the fake sends), each one the service model declares.
MAPPED = {"AccessDeniedException", "ValidationException", "ResourceNotFoundException", "ThrottlingException",
          "ServiceQuotaExceededException", "ModelNotReadyException", "ModelTimeoutException", "ModelErrorException",
          "InternalServerException", "ServiceUnavailableException"}


@pytest.mark.parametrize("request_", [FULL, ChatRequest(messages=[Message("user", "hi")])], ids=["full", "minimal"])
def test_converse_body_is_a_valid_converse_request(request_: ChatRequest) -> None:
    bedrock_validate("bedrock-runtime", "Converse", converse_body(request_, MODEL))


def test_a_misspelled_inference_config_member_fails_the_contract() -> None:
    body: dict[str, Any] = converse_body(FULL, MODEL)
    body["inferenceConfig"]["maxToken"] = body["inferenceConfig"].pop("maxTokens")
    with pytest.raises(ContractError, match="maxToken"):
        bedrock_validate("bedrock-runtime", "Converse", body)


def test_claude_on_bedrock_gets_no_temperature_where_anthropic_deprecated_it() -> None:
    from synapsed.errors import SynapseError

    with pytest.raises(SynapseError):
        converse_body(FULL, "us.anthropic.claude-opus-4-8-v1:0")
    legacy = converse_body(FULL, "anthropic.claude-3-5-haiku-20241022-v1:0")
    assert legacy["inferenceConfig"]["temperature"] == 0.2
    bedrock_validate("bedrock-runtime", "Converse", converse_body(msgspec.structs.replace(FULL, temperature=None),
                                                                  "us.anthropic.claude-opus-4-8-v1:0"))


def test_fake_converse_reply_is_a_valid_converse_response() -> None:
    bedrock_validate("bedrock-runtime", "Converse", converse_ok("pong").json, output=True)


def test_a_converse_reply_without_metrics_fails_the_contract() -> None:
    reply = dict(converse_ok("pong").json)
    del reply["metrics"]
    with pytest.raises(ContractError, match="metrics"):
        bedrock_validate("bedrock-runtime", "Converse", reply, output=True)


@pytest.mark.parametrize(("operation", "canned"), [
    ("ListFoundationModels", foundation_models_ok([MODEL])),
    ("GetFoundationModel", foundation_model_ok(MODEL)),
    ("GetInferenceProfile", inference_profile_ok("us.anthropic.claude-sonnet-4-5-20250929-v1:0")),
    ("GetFoundationModelAvailability", availability_ok(MODEL)),
])
def test_fake_control_plane_replies_are_valid(operation: str, canned: Any) -> None:
    bedrock_validate("bedrock", operation, canned.json, output=True)


def test_every_mapped_error_type_is_one_the_services_declare() -> None:
    declared = bedrock_error_types("bedrock-runtime") | bedrock_error_types("bedrock")
    assert MAPPED <= declared, sorted(MAPPED - declared)
