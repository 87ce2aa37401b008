"""The providers' own machine-readable schemas, as validators for request bodies and replies.

- OpenAI: its published OpenAPI document (extract in schemas/openai.json, source and date inside).
- Anthropic: the official SDK's generated types (`anthropic.types`), built from Anthropic's spec.
- Gemini API and Vertex AI: the official `google-genai` types, which forbid unknown fields.
- Amazon Bedrock: botocore's service models for bedrock and bedrock-runtime (shipped in botocore).

Request bodies are checked strictly (an unknown or misspelled member fails); replies are checked
for the members and types the schema requires, so a fake's canned reply cannot drift either.
"""

from __future__ import annotations

import functools
import json
import typing
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


class ContractError(AssertionError):
    """A body or reply that the provider's own schema rejects."""


# ---- OpenAI: OpenAPI 3.1 with 3.0-style `nullable` ---------------------------------------------

def _nullable_to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_to_json_schema(v) for k, v in node.items()}
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def openai_document() -> dict[str, Any]:
    return json.loads((HERE / "schemas" / "openai.json").read_text())


def openai_validate(component: str, instance: Any, strict: bool = False) -> None:
    from jsonschema import Draft202012Validator

    document = openai_document()
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{component}",
                              "components": _nullable_to_json_schema(document["components"])}
    if strict:
        schema["unevaluatedProperties"] = False
    errors = sorted(Draft202012Validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        raise ContractError(f"OpenAI {component}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in errors[:5]))


# ---- Anthropic: the SDK's TypedDicts (requests) and pydantic models (replies) ---------------------

def _typed_dict_keys(td: Any) -> set[str]:
    if typing.get_origin(td) is typing.Union:  # e.g. MessageParam = User | Assistant | System
        return set().union(*(_typed_dict_keys(member) for member in typing.get_args(td)))
    return set(typing.get_type_hints(td))


def anthropic_validate_request(body: dict[str, Any]) -> None:
    from anthropic.types import MessageParam
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
    from pydantic import TypeAdapter, ValidationError

    unknown = set(body) - _typed_dict_keys(MessageCreateParamsNonStreaming)
    for message in body.get("messages", []):
        unknown |= {f"messages[].{k}" for k in set(message) - _typed_dict_keys(MessageParam)}
    if unknown:
        raise ContractError(f"Anthropic Messages request: unknown member(s) {sorted(unknown)}")
    try:
        TypeAdapter(MessageCreateParamsNonStreaming).validate_python(body, strict=False)
    except ValidationError as exc:
        raise ContractError(f"Anthropic Messages request: {exc}") from None


def _sdk_validate(module: str, model_name: str, instance: Any) -> None:
    """`instance` through one of an official SDK's generated pydantic models."""
    import importlib

    from pydantic import ValidationError

    try:
        getattr(importlib.import_module(module), model_name).model_validate(instance)
    except ValidationError as exc:
        raise ContractError(f"{module} {model_name}: {exc}") from None


def anthropic_validate(model_name: str, instance: Any) -> None:
    _sdk_validate("anthropic.types", model_name, instance)


# ---- Gemini API and Vertex AI: google-genai types (extra="forbid") -------------------------------

GENERATE_REQUEST_MEMBERS = {"contents", "systemInstruction", "generationConfig", "safetySettings", "tools",
                            "toolConfig", "cachedContent", "labels"}


def genai_validate_request(body: dict[str, Any]) -> None:
    from google.genai import types
    from pydantic import ValidationError

    unknown = set(body) - GENERATE_REQUEST_MEMBERS
    if unknown:
        raise ContractError(f"generateContent request: unknown member(s) {sorted(unknown)}")
    try:
        for content in body.get("contents", []):
            types.Content.model_validate(content)
        if "systemInstruction" in body:
            types.Content.model_validate(body["systemInstruction"])
        if "generationConfig" in body:
            types.GenerationConfig.model_validate(body["generationConfig"])
    except ValidationError as exc:
        raise ContractError(f"generateContent request: {exc}") from None


def genai_validate(model_name: str, instance: Any) -> None:
    _sdk_validate("google.genai.types", model_name, instance)


# ---- Amazon Bedrock: botocore's service models ---------------------------------------------------

@functools.cache
def botocore_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def bedrock_validate(service: str, operation: str, instance: Any, output: bool = False) -> None:
    """Validate with botocore's own ParamValidator against the operation's input (minus the members
    bound to the URI, which travel in the path) or output shape."""
    import botocore
    import pytest
    from botocore.model import OperationNotFoundError
    from botocore.validate import ParamValidator

    try:
        op = botocore_model(service).operation_model(operation)
    except OperationNotFoundError:
        # Only under `make test-lowest`: the oldest botocore the aws extra allows signs requests fine
        # but predates this operation's published model; make test checks it with a current botocore.
        pytest.skip(f"botocore {botocore.__version__} predates the {operation} model")
    shape = op.output_shape if output else op.input_shape
    params = dict(instance)
    if not output:
        for name, member in shape.members.items():
            if member.serialization.get("location") in ("uri", "querystring", "header"):
                params.setdefault(name, "uri-member")
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ContractError(f"Bedrock {operation} {'output' if output else 'input'}: {report.generate_report()}")


def bedrock_error_types(service: str) -> set[str]:
    model = botocore_model(service)
    return {shape for op in model.operation_names for shape in
            (e.name for e in model.operation_model(op).error_shapes)}
