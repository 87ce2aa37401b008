"""JSONC splices: one member added, replaced or removed, every other byte untouched."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapsectl import jsonc

COMMENTED = """// my MCP servers
{
  /* the one I wrote by hand */
  "mcpServers": {
    "other": {"command": "other-server", "args": ["--x"]}, // keep me
    "second": { "url": "http://localhost:9/mcp" }
  },
  "theme": "dark"
}
"""
ENTRY = {"url": "http://127.0.0.1:8808/mcp", "headers": {"Authorization": "Bearer t"}}


def test_add_then_remove_is_byte_identical() -> None:
    added = jsonc.set_member(COMMENTED, ["mcpServers", "synapse"], ENTRY)
    assert jsonc.loads(added)["mcpServers"]["synapse"] == ENTRY
    assert "// keep me" in added and "/* the one I wrote by hand */" in added
    assert jsonc.remove_member(added, ["mcpServers", "synapse"]) == COMMENTED


def test_added_member_copies_the_files_indentation() -> None:
    added = jsonc.set_member(COMMENTED, ["mcpServers", "synapse"], ENTRY)
    assert '\n    "synapse": {\n      "url"' in added


def test_trailing_comma_style_is_kept() -> None:
    text = '{\n  "servers": {\n    "a": {"url": "x"},\n  },\n}\n'
    added = jsonc.set_member(text, ["servers", "synapse"], {"type": "http"})
    assert jsonc.loads(added)["servers"] == {"a": {"url": "x"}, "synapse": {"type": "http"}}
    assert jsonc.remove_member(added, ["servers", "synapse"]) == text


def test_missing_container_is_created_and_removable() -> None:
    text = '{\n  "theme": "dark"\n}\n'
    added = jsonc.set_member(text, ["mcpServers", "synapse"], {"command": "c"})
    assert jsonc.loads(added) == {"theme": "dark", "mcpServers": {"synapse": {"command": "c"}}}
    assert jsonc.remove_member(added, ["mcpServers"]) == text


def test_empty_file_becomes_a_document() -> None:
    added = jsonc.set_member("", ["mcpServers", "synapse"], {"command": "c"})
    assert json.loads(added) == {"mcpServers": {"synapse": {"command": "c"}}}


def test_empty_object_keeps_its_comment() -> None:
    text = '{"mcpServers": { // none yet\n}}'
    added = jsonc.set_member(text, ["mcpServers", "s"], 1)
    assert "// none yet" in added and jsonc.loads(added) == {"mcpServers": {"s": 1}}


def test_replacing_a_member_changes_only_its_value() -> None:
    replaced = jsonc.set_member(COMMENTED, ["mcpServers", "second"], {"url": "new"})
    assert replaced.replace('{\n      "url": "new"\n    }', '{ "url": "http://localhost:9/mcp" }') == COMMENTED


def test_removing_the_first_of_several_members() -> None:
    removed = jsonc.remove_member(COMMENTED, ["mcpServers", "other"])
    assert jsonc.loads(removed)["mcpServers"] == {"second": {"url": "http://localhost:9/mcp"}}
    assert "/* the one I wrote by hand */" in removed


@pytest.mark.parametrize("text, line, column", [
    ('{\n  "a": 1\n  "b": 2\n}', 3, 3),
    ('{\n  "a": tru\n}', 2, 8),
    ('{"a": 1} extra', 1, 10),
    ('{\n  /* open', 2, 3),
    ('[1, 2]', None, None),
])
def test_broken_files_name_line_and_column(text: str, line: int | None, column: int | None) -> None:
    with pytest.raises(jsonc.JsoncError) as broken:
        jsonc.set_member(text, ["mcpServers", "x"], 1)
    if line is not None:
        assert (broken.value.line, broken.value.column) == (line, column)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=6).filter(lambda k: k != "synapse"), json_values, max_size=4),
       st.sampled_from([None, 2, 4, "\t"]), json_values)
def test_any_document_round_trips_through_add_and_remove(servers: dict, indent: object, value: object) -> None:
    text = json.dumps({"mcpServers": servers, "x": 1}, indent=indent) + "\n"  # type: ignore[arg-type]
    added = jsonc.set_member(text, ["mcpServers", "synapse"], value)
    assert jsonc.loads(added) == {"mcpServers": {**servers, "synapse": value}, "x": 1}
    removed = jsonc.remove_member(added, ["mcpServers", "synapse"])
    assert jsonc.loads(removed) == json.loads(text)
    if servers:
        assert removed == text


def test_nesting_deeper_than_the_limit_is_a_parse_error_with_its_place() -> None:
    text = '{"mcpServers": ' + "[" * 5000 + "]" * 5000 + "}"  # past Python's recursion limit
    with pytest.raises(jsonc.JsoncError) as deep:
        jsonc.loads(text)
    assert deep.value.reason == f"nested deeper than {jsonc.MAX_DEPTH} levels" and deep.value.line == 1


def test_nesting_at_the_limit_parses() -> None:
    depth = jsonc.MAX_DEPTH - 1  # the root object is a level too
    nested: list[object] = []
    for _ in range(depth - 1):
        nested = [nested]
    assert jsonc.loads('{"a": ' + "[" * depth + "]" * depth + "}") == {"a": nested}
