"""Structured answers: the JSON Schema an agent passes as `response_schema`, checked before
sending, and every answer validated against it after (jsonschema, Draft 2020-12).

A schema that is not valid, too large or too deep is bad_request before anything is sent. An
answer that is not JSON, or breaks the schema, is `schema_mismatch`: it was paid for and is
recorded, and it is never re-sent (asking again is the caller's choice).
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from synapsed.errors import SynapseError
from synapsed.json_input import MALFORMED

MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 32
MAX_RAW_IN_ERROR = 2000


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_SCHEMA_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


@functools.lru_cache(maxsize=64)
def _validator(encoded: bytes) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(msgspec.json.decode(encoded))


def check_schema(schema: Any) -> bytes:
    """The schema, encoded (its cache key), or bad_request naming response_schema."""
    def bad(message: str, hint: str) -> SynapseError:
        return SynapseError("bad_request", f"response_schema {message}", hint=hint, field="response_schema")

    if not isinstance(schema, dict):
        raise bad("must be a JSON Schema object", 'e.g. {"type": "object", "properties": {"verdict": {"type": "string"}}}')
    encoded = msgspec.json.encode(schema)
    if len(encoded) > MAX_SCHEMA_BYTES:
        raise bad(f"is {len(encoded)} bytes, over the {MAX_SCHEMA_BYTES} limit", "describe the answer more simply")
    if _depth(schema) > MAX_SCHEMA_DEPTH:
        raise bad(f"nests deeper than {MAX_SCHEMA_DEPTH} levels", "flatten the schema")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise bad(f"is not a valid JSON Schema at {where}: {exc.message[:200]}", "check it against JSON Schema 2020-12") from None
    if schema.get("type") not in ("object", None) and "properties" not in schema:
        # Every structured-output API wants an object at the top (OpenAI's strict mode, Gemini, Claude).
        raise bad("must describe an object at its top level", 'wrap the value: {"type": "object", "properties": {...}}')
    return encoded


def strict_compatible(schema: Any) -> bool:
    """Whether OpenAI's strict mode takes the schema as it is: every object lists all its
    properties as required and sets additionalProperties false. Otherwise strict is off (the
    answer is still validated here)."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "object" or "properties" in node:
                props = node.get("properties", {})
                if node.get("additionalProperties") is not False or set(node.get("required", [])) != set(props):
                    return False
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(node)
    return True


def validate_answer(text: str, schema: dict[str, Any]) -> Any:
    """The answer parsed and valid, or schema_mismatch with the validator's path and message and
    the raw answer (bounded)."""
    raw = text if len(text) <= MAX_RAW_IN_ERROR else text[:MAX_RAW_IN_ERROR] + "…"
    try:
        value = msgspec.json.decode(text.strip().encode())
    except MALFORMED:
        raise SynapseError("schema_mismatch", "the answer is not JSON", raw_answer=raw,
                           hint="the call was billed and is not re-sent; ask again if you want another answer") from None
    errors = sorted(_validator(check_schema(schema)).iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
        raise SynapseError("schema_mismatch", f"the answer breaks the schema at {path}: {first.message[:300]}",
                           hint="the call was billed and is not re-sent; ask again if you want another answer",
                           path=path, validator_message=first.message[:300], raw_answer=raw)
    return value
