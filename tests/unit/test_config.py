"""Config parsing with file/line/field detail, and the atomic revisioned store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from synapsed.config import Config, ConfigStore, ConnectionConfig, parse, render, restart_needed
from synapsed.errors import SynapseError
from synapsed.paths import write_atomic

GOOD = """schema_version = 1
revision = 7

[daemon]
log_level = "debug"

[connections.main]
provider = "openai"
model = "gpt-4o-mini"

[connections.local]
provider = "ollama"
model = "llama3.2"
enabled = false
"""


def _error(text: str) -> SynapseError:
    with pytest.raises(SynapseError) as caught:
        parse(text, "config.toml")
    return caught.value


def test_parse_reads_connections_and_settings() -> None:
    config = parse(GOOD)
    assert config.revision == 7
    assert config.daemon.log_level == "debug"
    assert config.connections["local"].enabled is False
    assert config.connections["main"].credential == "keyring"


def test_render_then_parse_round_trips() -> None:
    config = parse(GOOD)
    assert parse(render(config)) == config
    assert render(config).startswith("# mcp synapse configuration")


def test_toml_syntax_error_names_the_line() -> None:
    error = _error(GOOD.replace('model = "llama3.2"', 'model = "llama3.2'))
    assert error.kind == "config_invalid"
    assert error.detail["line"] == 13
    assert "config.toml:13" in error.message


def test_nesting_past_the_toml_parsers_depth_is_a_config_error_naming_the_line() -> None:
    text = '[mcp]\nport = 8808\nx = ' + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(SynapseError) as bad:
        parse(text)
    assert bad.value.kind == "config_invalid" and "nested too deeply" in bad.value.message
    assert bad.value.detail["line"] == 3


def test_wrong_type_names_connection_field_and_line() -> None:
    error = _error(GOOD.replace("enabled = false", 'enabled = "no"'))
    assert error.detail["field"] == "connections.local.enabled"
    assert error.detail["line"] == 14


def test_unknown_field_in_connection_is_rejected() -> None:
    error = _error(GOOD.replace("enabled = false", 'api_key = "sk-oops"'))
    assert error.detail["field"] == "connections.local.api_key"
    assert "sk-oops" not in error.message


@pytest.mark.parametrize("field", ["api_key", "key", "apiKey", "token", "OPENAI_API_KEY", "secret"])
def test_a_key_pasted_into_a_connection_is_refused_with_where_keys_go(field: str) -> None:
    error = _error(GOOD.replace("enabled = false", f'{field} = "sk-proj-PastedByMistake0123456789"'))
    assert error.detail["field"] == f"connections.local.{field}"
    assert "keys never go in config.toml" in error.hint
    assert f"delete line {error.detail['line']}" in error.hint
    assert "synapsectl key set local" in error.hint
    assert "PastedByMistake" not in error.message + error.hint


def test_another_unknown_connection_field_keeps_the_plain_hint() -> None:
    error = _error(GOOD.replace("enabled = false", 'modle = "gpt-4o"'))
    assert "keys never go" not in (error.hint or "")


def test_an_unknown_field_inside_a_table_names_the_table_and_its_own_line() -> None:
    error = _error(GOOD.replace("[daemon]\n", "[daemon]\nbogus = 1\n"))
    assert error.detail["field"] == "daemon.bogus"
    assert error.detail["line"] == GOOD.splitlines().index("[daemon]") + 2


def test_unknown_top_level_field_is_rejected() -> None:
    error = _error("mystery = 1\n" + GOOD)
    assert error.detail["field"] == "mystery"
    assert error.detail["line"] == 1


def test_semantic_error_points_at_the_field_line_with_its_hint() -> None:
    error = _error(GOOD + '\n[connections.bad]\nprovider = "openai"\nmodel = "gpt-4o"\nbase_url = "http://evil.example/v1"\n')
    assert error.detail["field"] == "connections.bad.base_url"
    assert error.detail["line"] == GOOD.count("\n") + 5
    assert "loopback" in error.hint


def test_newer_schema_version_is_refused_with_upgrade_hint() -> None:
    error = _error(GOOD.replace("schema_version = 1", "schema_version = 99"))
    assert "upgrade" in error.hint


def test_bad_log_level_is_rejected() -> None:
    assert _error(GOOD.replace('"debug"', '"loud"')).detail["field"] == "daemon.log_level"


def test_an_unknown_event_loop_is_rejected_naming_the_field() -> None:
    bad = GOOD.replace('log_level = "debug"', 'log_level = "debug"\nevent_loop = "trio"')
    assert _error(bad).detail["field"] == "daemon.event_loop"


def test_event_loop_defaults_to_auto_and_is_not_written_out_when_default() -> None:
    config = parse(GOOD)
    assert config.daemon.event_loop == "auto"
    assert "event_loop" not in render(config)


def test_restart_needed_names_only_the_start_only_settings_that_changed() -> None:
    started = parse(GOOD)
    edited = msgspec.structs.replace(
        started,
        daemon=msgspec.structs.replace(started.daemon, event_loop="asyncio", log_level="error"),
        mcp=msgspec.structs.replace(started.mcp, port=9999, max_sessions=3),
    )
    assert restart_needed(started, edited) == ["daemon.event_loop", "mcp.port"]
    assert restart_needed(started, started) == []


def test_write_atomic_creates_0600_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    write_atomic(target, "a = 1\n")
    write_atomic(target, "a = 2\n")
    assert target.read_text() == "a = 2\n"
    assert (target.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def _store(tmp_path: Path) -> ConfigStore:
    store = ConfigStore(tmp_path / "config.toml")
    store.load()
    return store


def _add(name: str):
    def change(config: Config) -> Config:
        conn = ConnectionConfig(provider="openai", model="gpt-4o")
        return msgspec.structs.replace(config, connections={**config.connections, name: conn})

    return change


async def test_mutate_persists_and_bumps_revision(tmp_path: Path) -> None:
    store = _store(tmp_path)
    config = await store.mutate(_add("a"))
    assert config.revision == 1
    assert parse(store.path.read_text()).connections.keys() == {"a"}


async def test_mutate_against_stale_revision_conflicts(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await store.mutate(_add("a"), expected_revision=0)
    with pytest.raises(SynapseError) as caught:
        await store.mutate(_add("b"), expected_revision=0)
    assert caught.value.kind == "conflict"
    assert "b" not in store.config.connections


async def test_concurrent_mutations_are_serialised(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await asyncio.gather(*(store.mutate(_add(f"c{i}")) for i in range(20)))
    assert store.config.revision == 20
    assert len(parse(store.path.read_text()).connections) == 20


async def test_write_over_unreloaded_hand_edit_conflicts(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await store.mutate(_add("a"))
    store.path.write_text(store.path.read_text() + "\n# hand edit\n")
    with pytest.raises(SynapseError) as caught:
        await store.mutate(_add("b"))
    assert "reload" in caught.value.hint
    assert "# hand edit" in store.path.read_text()


async def test_reload_of_invalid_file_keeps_running_config(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await store.mutate(_add("a"))
    store.path.write_text("this is = = not toml")
    with pytest.raises(SynapseError):
        await store.reload()
    assert "a" in store.config.connections


async def test_reload_of_hand_edit_bumps_revision_past_the_file(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await store.mutate(_add("a"))
    store.path.write_text(store.path.read_text().replace("gpt-4o", "gpt-4.1"))
    config, changed = await store.reload()
    assert changed and config.revision == 2
    assert config.connections["a"].model == "gpt-4.1"
    _, changed_again = await store.reload()
    assert not changed_again


def test_load_removes_temp_files_left_by_a_crash(tmp_path: Path) -> None:
    (tmp_path / ".config.toml.abc.tmp").write_text("partial")
    _store(tmp_path)
    assert not list(tmp_path.glob(".config.toml.*.tmp"))


def test_unreadable_config_is_reported_with_chmod_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ConfigStore(tmp_path / "config.toml")
    store.path.write_text(GOOD)

    def denied(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(SynapseError) as caught:
        store.load()
    assert caught.value.kind == "config_invalid"
    assert f"chmod 600 {store.path}" in caught.value.hint


def test_config_path_that_is_a_directory_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(SynapseError) as caught:
        ConfigStore(tmp_path / "config.toml").load()
    assert "cannot read it" in caught.value.message


def test_session_cap_out_of_range_names_the_line_and_field() -> None:
    import pytest

    from synapsed.errors import SynapseError

    with pytest.raises(SynapseError) as caught:
        parse("[mcp]\nmax_sessions = 0\n")
    assert caught.value.kind == "config_invalid" and caught.value.detail["field"] == "mcp.max_sessions"
    assert caught.value.detail["line"] == 2


@pytest.mark.parametrize("line, field", [("max_turns = 0", "threads.max_turns"), ("max_chars = 10", "threads.max_chars"),
                                         ("retention_days = -1", "threads.retention_days")])
def test_thread_limits_out_of_range_name_line_and_field(line: str, field: str) -> None:
    from synapsed.errors import SynapseError

    with pytest.raises(SynapseError) as caught:
        parse(f"[threads]\n{line}\n")
    assert caught.value.kind == "config_invalid" and caught.value.detail["field"] == field
    assert caught.value.detail["line"] == 2


def test_threads_section_round_trips_through_render() -> None:
    config = parse("[threads]\nenabled = false\nretention_days = 0\n")
    assert config.threads.enabled is False and parse(render(config)).threads == config.threads


def test_a_custom_rest_template_mistake_in_a_hand_edit_names_the_option_and_its_line() -> None:
    error = _error(GOOD + '\n[connections.corp]\nprovider = "custom-rest"\nmodel = "m"\n'
                   'base_url = "https://llm.corp.example/api/generate"\n'
                   "options = { body = '{\"input\": \"{promt}\"}', answer = \"out.text\" }\n")
    assert error.detail["field"] == "connections.corp.options.body"
    assert error.detail["line"] == GOOD.count("\n") + 6
    assert "{promt}" in error.message


def test_a_bedrock_region_typo_in_a_hand_edit_names_the_option_and_its_line() -> None:
    error = _error(GOOD + '\n[connections.br]\nprovider = "bedrock"\nmodel = "amazon.nova-lite-v1:0"\n'
                   'credential = "aws"\n[connections.br.options]\nregion = "us-east"\n')
    assert error.detail["field"] == "connections.br.options.region"
    assert "us-east-1" in error.hint


@pytest.mark.parametrize("line, field", [("head_timeout_s = 0", "mcp.head_timeout_s"),
                                         ("idle_timeout_s = 1e9", "mcp.idle_timeout_s"),
                                         ("max_connections = 3", "mcp.max_connections"),
                                         ("sse_after_s = 61", "mcp.sse_after_s"),
                                         ("sse_after_s = -1", "mcp.sse_after_s"),
                                         ("progress_interval_s = 0.1", "mcp.progress_interval_s")])
def test_connection_guard_limits_out_of_range_name_line_and_field(line: str, field: str) -> None:
    error = _error(f"[mcp]\nport = 0\n{line}\n")
    assert error.kind == "config_invalid" and error.detail["field"] == field
    assert error.detail["line"] == 3


def test_connection_guard_settings_need_a_restart() -> None:
    started = parse("[mcp]\nport = 0\n")
    changed = parse("[mcp]\nport = 0\nhead_timeout_s = 5\nmax_connections = 100\n")
    assert restart_needed(started, changed) == ["mcp.head_timeout_s", "mcp.max_connections"]


@pytest.mark.parametrize(("text", "allowed"), [('[daemon]\nlog_level = "loud"\n', "debug, info, warning, error"),
                                               ('[daemon]\nevent_loop = "fast"\n', "auto, uvloop, asyncio")])
def test_an_invalid_choice_lists_the_allowed_ones(text: str, allowed: str) -> None:
    with pytest.raises(SynapseError) as caught:
        parse(text)
    assert caught.value.hint == f"use one of: {allowed}" and caught.value.detail["line"] == 2


@pytest.mark.parametrize(("line", "field"), [('allow = ["src"]', "context.allow"), ('allow = ["/"]', "context.allow"),
                                             ('allow_names = ["a/b"]', "context.allow_names"),
                                             ("max_file_bytes = 10", "context.max_file_bytes"),
                                             ("max_call_bytes = 2048", "context.max_call_bytes"),
                                             ("read_timeout_s = 0", "context.read_timeout_s")])
def test_context_settings_out_of_range_name_line_and_field(line: str, field: str) -> None:
    error = _error(f"[mcp]\nport = 0\n\n[context]\n{line}\n")
    assert error.kind == "config_invalid" and error.detail["field"] == field
    assert error.detail["line"] == 5


def test_context_allow_takes_home_relative_and_absolute_directories() -> None:
    config = parse('[context]\nallow = ["~/src", "/work"]\nallow_names = [".env.example"]\n')
    assert config.context.allow == ["~/src", "/work"] and config.context.allow_names == [".env.example"]


@pytest.mark.parametrize(("option", "expected"), [('max_input_tokens = "lots"', "whole number of tokens"),
                                                  ('max_input_tokens = "12"', "whole number of tokens"),
                                                  ('cache = "forever"', "off, 5m or 1h")])
def test_window_and_cache_options_are_checked_naming_the_option(option: str, expected: str) -> None:
    error = _error(GOOD + '\n[connections.c]\nprovider = "anthropic"\nmodel = "claude-opus-4-8"\n'
                   f'credential = "env:K"\n[connections.c.options]\n{option}\n')
    assert error.kind == "config_invalid" and expected in error.message
    assert error.detail["field"] == f"connections.c.options.{option.split()[0]}"


def test_window_and_cache_options_that_make_sense_are_taken() -> None:
    config = parse(GOOD + '\n[connections.c]\nprovider = "anthropic"\nmodel = "claude-opus-4-8"\n'
                   'credential = "env:K"\n[connections.c.options]\nmax_input_tokens = "131072"\ncache = "1h"\n')
    assert config.connections["c"].options == {"max_input_tokens": "131072", "cache": "1h"}
