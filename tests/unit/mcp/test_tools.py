"""The tool contract as IDEs see it: small tools/list, thread arguments validated by schema."""

from __future__ import annotations

import mcp_types as types
import pytest

from synapsed.errors import SynapseError
from synapsed.mcp.server import tool_list
from synapsed.mcp.tools import TOOLS, ToolRunner

# Every byte of tools/list sits in the IDE model's context on each session: reasoning, response_schema
# and include_reasoning took it from 5.1 to 6.3 KB, outputSchema and annotations to 8.4 KB (clients
# validate structuredContent against the one and decide on approval by the other), `files` and chat
# images to 9.5 KB; keep it under 10 KiB.
MAX_TOOLS_LIST_BYTES = 10 * 1024


def _size(bound: str | None) -> int:
    return len(types.ListToolsResult(tools=tool_list(bound)).model_dump_json(by_alias=True, exclude_none=True))


def test_tools_list_stays_under_ten_kilobytes() -> None:
    assert _size(None) < MAX_TOOLS_LIST_BYTES and _size("gpt") < _size(None)


@pytest.mark.parametrize("tool", ["ask", "chat", "compare"])
def test_thread_argument_is_advertised_with_its_pattern(tool: str) -> None:
    schema = next(t for t in tool_list(None) if t.name == tool).input_schema
    assert "pattern" in schema["properties"]["thread"]["anyOf"][0]


@pytest.mark.parametrize("value", ["old", "th-", "th-0123456789ABCDEF", "th-0123456789abcdef0", "new ", 7])
def test_malformed_thread_values_are_refused_before_any_call(value: object) -> None:
    with pytest.raises(SynapseError) as bad:
        ToolRunner._args(TOOLS["ask"], {"prompt": "x", "thread": value})
    assert bad.value.kind == "bad_request"


def test_compare_accepts_only_an_existing_id_not_new() -> None:
    with pytest.raises(SynapseError):
        ToolRunner._args(TOOLS["compare"], {"prompt": "x", "connections": ["a", "b"], "thread": "new"})


@pytest.mark.parametrize(("tool", "arguments", "where"), [
    ("ask", {"prompt": "\ud800"}, "`prompt`"),
    ("ask", {"prompt": "x", "system": "ok \udfff"}, "`system`"),
    ("chat", {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "\ud83d"}]},
     "`messages[1].content`"),
])
def test_a_lone_surrogate_in_arguments_is_a_bad_request_naming_the_field(tool: str, arguments: dict, where: str) -> None:
    # The SDK's 2026-07-28 parser (the stdlib's) lets "\ud800" through; UTF-8 cannot carry it.
    with pytest.raises(SynapseError) as bad:
        ToolRunner._args(TOOLS[tool], arguments)
    assert bad.value.kind == "bad_request" and where in bad.value.message and "surrogate" in bad.value.message


def test_non_bmp_text_is_not_mistaken_for_a_lone_surrogate() -> None:
    assert ToolRunner._args(TOOLS["ask"], {"prompt": "caf\u00e9 \U0001f600"}).prompt == "caf\u00e9 \U0001f600"


def test_only_list_connections_is_read_only_and_only_the_model_calls_reach_a_third_party() -> None:
    hints = {t.name: t.annotations for t in tool_list(None)}
    assert {n for n, a in hints.items() if a and a.read_only_hint} == {"list_connections"}
    assert {n for n, a in hints.items() if a and a.open_world_hint} == {"ask", "chat", "compare"}
    assert all(a is not None and a.destructive_hint is False for a in hints.values())


@pytest.mark.parametrize("tool", ["list_connections", "ask", "chat", "compare"])
def test_every_failure_shape_matches_the_tools_output_schema(tool: str) -> None:
    import jsonschema

    from synapsed.mcp.tools import error_answer

    schema = next(t for t in tool_list(None) if t.name == tool).output_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    failure = error_answer(SynapseError("auth_failed", "bad key", hint="set it"), "gpt").structured
    jsonschema.validate({**failure, "stored": False, "thread_id": "th-0123456789abcdef"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"error": {"kind": 7}}, schema)
