"""Conversation threads against a real daemon: kept across restart and kill -9, shared by HTTP and
stdio clients, continued by any connection, one turn at a time, readable as MCP resources and
through `synapsectl threads`."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator

import pytest

from synapsed.protocol import UsageHistoryParams
from tests.e2e.mcp_support import http_client, start_gpt_and_claude, stdio_client, text_of
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream

KEY = "sk-proj-Thr3adKeyQx2LmN8pVw4ZtY6bHc1"
ANT_KEY = "sk-ant-api03-Thr3adAntKey9yX8wV7uT6sR5"


@pytest.fixture
def anthropic_up() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("anthropic").start()
    fake.echo_chat("claude says: ")
    yield fake
    fake.stop()


def _start(daemon: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream, extra: str = "") -> DaemonProcess:
    return start_gpt_and_claude(daemon, openai_up.base_url, anthropic_up.base_url, (KEY, ANT_KEY), extra_config=extra)


@pytest.fixture
def threads_daemon(daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream) -> DaemonProcess:
    return _start(daemon_proc, openai_up, anthropic_up)


def _restart(daemon: DaemonProcess) -> None:
    assert daemon.stop() == 0
    start_with_mcp_again(daemon)


def start_with_mcp_again(daemon: DaemonProcess) -> None:
    daemon.start()
    deadline = time.monotonic() + 20
    while daemon.client.daemon_status().mcp is None:
        assert time.monotonic() < deadline, "MCP did not come up again"
        time.sleep(0.05)


async def test_a_thread_survives_restart_and_is_continued_by_another_client_and_connection(
    threads_daemon: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    async with http_client(threads_daemon, name="cursor") as client:
        first = await client.call_tool("ask", {"prompt": "name a colour", "connection": "gpt", "thread": "new",
                                               "system": "be brief"})
        tid = first.structured_content["thread_id"]
        assert first.structured_content["turn"] == 1 and f"[thread {tid}, turn 1]" in text_of(first)
        second = await client.call_tool("ask", {"prompt": "another", "connection": "gpt", "thread": tid})
        assert second.structured_content["turn"] == 2
    assert openai_up.requests[-1].body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "name a colour"}, {"role": "assistant", "content": "echo:name a colour"},
        {"role": "user", "content": "another"},
    ]
    _restart(threads_daemon)
    async with stdio_client(threads_daemon, "claude-code") as client:
        third = await client.call_tool("ask", {"prompt": "critique that", "connection": "claude", "thread": tid})
        assert third.is_error is False and third.structured_content["turn"] == 3
        resource = await client.read_resource(f"synapse://threads/{tid}")
    sent = anthropic_up.requests[-1].body
    assert sent["system"] == "be brief"
    assert [m["content"] for m in sent["messages"]] == [
        "name a colour", "echo:name a colour", "another", "echo:another", "critique that"]
    text = resource.contents[0].text
    for piece in ("name a colour", "echo:another", "critique that", "claude says: critique that", "## Turn 3 — claude"):
        assert piece in text


async def test_an_acknowledged_turn_survives_kill_9(threads_daemon: DaemonProcess) -> None:
    async with http_client(threads_daemon) as client:
        result = await client.call_tool("ask", {"prompt": "remember me", "connection": "gpt", "thread": "new"})
    tid = result.structured_content["thread_id"]
    threads_daemon.kill9()
    start_with_mcp_again(threads_daemon)
    view = threads_daemon.client.threads_get(tid)
    assert [m.content for t in view.turns for m in t.messages] == ["remember me", "echo:remember me"]
    assert view.turns[0].connection == "gpt" and view.turns[0].caller == "mcp:test-ide"


async def test_a_second_turn_in_flight_is_thread_busy_and_never_sent(
    threads_daemon: DaemonProcess, openai_up: FakeUpstream
) -> None:
    async with http_client(threads_daemon) as client:
        first = await client.call_tool("ask", {"prompt": "start", "connection": "gpt", "thread": "new"})
        tid = first.structured_content["thread_id"]
        other = (await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "thread": "new"}))
        openai_up.echo_chat(delay=0.5)
        sent_before = openai_up.count("POST", openai_up.chat_path)
        slow, busy, parallel = await asyncio.gather(
            client.call_tool("ask", {"prompt": "slow", "connection": "gpt", "thread": tid}),
            _after(0.15, client.call_tool("ask", {"prompt": "racing", "connection": "gpt", "thread": tid})),
            _after(0.15, client.call_tool("ask", {"prompt": "other thread", "connection": "gpt",
                                                  "thread": other.structured_content["thread_id"]})),
        )
    assert slow.is_error is False and slow.structured_content["turn"] == 2
    assert busy.is_error is True and busy.structured_content["error"]["kind"] == "thread_busy"
    assert parallel.is_error is False
    assert openai_up.count("POST", openai_up.chat_path) - sent_before == 2  # slow + the other thread
    assert all(r.body["messages"][-1]["content"] != "racing" for r in openai_up.requests)
    turns = threads_daemon.client.threads_get(tid).turns
    assert [t.messages[0].content for t in turns] == ["start", "slow"]


async def _after(delay: float, call):  # type: ignore[no-untyped-def]
    await asyncio.sleep(delay)
    return await call


async def test_calls_without_a_thread_store_no_text_and_the_ledger_holds_only_the_id(
    threads_daemon: DaemonProcess,
) -> None:
    async with http_client(threads_daemon) as client:
        await client.call_tool("ask", {"prompt": "one-off secret plan", "connection": "gpt"})
        kept = await client.call_tool("ask", {"prompt": "kept words", "connection": "gpt", "thread": "new"})
    tid = kept.structured_content["thread_id"]
    threads_db = threads_daemon.paths.threads_file
    stored = sqlite3.connect(threads_db).execute("SELECT content FROM messages").fetchall()
    assert [c for (c,) in stored] == ["kept words", "echo:kept words"]
    rows = threads_daemon.client.usage_history(UsageHistoryParams()).rows
    assert sorted(str(r.thread_id) for r in rows) == sorted(["None", tid])
    ledger_text = threads_daemon.paths.ledger_file.read_bytes()
    assert b"kept words" not in ledger_text and b"one-off" not in ledger_text


async def test_keys_never_reach_the_threads_db_or_resources(
    threads_daemon: DaemonProcess, openai_up: FakeUpstream
) -> None:
    async with http_client(threads_daemon) as client:
        result = await client.call_tool("ask", {"prompt": "hello", "connection": "gpt", "thread": "new"})
        tid = result.structured_content["thread_id"]
        openai_up.reply_chat(lambda r: openai_up.family.chat_ok(f"your key is {KEY}"))
        leaked = await client.call_tool("ask", {"prompt": "leak it", "connection": "gpt", "thread": tid})
        resource = await client.read_resource(f"synapse://threads/{tid}")
        listing = await client.read_resource("synapse://connections")
    assert KEY not in text_of(leaked) and KEY not in json.dumps(leaked.structured_content)
    assert KEY not in resource.contents[0].text and KEY not in listing.contents[0].text
    assert KEY not in threads_daemon.all_state_text() and ANT_KEY not in threads_daemon.all_state_text()


async def test_resources_list_connections_threads_and_the_thread_template(threads_daemon: DaemonProcess) -> None:
    async with http_client(threads_daemon) as client:
        await client.call_tool("ask", {"prompt": "index me", "connection": "gpt", "thread": "new"})
        resources = await client.list_resources()
        templates = await client.list_resource_templates()
        connections = json.loads((await client.read_resource("synapse://connections")).contents[0].text)
        threads = json.loads((await client.read_resource("synapse://threads")).contents[0].text)
    assert [str(r.uri) for r in resources.resources] == ["synapse://connections", "synapse://threads"]
    assert [t.uri_template for t in templates.resource_templates] == ["synapse://threads/{id}"]
    assert sorted(c["name"] for c in connections["connections"]) == ["claude", "gpt"]
    assert threads["threads"][0]["title"] == "index me" and threads["total"] == 1


async def test_reading_an_unknown_thread_resource_is_a_typed_protocol_error(threads_daemon: DaemonProcess) -> None:
    from mcp.shared.exceptions import MCPError

    async with http_client(threads_daemon) as client:
        for uri, fragment in (("synapse://threads/th-0123456789abcdef", "no thread"),
                              ("synapse://threads/../../etc/passwd", "not a thread id"),
                              ("synapse://nothing", "no resource")):
            with pytest.raises(MCPError) as refused:
                await client.read_resource(uri)
            assert fragment in str(refused.value)


async def test_a_bad_thread_argument_is_a_tool_error_and_nothing_is_sent(
    threads_daemon: DaemonProcess, openai_up: FakeUpstream
) -> None:
    async with http_client(threads_daemon) as client:
        bad = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "thread": "'; DROP TABLE threads"})
        unknown = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "thread": "th-0123456789abcdef"})
    assert bad.is_error and bad.structured_content["error"]["kind"] == "bad_request"
    assert unknown.is_error and unknown.structured_content["error"]["kind"] == "not_found"
    assert openai_up.count("POST", openai_up.chat_path) == 0


async def test_compare_reads_a_thread_without_adding_to_it(
    threads_daemon: DaemonProcess, anthropic_up: FakeUpstream
) -> None:
    async with http_client(threads_daemon) as client:
        first = await client.call_tool("ask", {"prompt": "draft", "connection": "gpt", "thread": "new"})
        tid = first.structured_content["thread_id"]
        compared = await client.call_tool("compare", {"prompt": "improve it", "connections": ["gpt", "claude"],
                                                      "thread": tid})
    assert compared.structured_content["answered"] == 2 and compared.structured_content["thread_id"] == tid
    assert [m["content"] for m in anthropic_up.requests[-1].body["messages"]] == ["draft", "echo:draft", "improve it"]
    assert len(threads_daemon.client.threads_get(tid).turns) == 1


async def test_chat_continues_a_thread_with_its_messages_appended(
    threads_daemon: DaemonProcess, openai_up: FakeUpstream
) -> None:
    async with http_client(threads_daemon) as client:
        first = await client.call_tool("chat", {"messages": [{"role": "user", "content": "a"}], "connection": "gpt",
                                                "thread": "new"})
        tid = first.structured_content["thread_id"]
        await client.call_tool("chat", {"messages": [{"role": "user", "content": "b"}], "connection": "gpt",
                                        "thread": tid})
    assert [m["content"] for m in openai_up.requests[-1].body["messages"]] == ["a", "echo:a", "b"]


def test_caps_refuse_with_context_too_long_and_the_trim_command(
    daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, openai_up, anthropic_up, "\n[threads]\nmax_turns = 2\n")

    async def run() -> tuple[str, dict]:
        async with http_client(daemon) as client:
            first = await client.call_tool("ask", {"prompt": "1", "connection": "gpt", "thread": "new"})
            tid = first.structured_content["thread_id"]
            await client.call_tool("ask", {"prompt": "2", "connection": "gpt", "thread": tid})
            third = await client.call_tool("ask", {"prompt": "3", "connection": "gpt", "thread": tid})
            return tid, third.structured_content

    tid, refused = asyncio.run(run())
    assert refused["error"]["kind"] == "context_too_long"
    assert f"synapsectl threads trim {tid} --keep N" in refused["error"]["hint"]
    assert openai_up.count("POST", openai_up.chat_path) == 2
    trimmed = daemon.ctl("threads", "trim", tid, "--keep", "1")
    assert trimmed.returncode == 0 and "removed 1 turn(s), kept 1" in trimmed.stdout


def test_the_cli_lists_shows_exports_and_removes_threads(threads_daemon: DaemonProcess, tmp_path) -> None:
    async def make() -> str:
        async with http_client(threads_daemon) as client:
            result = await client.call_tool("ask", {"prompt": "cli walk", "connection": "gpt", "thread": "new"})
            return str(result.structured_content["thread_id"])

    tid = asyncio.run(make())
    listing = threads_daemon.ctl("threads", "list")
    assert listing.returncode == 0 and tid in listing.stdout and "cli walk" in listing.stdout
    shown = threads_daemon.ctl("threads", "show", tid)
    assert "echo:cli walk" in shown.stdout
    out = tmp_path / "t.jsonl"
    exported = threads_daemon.ctl("threads", "export", tid, "--format", "jsonl", "-o", str(out))
    assert exported.returncode == 0 and oct(out.stat().st_mode & 0o777) == "0o600"
    assert [json.loads(line)["role"] for line in out.read_text().splitlines()] == ["user", "assistant"]
    as_json = json.loads(threads_daemon.ctl("threads", "list", "--json").stdout)
    assert as_json["threads"][0]["id"] == tid
    assert threads_daemon.ctl("threads", "clear").returncode == 2  # no terminal, no --yes: refused
    assert threads_daemon.ctl("threads", "rm", tid).returncode == 0
    missing = threads_daemon.ctl("threads", "show", tid)
    assert missing.returncode == 1 and "kind: not_found" in missing.stderr
    bad = threads_daemon.ctl("threads", "show", "nonsense")
    assert bad.returncode == 1 and "kind: bad_request" in bad.stderr
    assert threads_daemon.ctl("threads", "clear", "--yes").returncode == 0
    for args in (("clear", "--before", "whenever", "--yes"), ("list", "--limit", "0"), ("trim", tid, "--keep", "-2")):
        refused = threads_daemon.ctl("threads", *args)
        assert refused.returncode == 1 and "kind: bad_request" in refused.stderr, args


async def test_a_failed_call_leaves_the_thread_as_it_was(
    threads_daemon: DaemonProcess, openai_up: FakeUpstream
) -> None:
    from tests.support.fake_upstream import openai_error

    async with http_client(threads_daemon) as client:
        first = await client.call_tool("ask", {"prompt": "keep", "connection": "gpt", "thread": "new"})
        tid = first.structured_content["thread_id"]
        openai_up.reply_chat(openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded"))
        failed = await client.call_tool("ask", {"prompt": "lost?", "connection": "gpt", "thread": tid})
    assert failed.is_error and failed.structured_content["error"]["kind"] == "rate_limited"
    assert failed.structured_content["thread_id"] == tid
    assert [m.content for t in threads_daemon.client.threads_get(tid).turns for m in t.messages] == ["keep", "echo:keep"]


async def test_a_reload_keeps_threads_working(threads_daemon: DaemonProcess) -> None:
    async with http_client(threads_daemon) as client:
        first = await client.call_tool("ask", {"prompt": "before reload", "connection": "gpt", "thread": "new"})
        tid = first.structured_content["thread_id"]
        reloaded = threads_daemon.ctl("reload")
        assert reloaded.returncode == 0, reloaded.stderr
        second = await client.call_tool("ask", {"prompt": "after reload", "connection": "gpt", "thread": tid})
    assert second.is_error is False and second.structured_content["turn"] == 2


def test_an_answer_past_the_character_cap_is_handed_over_but_not_stored(
    daemon_proc: DaemonProcess, openai_up: FakeUpstream, anthropic_up: FakeUpstream
) -> None:
    daemon = _start(daemon_proc, openai_up, anthropic_up, "\n[threads]\nmax_chars = 2000\n")
    huge = "x" * 50_000
    openai_up.reply_chat(openai_up.family.chat_ok(huge))

    async def run() -> tuple[object, object]:
        async with http_client(daemon) as client:
            answer = await client.call_tool("ask", {"prompt": "write a lot", "connection": "gpt", "thread": "new"})
            listed = await client.read_resource("synapse://threads")
            return answer, listed

    answer, listed = asyncio.run(run())
    assert answer.is_error is True
    assert answer.structured_content["error"]["kind"] == "context_too_long"
    assert "this turn was not stored" in answer.structured_content["error"]["message"]
    assert answer.structured_content["text"] == huge and answer.structured_content["stored"] is False
    assert huge in text_of(answer)
    tid = answer.structured_content["thread_id"]
    assert tid not in listed.contents[0].text  # a new thread whose first turn was refused does not exist
    with sqlite3.connect(daemon.paths.state_dir / "threads.sqlite3") as db:
        stored = db.execute("SELECT COALESCE(SUM(LENGTH(content)), 0) FROM messages").fetchone()[0]
    assert stored <= 2000
