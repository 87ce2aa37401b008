"""Files and images from the IDE's workspace, end to end: an MCP client that declares roots (the
official SDK's list_roots_callback), over HTTP (both protocol eras) and the stdio bridge, sends
files by path; what is inside its roots reaches the provider as text blocks and image parts,
anything else is file_refused with nothing sent; a continued Claude thread carries cache
breakpoints and its cache reads are priced at the cache rate."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from tests.e2e.mcp_support import add_connection, http_client, start_with_mcp, stdio_client
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import Canned, FakeUpstream, Recorded

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "sk-proj-W0rkspaceKeyQv7Zt3Lm9Wx4Pb2N"
ANT_KEY = "sk-ant-api03-W0rkspaceAnt9yX8wV7uT6sR5"
GEM_KEY = "AIzaSyW0rkspaceGemKey0123456789abcdefg"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@pytest.fixture
def project(daemon_proc: DaemonProcess) -> Path:
    root = Path(daemon_proc.env["HOME"]) / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def answer():\n    return 42\n")
    (root / "shot.png").write_bytes(PNG)
    (root / ".env").write_text("SECRET=1\n")
    (root / ".ssh").mkdir()
    (root / ".ssh" / "id_ed25519").write_text("not a real key\n")
    outside = Path(daemon_proc.env["HOME"]) / "outside.txt"
    outside.write_text("not yours\n")
    (root / "link.txt").symlink_to(outside)
    os.mkfifo(root / "pipe")
    with open(root / "sparse.log", "wb") as sparse:
        sparse.truncate(2 * 1024**3)
    return root


@pytest.fixture
def upstreams() -> Iterator[dict[str, FakeUpstream]]:
    fakes = {"openai": FakeUpstream("openai").start(), "anthropic": FakeUpstream("anthropic", model="claude-opus-4-8").start(),
             "gemini": FakeUpstream("gemini", model="gemini-3.1-pro-preview").start()}
    for fake in fakes.values():
        fake.echo_chat(prefix="seen:") if fake.family_name != "gemini" else None
    yield fakes
    for fake in fakes.values():
        fake.stop()


@pytest.fixture
def daemon(daemon_proc: DaemonProcess, upstreams: dict[str, FakeUpstream]) -> DaemonProcess:
    daemon_proc.env.update(GPT_KEY=KEY, ANT_KEY=ANT_KEY, GEM_KEY=GEM_KEY)
    start_with_mcp(daemon_proc)
    add_connection(daemon_proc, "gpt", "openai", "gpt-5.2", upstreams["openai"].base_url, "GPT_KEY")
    add_connection(daemon_proc, "claude", "anthropic", "claude-opus-4-8", upstreams["anthropic"].base_url, "ANT_KEY")
    add_connection(daemon_proc, "gem", "gemini", "gemini-3.1-pro-preview", upstreams["gemini"].base_url, "GEM_KEY")
    return daemon_proc


def _roots(*paths: Path) -> Callable[[Any], Any]:
    async def answer(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=p.as_uri(), name=p.name) for p in paths])  # type: ignore[arg-type]

    return answer


@asynccontextmanager
async def _client(daemon: DaemonProcess, transport: str, roots: Callable[[Any], Any] | None) -> AsyncIterator[Any]:
    if transport == "stdio":
        async with stdio_client(daemon, list_roots_callback=roots) as client:
            yield client
    else:
        async with http_client(daemon, mode="2026-07-28" if transport == "http-2026" else "legacy",
                               list_roots_callback=roots) as client:
            yield client


def _bodies(fake: FakeUpstream) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.method == "POST"]


def _no_secrets(daemon: DaemonProcess, *texts: str) -> None:
    for key in (KEY, ANT_KEY, GEM_KEY):
        assert key not in daemon.stderr() and all(key not in t for t in texts)


TRANSPORTS = ["http", "stdio", "http-2026"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_file_inside_the_roots_reaches_the_provider_as_a_delimited_block(
    daemon: DaemonProcess, project: Path, upstreams: dict[str, FakeUpstream], transport: str
) -> None:
    async with _client(daemon, transport, _roots(project)) as client:
        result = await client.call_tool("ask", {"prompt": "review it", "connection": "gpt", "files": ["src/app.py"]})
    assert not result.is_error, result.structured_content
    sent = _bodies(upstreams["openai"])[-1]["messages"][-1]["content"]
    assert f'<file path="{project}/src/app.py" bytes="28">\ndef answer():\n    return 42\n\n</file>' in sent
    assert sent.endswith("review it")
    assert result.structured_content["files"] == [{"path": str(project / "src" / "app.py"), "bytes": 28, "kind": "text",
                                                   "est_tokens": 7}]
    history = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
    assert (history[0]["files"], history[0]["file_bytes"]) == (1, 28)
    assert "app.py" not in daemon.paths.ledger_file.read_bytes().decode("latin-1")  # counts, never names
    _no_secrets(daemon, json.dumps(result.structured_content))


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("ref", ["../outside.txt", "link.txt", ".env", ".ssh/id_ed25519", "/proc/self/environ", "src",
                                 "pipe", "sparse.log"])
async def test_what_the_roots_do_not_allow_is_refused_before_anything_is_sent(
    daemon: DaemonProcess, project: Path, upstreams: dict[str, FakeUpstream], transport: str, ref: str
) -> None:
    async with _client(daemon, transport, _roots(project)) as client:
        result = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": [ref]})
    assert result.is_error and result.structured_content["error"]["kind"] == "file_refused"
    assert _bodies(upstreams["openai"]) == []


async def test_a_symlinked_root_counts_as_its_target(daemon: DaemonProcess, project: Path,
                                                     upstreams: dict[str, FakeUpstream]) -> None:
    alias = project.parent / "alias"
    alias.symlink_to(project)
    async with _client(daemon, "stdio", _roots(alias)) as client:
        inside = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": ["src/app.py"]})
        escape = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": [str(alias / ".." / "outside.txt")]})
    assert not inside.is_error and inside.structured_content["files"][0]["path"] == str(project / "src" / "app.py")
    assert escape.structured_content["error"]["kind"] == "file_refused" and len(_bodies(upstreams["openai"])) == 1


async def test_the_daemons_token_file_is_refused_even_inside_a_root(daemon: DaemonProcess,
                                                                      upstreams: dict[str, FakeUpstream]) -> None:
    async with _client(daemon, "stdio", _roots(daemon.home)) as client:
        result = await client.call_tool("ask", {"prompt": "x", "connection": "gpt",
                                                "files": [str(daemon.paths.token_file)]})
    assert result.structured_content["error"]["kind"] == "file_refused"
    assert "own files" in result.structured_content["error"]["message"] and _bodies(upstreams["openai"]) == []


async def test_a_hard_link_to_the_daemons_token_inside_a_root_is_refused(daemon: DaemonProcess, project: Path,
                                                                          upstreams: dict[str, FakeUpstream]) -> None:
    try:
        os.link(daemon.paths.token_file, project / "notes.txt")
    except OSError as exc:  # another file system: no hard link can reach the token from there
        pytest.skip(f"cannot hard-link the token into the project: {exc.strerror}")
    async with _client(daemon, "stdio", _roots(project)) as client:
        result = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": ["notes.txt"]})
    error = result.structured_content["error"]
    assert error["kind"] == "file_refused" and "own files" in error["message"] and _bodies(upstreams["openai"]) == []
    assert daemon.paths.token_file.read_text().strip() not in json.dumps(result.structured_content)


async def test_a_connections_key_file_is_refused_even_inside_a_root(daemon: DaemonProcess, project: Path,
                                                                    upstreams: dict[str, FakeUpstream]) -> None:
    key_file = project / "keys" / "openai.txt"
    key_file.parent.mkdir()
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    added = daemon.ctl("connections", "add", "filed", "--provider", "openai", "--model", "gpt-5.2", "--base-url",
                       upstreams["openai"].base_url, "--credential", f"file:{key_file}")
    assert added.returncode == 0, added.stderr
    async with _client(daemon, "stdio", _roots(project)) as client:
        result = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": ["keys/openai.txt"]})
    error = result.structured_content["error"]
    assert error["kind"] == "file_refused" and "own files" in error["message"] and _bodies(upstreams["openai"]) == []
    _no_secrets(daemon, json.dumps(result.structured_content))


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_a_client_without_roots_is_refused_with_both_ways_named(
    daemon: DaemonProcess, project: Path, upstreams: dict[str, FakeUpstream], transport: str
) -> None:
    async with _client(daemon, transport, None) as client:
        result = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": [str(project / "src/app.py")]})
    error = result.structured_content["error"]
    assert error["kind"] == "file_refused" and "[context] allow" in error["hint"] and _bodies(upstreams["openai"]) == []


async def test_context_allow_stands_in_for_a_client_without_roots(daemon: DaemonProcess, project: Path,
                                                                  upstreams: dict[str, FakeUpstream]) -> None:
    text = daemon.paths.config_file.read_text()
    assert "\n[context]\n" in text  # the daemon writes every section
    daemon.paths.config_file.write_text(text.replace("\n[context]\n", f'\n[context]\nallow = ["{project}"]\n', 1))
    assert daemon.ctl("reload").returncode == 0
    async with _client(daemon, "http", None) as client:
        result = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": [str(project / "src/app.py")]})
    assert not result.is_error and "def answer" in _bodies(upstreams["openai"])[-1]["messages"][-1]["content"]


async def test_roots_removed_mid_session_are_asked_again_and_refuse(daemon: DaemonProcess, project: Path,
                                                                    upstreams: dict[str, FakeUpstream]) -> None:
    current = [project]

    async def answer(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=p.as_uri()) for p in current])  # type: ignore[arg-type]

    async with _client(daemon, "stdio", answer) as client:
        first = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": ["src/app.py"]})
        current.clear()
        current.append(project / "src" / "nowhere")
        await client.send_roots_list_changed()
        second = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": [str(project / "src/app.py")]})
    assert not first.is_error and second.structured_content["error"]["kind"] == "file_refused"
    assert len(_bodies(upstreams["openai"])) == 1


async def test_each_2026_request_brings_its_own_roots(daemon: DaemonProcess, project: Path,
                                                      upstreams: dict[str, FakeUpstream]) -> None:
    """The stateless era's calls share no session: one call's roots must not stand for the next."""
    current = [project / "src"]

    async def answer(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=p.as_uri()) for p in current])  # type: ignore[arg-type]

    async with _client(daemon, "http-2026", answer) as client:
        narrow = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": [str(project / "shot.png")]})
        current[0] = project
        wide = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": [str(project / "shot.png")]})
    assert narrow.structured_content["error"]["kind"] == "file_refused"
    assert not wide.is_error, wide.structured_content


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_a_png_reaches_openai_anthropic_and_gemini_as_their_image_parts(
    daemon: DaemonProcess, project: Path, upstreams: dict[str, FakeUpstream], transport: str
) -> None:
    upstreams["gemini"].reply_chat(upstreams["gemini"].family.chat_ok("I see a pixel"))
    async with _client(daemon, transport, _roots(project)) as client:
        result = await client.call_tool("compare", {"prompt": "what is this?", "connections": ["gpt", "claude", "gem"],
                                                    "files": ["shot.png"]})
    assert result.structured_content["answered"] == 3, result.structured_content
    data = base64.b64encode(PNG).decode()
    openai_parts = _bodies(upstreams["openai"])[-1]["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}} in openai_parts
    anthropic_blocks = _bodies(upstreams["anthropic"])[-1]["messages"][-1]["content"]
    assert {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}} in anthropic_blocks
    gemini_parts = _bodies(upstreams["gemini"])[-1]["contents"][-1]["parts"]
    assert {"inlineData": {"mimeType": "image/png", "data": data}} in gemini_parts


async def test_mcp_image_content_in_chat_is_sent_and_checked_by_its_bytes(daemon: DaemonProcess,
                                                                          upstreams: dict[str, FakeUpstream]) -> None:
    data = base64.b64encode(PNG).decode()
    async with _client(daemon, "http", None) as client:
        ok = await client.call_tool("chat", {"connection": "claude", "messages": [
            {"role": "user", "content": "and this?", "images": [{"type": "image", "data": data, "mimeType": "image/png"}]}]})
        lie = await client.call_tool("chat", {"connection": "claude", "messages": [
            {"role": "user", "content": "x", "images": [{"type": "image", "data": data, "mimeType": "image/jpeg"}]}]})
        said = await client.call_tool("chat", {"connection": "claude", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "y", "images": [{"type": "image", "data": data, "mimeType": "image/png"}]},
            {"role": "user", "content": "z"}]})
    assert not ok.is_error and lie.structured_content["error"]["kind"] == "bad_request"
    assert said.structured_content["error"]["kind"] == "bad_request" and "user messages" in said.structured_content[
        "error"]["message"]
    assert len(_bodies(upstreams["anthropic"])) == 1


def _price(key: str) -> dict[str, Any]:
    from synapsed.usage import prices

    table = json.loads((Path(prices.__file__).parent / "prices.json").read_text())
    return dict(table.get("models", table)[key])


def _cached_reply(record: Recorded) -> Canned:
    canned = FakeUpstream("anthropic").family.chat_ok("noted")
    turns = len(record.body["messages"])
    canned.json["usage"] = {"input_tokens": 40, "output_tokens": 5, "cache_creation_input_tokens": 0 if turns > 1 else 6000,
                            "cache_read_input_tokens": 6000 if turns > 1 else 0}
    return canned


async def test_a_continued_claude_thread_carries_cache_breakpoints_and_cache_reads_are_priced_at_the_cache_rate(
    daemon: DaemonProcess, project: Path, upstreams: dict[str, FakeUpstream]
) -> None:
    upstreams["anthropic"].reply_chat(_cached_reply)
    (project / "big.md").write_text("# notes\n" + "a line of project notes\n" * 1200)
    async with _client(daemon, "stdio", _roots(project)) as client:
        first = await client.call_tool("ask", {"prompt": "read these", "connection": "claude", "thread": "new",
                                               "files": ["big.md"]})
        thread = first.structured_content["thread_id"]
        second = await client.call_tool("ask", {"prompt": "and now?", "connection": "claude", "thread": thread})
    first_body, second_body = _bodies(upstreams["anthropic"])
    assert "cache_control" in json.dumps(first_body["messages"][-1])  # the files block
    earlier = second_body["messages"][-2]["content"]
    assert earlier[-1]["cache_control"] == {"type": "ephemeral"}  # the thread's earlier turns
    assert "a line of project notes" in json.dumps(second_body["messages"][0])  # stored as sent, files included
    usage = second.structured_content["usage"]
    assert usage["cache_read_tokens"] == 6000
    entry = _price("anthropic/claude-opus-4-8")  # $5 in, $0.50 cache reads, $25 out per million
    expected = (40 * entry["input"] + 6000 * entry["cached_input"] + 5 * entry["output"]) / 1e6
    assert entry["cached_input"] < entry["input"]
    totals = json.loads(daemon.ctl("usage", "--json").stdout)["today"]["totals"]
    assert totals["cache_saved_usd"] == pytest.approx(6000 * (entry["input"] - entry["cached_input"]) / 1e6)
    assert "prompt caching saved" in daemon.ctl("usage").stdout
    assert second.structured_content["cost_usd"] == pytest.approx(expected, rel=1e-6)
    _no_secrets(daemon)


async def test_one_hour_cache_writes_are_asked_for_and_priced_at_twice_the_input_rate(
    daemon: DaemonProcess, project: Path, upstreams: dict[str, FakeUpstream]
) -> None:
    def written_for_an_hour(record: Recorded) -> Canned:
        canned = FakeUpstream("anthropic").family.chat_ok("noted")
        canned.json["usage"] = {"input_tokens": 40, "output_tokens": 5, "cache_creation_input_tokens": 6000,
                                "cache_read_input_tokens": 0,
                                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 6000}}
        return canned

    add_connection(daemon, "claude-hour", "anthropic", "claude-opus-4-8", upstreams["anthropic"].base_url, "ANT_KEY",
                   "--option", "cache=1h")
    upstreams["anthropic"].reply_chat(written_for_an_hour)
    (project / "big.md").write_text("# notes\n" + "a line of project notes\n" * 1200)
    async with _client(daemon, "stdio", _roots(project)) as client:
        result = await client.call_tool("ask", {"prompt": "read these", "connection": "claude-hour", "files": ["big.md"]})
    (body,) = _bodies(upstreams["anthropic"])
    assert '"cache_control": {"type": "ephemeral", "ttl": "1h"}' in json.dumps(body)
    entry = _price("anthropic/claude-opus-4-8")  # $5 in, $25 out; an hour's writes at 2x input
    expected = (40 * entry["input"] + 6000 * 2 * entry["input"] + 5 * entry["output"]) / 1e6
    assert result.structured_content["cost_usd"] == pytest.approx(expected, rel=1e-6)
    history = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
    assert history[0]["cost_usd"] == pytest.approx(expected, rel=1e-6) and history[0]["cache_write_tokens"] == 6000
    _no_secrets(daemon)


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_the_sdk_path_asks_for_roots_through_the_sdk(daemon_proc: DaemonProcess, project: Path,
                                                           upstreams: dict[str, FakeUpstream], transport: str) -> None:
    """`[mcp] fast_path = false`: the SDK answers every call, and asks the client for roots itself."""
    daemon_proc.env.update(GPT_KEY=KEY)
    start_with_mcp(daemon_proc, "fast_path = false\nstream_responses = true\n")
    add_connection(daemon_proc, "gpt", "openai", "gpt-5.2", upstreams["openai"].base_url, "GPT_KEY")
    async with _client(daemon_proc, transport, _roots(project)) as client:
        ok = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": ["src/app.py"]})
        out = await client.call_tool("ask", {"prompt": "x", "connection": "gpt", "files": ["../outside.txt"]})
    assert not ok.is_error, ok.structured_content
    assert "def answer" in _bodies(upstreams["openai"])[-1]["messages"][-1]["content"]
    assert out.structured_content["error"]["kind"] == "file_refused" and len(_bodies(upstreams["openai"])) == 1
    assert daemon_proc.client.daemon_status().mcp.fast_path_answers is None  # type: ignore[union-attr]
