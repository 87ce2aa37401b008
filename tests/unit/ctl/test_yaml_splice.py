"""synapsectl/yaml_splice.py: one entry in or out of Goose's and Continue's YAML, comments and
layout kept; install then uninstall gives back the file byte for byte."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from synapsectl import yaml_splice
from synapsed import ide_config

GOOSE = """# goose config
GOOSE_PROVIDER: openai
extensions:
  developer:
    bundled: true
    enabled: true   # the built-in one
    name: developer
    timeout: 300
    type: builtin

  # my own
  github:
    cmd: github-mcp-server
    args: []
    enabled: false
    name: github
    type: stdio
GOOSE_MODEL: gpt-5.2
"""
CONTINUE = """name: Local Assistant
version: 1.0.0
schema: v1
models:
  - name: gpt
    provider: openai
mcpServers:
- name: Playwright   # browser
  command: npx
  args:
  - "@playwright/mcp@latest"
# trailing comment
"""
ENTRY = ide_config.entry("goose", url="http://127.0.0.1:8808/mcp", token="tok-123", connection=None, stdio=False,
                         home=None, timeout_s=90)
ITEM = ide_config.entry("continue", url="http://127.0.0.1:8808/mcp", token="tok-123", connection=None, stdio=False,
                        home=None)


def test_a_goose_extension_is_added_after_the_last_one_and_removed_exactly() -> None:
    after = yaml_splice.set_entry(GOOSE, "extensions", "synapse", ENTRY, sequence=False)
    doc = yaml.safe_load(after)
    assert doc["extensions"]["synapse"] == ENTRY and set(doc["extensions"]) == {"developer", "github", "synapse"}
    assert doc["GOOSE_MODEL"] == "gpt-5.2" and "# the built-in one" in after and "# my own" in after
    assert after.index("  synapse:") < after.index("GOOSE_MODEL")
    assert yaml_splice.remove_entry(after, "extensions", "synapse", sequence=False, drop_container=False) == GOOSE


def test_a_continue_server_is_added_to_the_list_in_its_own_indentation_and_removed_exactly() -> None:
    after = yaml_splice.set_entry(CONTINUE, "mcpServers", "synapse", ITEM, sequence=True)
    doc = yaml.safe_load(after)
    assert doc["mcpServers"][-1] == ITEM and doc["mcpServers"][0]["name"] == "Playwright"
    assert "\n- name: \"synapse\"" in after  # the list's own (zero) indentation
    assert yaml_splice.remove_entry(after, "mcpServers", "synapse", sequence=True, drop_container=False) == CONTINUE


def test_replacing_an_entry_changes_only_its_lines() -> None:
    first = yaml_splice.set_entry(GOOSE, "extensions", "synapse", ENTRY, sequence=False)
    changed = {**ENTRY, "uri": "http://127.0.0.1:9999/mcp"}
    second = yaml_splice.set_entry(first, "extensions", "synapse", changed, sequence=False)
    assert yaml.safe_load(second)["extensions"]["synapse"] == changed
    assert first.replace("8808", "9999") == second


def test_a_missing_container_is_made_and_dropped_again() -> None:
    text = "GOOSE_PROVIDER: openai  # no extensions yet"
    after = yaml_splice.set_entry(text, "extensions", "synapse", ENTRY, sequence=False)
    assert yaml.safe_load(after)["extensions"] == {"synapse": ENTRY}
    assert yaml_splice.remove_entry(after, "extensions", "synapse", sequence=False, drop_container=True) == text


def test_an_empty_file_becomes_the_container_alone() -> None:
    after = yaml_splice.set_entry("", "mcpServers", "synapse", ITEM, sequence=True)
    assert yaml.safe_load(after) == {"mcpServers": [ITEM]}
    assert yaml_splice.remove_entry(after, "mcpServers", "synapse", sequence=True, drop_container=True) == ""


def test_a_flow_style_container_is_refused_with_its_line() -> None:
    with pytest.raises(yaml_splice.YamlError) as refused:
        yaml_splice.set_entry("a: 1\nextensions: {dev: {enabled: true}}\n", "extensions", "synapse", ENTRY,
                              sequence=False)
    assert refused.value.line == 2 and "flow style" in refused.value.reason


def test_broken_yaml_names_line_and_column() -> None:
    with pytest.raises(yaml_splice.YamlError) as broken:
        yaml_splice.loads("extensions:\n  dev: [unclosed\n")
    assert broken.value.line is not None and broken.value.column is not None


def test_values_that_yaml_would_misread_stay_strings() -> None:
    tricky = {"name": "synapse", "type": "stdio", "cmd": "yes", "args": ["no", "1.0", "- x", "#not a comment", "a: b"],
              "envs": {"SYNAPSE_HOME": "~/odd: path # here"}, "enabled": True, "timeout": 90}
    after = yaml_splice.set_entry(GOOSE, "extensions", "synapse", tricky, sequence=False)
    assert yaml.safe_load(after)["extensions"]["synapse"] == tricky


# ---- any file, any entry: install then uninstall is the identity -------------------------------

_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda n: n != "synapse")
_scalars = st.one_of(st.integers(-5, 5), st.booleans(), st.text(max_size=8), st.none())
_comment = st.sampled_from(["", "  # c", "   # note: x"])


@st.composite
def goose_files(draw: st.DrawFn) -> str:
    lines = [f"# {draw(st.text(alphabet='abc xyz', max_size=10))}"] if draw(st.booleans()) else []
    if draw(st.booleans()):
        lines.append(f"GOOSE_PROVIDER: {json.dumps(draw(st.text(max_size=6)))}{draw(_comment)}")
    if draw(st.booleans()):
        lines.append(f"extensions:{draw(_comment)}")
        indent = draw(st.sampled_from([2, 4]))
        for name in draw(st.lists(_names, max_size=3, unique=True)):
            lines.append(" " * indent + f"{name}:")
            for key, value in draw(st.dictionaries(_names, _scalars, min_size=1, max_size=3)).items():
                lines.append(" " * indent * 2 + f"{key}: {json.dumps(value)}{draw(_comment)}")
            if draw(st.booleans()):
                lines.append("")
    if draw(st.booleans()):
        lines.append(f"GOOSE_MODEL: {json.dumps(draw(st.text(max_size=6)))}")
    ending = draw(st.sampled_from(["\n", ""]))
    return "\n".join(lines) + (ending if lines else "")


@st.composite
def continue_files(draw: st.DrawFn) -> str:
    lines = ["name: Local", "version: 1.0.0"] if draw(st.booleans()) else []
    if draw(st.booleans()):
        lines.append("mcpServers:")
        indent = draw(st.sampled_from([0, 2]))
        for name in draw(st.lists(_names, max_size=3, unique=True)):
            lines.append(" " * indent + f"- name: {name}{draw(_comment)}")
            lines.append(" " * indent + f"  command: {json.dumps(draw(st.text(max_size=5)))}")
    if draw(st.booleans()):
        lines.append("# the end")
    ending = draw(st.sampled_from(["\n", ""]))
    return "\n".join(lines) + (ending if lines else "")


def _round_trip(text: str, container: str, value: dict, sequence: bool) -> None:
    before = yaml.safe_load(text) or {}
    created = container not in before
    after = yaml_splice.set_entry(text, container, "synapse", value, sequence=sequence)
    servers = yaml.safe_load(after)[container]
    if sequence:
        assert servers[-1] == value and servers[:-1] == (before.get(container) or [])
    else:
        assert servers["synapse"] == value and {k: v for k, v in servers.items() if k != "synapse"} == (
            before.get(container) or {})
    assert yaml_splice.remove_entry(after, container, "synapse", sequence=sequence, drop_container=created) == text


@settings(max_examples=200, deadline=None)
@given(goose_files(), st.dictionaries(_names, st.text(max_size=10), max_size=3))
def test_any_goose_file_round_trips_through_install_and_uninstall(text: str, headers: dict[str, str]) -> None:
    _round_trip(text, "extensions", {**ENTRY, "headers": headers}, sequence=False)


@settings(max_examples=200, deadline=None)
@given(continue_files(), st.lists(st.text(max_size=10), max_size=3))
def test_any_continue_file_round_trips_through_install_and_uninstall(text: str, args: list[str]) -> None:
    _round_trip(text, "mcpServers", {"name": "synapse", "type": "stdio", "command": "/x/synapsectl",
                                     "args": ["mcp", "stdio", *args]}, sequence=True)
