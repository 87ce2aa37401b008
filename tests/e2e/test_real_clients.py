"""The real IDE clients, installed from the npm registry (tests/real_clients/package.json), against
a real daemon: `synapsectl mcp install` makes each list synapse as connected (or enabled, where
the client's listing does not connect), over HTTP and over stdio, `mcp uninstall` takes it out
again, and real Claude Code, Codex and Gemini CLI agents call `ask` through synapsed, including a
call its provider takes 75 seconds to answer and calls that send a workspace file by path.

A fake of a client proves only what its author believed; these are the clients themselves.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.mcp_support import add_connection, start_with_mcp
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream
from tests.support.real_clients import client_env, require
from tests.support.scripted_agent_model import ANSWER_PREFIX, ScriptedGemini, ScriptedModel, ScriptedResponses

KEY = "sk-proj-RealCl1entKeyQv7Zt3Lm9Wx4Pb2N"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LIST_TIMEOUT_S = 120


@dataclass(frozen=True)
class Client:
    install_name: str  # synapsectl's --client
    binary: str
    # How the client's own listing shows an entry as live: connected, or (Codex, whose listing
    # reads the config without connecting) enabled.
    live: str

    def listing(self, daemon: DaemonProcess, cwd: Path) -> str:
        result = subprocess.run([str(require(self.binary)), "mcp", "list"], env=client_env(daemon.env, self.binary),
                                cwd=cwd, capture_output=True, text=True, timeout=LIST_TIMEOUT_S)
        return ANSI.sub("", result.stdout + result.stderr)

    def shows_live(self, listing: str, name: str) -> bool:
        return re.search(self.live.format(name=re.escape(name)), listing, re.MULTILINE) is not None


CLIENTS = [
    Client("claude-code", "claude", r"^{name}: .* - ✔ Connected"),
    Client("gemini-cli", "gemini", r"✓ {name}: .* - Connected"),
    Client("codex", "codex", r"^{name}\s+.*\benabled\b"),
    Client("opencode", "opencode", r"✓ {name}\s*\n?.*connected"),
]


def _mentions(listing: str, name: str) -> bool:
    return re.search(rf"(^|[\s✓✔○])({re.escape(name)})(:|\s|$)", listing, re.MULTILINE) is not None


def _trust_home(root: Path) -> None:
    """Gemini CLI hides user-level servers in folders the user has not trusted; its docs trust a
    folder through ~/.gemini/trustedFolders.json (the file its `/permissions` dialog writes)."""
    folder = root / ".gemini"
    folder.mkdir(exist_ok=True)
    (folder / "trustedFolders.json").write_text(json.dumps({str(root): "TRUST_FOLDER"}))


@pytest.fixture
def daemon(daemon_proc: DaemonProcess) -> DaemonProcess:
    return start_with_mcp(daemon_proc)


def _root(daemon: DaemonProcess) -> Path:
    return Path(daemon.env["HOME"])


def _ctl(daemon: DaemonProcess, client: Client, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*daemon.ctl_argv(), *args], env=client_env(daemon.env, client.binary), cwd=_root(daemon),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.parametrize("transport", ["http", "stdio"])
@pytest.mark.parametrize("client", CLIENTS, ids=[c.install_name for c in CLIENTS])
def test_the_real_client_lists_synapse_after_install_and_forgets_it_after_uninstall(
    daemon: DaemonProcess, client: Client, transport: str
) -> None:
    require(client.binary)
    root = _root(daemon)
    _trust_home(root)
    name = "synapse" if transport == "http" else "synapse-stdio"
    stdio = ["--stdio", "--name", name] if transport == "stdio" else []
    _ctl(daemon, client, "mcp", "install", "--client", client.install_name, *stdio)
    listed = client.listing(daemon, root)
    assert client.shows_live(listed, name), listed
    _ctl(daemon, client, "mcp", "uninstall", "--client", client.install_name, *(["--name", name] if stdio else []))
    after = client.listing(daemon, root)
    assert not _mentions(after, name), after
    token = daemon.paths.token_file.read_text().strip()
    assert token not in listed + after  # the clients mask it; so must we, in what we print


# ---- a whole tool call through a real agent -----------------------------------------------------

@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()
    fake.echo_chat(prefix="upstream says: ")
    yield fake
    fake.stop()


def _agent(daemon: DaemonProcess, model: ScriptedModel, prompt: str) -> subprocess.CompletedProcess[str]:
    env = {**client_env(daemon.env, "claude"), "ANTHROPIC_BASE_URL": model.base_url,
           "ANTHROPIC_API_KEY": "sk-ant-scripted-model-not-a-key"}
    return subprocess.run([str(require("claude")), "-p", prompt, "--allowedTools", model.tool_name,
                           "--output-format", "text"], env=env, cwd=_root(daemon), capture_output=True, text=True,
                          timeout=300)


def _with_gpt(daemon: DaemonProcess, upstream: FakeUpstream, timeout_s: int = 60) -> None:
    daemon.env["GPT_KEY"] = KEY
    daemon.stop()
    start_with_mcp(daemon)
    add_connection(daemon, "gpt", "openai", "m", upstream.base_url, "GPT_KEY", "--timeout", str(timeout_s))


def _installed(daemon: DaemonProcess, upstream: FakeUpstream, binary: str, transport: str) -> str:
    """The daemon with `gpt` behind `upstream`, and synapse installed in the client: its server name."""
    require(binary)
    _with_gpt(daemon, upstream)
    client = next(c for c in CLIENTS if c.binary == binary)
    name = "synapse" if transport == "http" else "synapse-stdio"
    _ctl(daemon, client, "mcp", "install", "--client", client.install_name,
         *(["--stdio", "--name", name] if transport == "stdio" else []))
    return name


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_a_real_claude_code_agent_calls_ask_end_to_end_and_the_ledger_names_it(
    daemon: DaemonProcess, upstream: FakeUpstream, transport: str
) -> None:
    name = _installed(daemon, upstream, "claude", transport)
    model = ScriptedModel(name, "ask", {"prompt": "what is 2+2", "connection": "gpt"}).start()
    try:
        result = _agent(daemon, model, "ask the other model what 2+2 is")
    finally:
        model.stop()
    assert result.returncode == 0, result.stderr
    assert ANSWER_PREFIX in result.stdout and "upstream says: what is 2+2" in result.stdout
    assert model.tool_calls() == 1 and upstream.count("POST", "/v1/chat/completions") == 1
    rows = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
    assert [(r["caller"], r["status"], r["undelivered"]) for r in rows] == [("mcp:claude-code", "ok", None)]
    assert KEY not in result.stdout + result.stderr + daemon.stderr()


def _workspace_file(daemon: DaemonProcess) -> str:
    """A file in the agent's working directory (its workspace root): the text it sends by path."""
    source = _root(daemon) / "src" / "app.py"
    source.parent.mkdir(exist_ok=True)
    source.write_text("def answer():\n    return 42\n")
    return "src/app.py"


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_a_real_claude_code_agent_hands_a_workspace_file_to_the_other_model_by_path(
    daemon: DaemonProcess, upstream: FakeUpstream, transport: str
) -> None:
    """Claude Code declares its working directory as an MCP root and answers our roots/list: on
    the call's own SSE stream over HTTP, through the bridge over stdio."""
    name = _installed(daemon, upstream, "claude", transport)
    ref = _workspace_file(daemon)
    model = ScriptedModel(name, "ask", {"prompt": "review it", "connection": "gpt", "files": [ref]}).start()
    try:
        result = _agent(daemon, model, "ask the other model to review src/app.py")
    finally:
        model.stop()
    assert result.returncode == 0, result.stderr
    (sent,) = [r.body["messages"][-1]["content"] for r in upstream.requests if r.method == "POST"]
    assert sent.startswith(f'<file path="{_root(daemon) / ref}" bytes="28">\ndef answer():') and sent.endswith("review it")
    assert "upstream says: <file path=" in result.stdout  # the answer came back to the agent
    rows = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
    assert [(r["caller"], r["files"], r["file_bytes"]) for r in rows] == [("mcp:claude-code", 1, 28)]
    assert KEY not in result.stdout + result.stderr + daemon.stderr()


def _gemini_api_key_auth(root: Path) -> None:
    """Gemini CLI's documented way to use an API key: security.auth.selectedType in its
    settings.json (beside the mcpServers `mcp install` wrote), GEMINI_API_KEY in the environment
    and, for another endpoint, GOOGLE_GEMINI_BASE_URL (loopback may be plain HTTP)."""
    settings = root / ".gemini" / "settings.json"
    data = json.loads(settings.read_text())
    data["security"] = {"auth": {"selectedType": "gemini-api-key"}}
    settings.write_text(json.dumps(data))


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_a_real_gemini_cli_agent_sends_a_workspace_file_through_ask_and_the_ledger_names_it(
    daemon: DaemonProcess, upstream: FakeUpstream, transport: str
) -> None:
    """Gemini CLI (-p, --yolo) against a scripted Gemini API: it declares its workspace as MCP
    roots and answers our roots/list over both transports."""
    name = _installed(daemon, upstream, "gemini", transport)
    root = _root(daemon)
    _trust_home(root)
    _gemini_api_key_auth(root)
    ref = _workspace_file(daemon)
    model = ScriptedGemini(name, "ask", {"prompt": "review it", "connection": "gpt", "files": [ref]}).start()
    try:
        env = {**client_env(daemon.env, "gemini"), "GEMINI_API_KEY": "scripted-model-not-a-key",
               "GOOGLE_GEMINI_BASE_URL": model.base_url}
        result = subprocess.run([str(require("gemini")), "-p", "ask the other model to review src/app.py", "--yolo"],
                                env=env, cwd=root, capture_output=True, text=True, timeout=180,
                                stdin=subprocess.DEVNULL)
    finally:
        model.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    assert ANSWER_PREFIX in result.stdout and "upstream says: <file path=" in result.stdout, result.stdout
    assert model.tool_calls() >= 1
    (sent,) = [r.body["messages"][-1]["content"] for r in upstream.requests if r.method == "POST"]
    assert sent.startswith(f'<file path="{root / ref}" bytes="28">') and sent.endswith("review it")
    rows = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
    assert [(r["caller"], r["status"], r["files"]) for r in rows] == [("mcp:gemini-cli-mcp-client", "ok", 1)]
    assert KEY not in result.stdout + result.stderr + daemon.stderr()


def _codex_provider(root: Path, model: ScriptedResponses) -> None:
    """Codex's own documented way to use another model API: a model provider in config.toml (its
    top-level keys ahead of the tables `mcp install` wrote)."""
    config = root / ".codex" / "config.toml"
    config.write_text('model = "gpt-5.2"\nmodel_provider = "scripted"\n\n' + config.read_text()
                      + f'\n[model_providers.scripted]\nname = "scripted"\nbase_url = "{model.base_url}"\n'
                        'env_key = "SCRIPTED_MODEL_KEY"\nwire_api = "responses"\n')


def _codex_exec(daemon: DaemonProcess, model: ScriptedResponses, prompt: str) -> subprocess.CompletedProcess[str]:
    _codex_provider(_root(daemon), model)
    return subprocess.run(
        [str(require("codex")), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", prompt],
        env={**client_env(daemon.env, "codex"), "SCRIPTED_MODEL_KEY": "scripted"}, cwd=_root(daemon),
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_a_real_codex_agent_calls_ask_end_to_end_and_the_ledger_names_it(
    daemon: DaemonProcess, upstream: FakeUpstream, transport: str
) -> None:
    name = _installed(daemon, upstream, "codex", transport)
    model = ScriptedResponses(name, "ask", {"prompt": "what is 2+2", "connection": "gpt"}).start()
    try:
        result = _codex_exec(daemon, model, "ask the other model what 2+2 is")
    finally:
        model.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    assert ANSWER_PREFIX in result.stdout and "upstream says: what is 2+2" in result.stdout, result.stdout
    assert model.tool_calls() == 1 and upstream.count("POST", "/v1/chat/completions") == 1
    offered = model.offered(model.requests[0])
    assert offered is not None and "list_connections" in offered["description"]  # our initialize instructions
    rows = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
    assert [(r["caller"], r["status"]) for r in rows] == [("mcp:codex-mcp-client", "ok")]
    assert KEY not in result.stdout + result.stderr + daemon.stderr()


def test_a_real_codex_agent_declares_no_roots_so_its_files_need_context_allow(
    daemon: DaemonProcess, upstream: FakeUpstream
) -> None:
    """Codex (0.171) declares no MCP roots: its file is refused, naming the way out, until
    [context] allow lists the directory; then it is sent."""
    name = _installed(daemon, upstream, "codex", "stdio")
    ref = _workspace_file(daemon)
    config = (_root(daemon) / ".codex" / "config.toml").read_text()
    model = ScriptedResponses(name, "ask", {"prompt": "review it", "connection": "gpt", "files": [ref]}).start()
    try:
        refused = _codex_exec(daemon, model, "ask the other model to review src/app.py")
        assert refused.returncode == 0, refused.stderr[-2000:]
        assert "file_refused" in refused.stdout and "[context] allow" in refused.stdout, refused.stdout
        assert upstream.count("POST", "/v1/chat/completions") == 0
        text = daemon.paths.config_file.read_text()
        assert "\n[context]\n" in text  # the daemon writes every section
        daemon.paths.config_file.write_text(text.replace("\n[context]\n", f'\n[context]\nallow = ["{_root(daemon)}"]\n', 1))
        assert daemon.ctl("reload").returncode == 0
        (_root(daemon) / ".codex" / "config.toml").write_text(config)  # the provider block, written once
        sent = _codex_exec(daemon, model, "ask the other model to review src/app.py")
    finally:
        model.stop()
    assert sent.returncode == 0, sent.stderr[-2000:]
    (body,) = [r.body for r in upstream.requests if r.method == "POST"]
    assert "def answer():" in body["messages"][-1]["content"]
    assert KEY not in refused.stdout + sent.stdout + daemon.stderr()


@pytest.mark.timeout(300)
def test_a_75_second_call_reaches_a_real_claude_code_agent_over_http_and_stdio(
    daemon: DaemonProcess, upstream: FakeUpstream
) -> None:
    """Claude Code gives up on response headers after 60 s: with the default config the HTTP reply
    turns into a stream after [mcp] sse_after_s, and the answer arrives at 75 s."""
    require("claude")
    upstream.echo_chat(prefix="upstream says: ", delay=75)
    _with_gpt(daemon, upstream, timeout_s=120)
    claude = next(c for c in CLIENTS if c.binary == "claude")
    _ctl(daemon, claude, "mcp", "install", "--client", "claude-code")
    _ctl(daemon, claude, "mcp", "install", "--client", "claude-code", "--stdio", "--name", "synapse-stdio")
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(name: str) -> None:
        model = ScriptedModel(name, "ask", {"prompt": f"slow question via {name}", "connection": "gpt"}).start()
        try:
            results[name] = _agent(daemon, model, "ask the other model, however long it takes")
        finally:
            model.stop()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("synapse", "synapse-stdio")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(280)
    for name in ("synapse", "synapse-stdio"):
        assert f"upstream says: slow question via {name}" in results[name].stdout, (name, results[name].stdout,
                                                                                     results[name].stderr)
    rows = json.loads(daemon.ctl("usage", "history", "--json").stdout)["rows"]
    assert sorted((r["status"], r["undelivered"]) for r in rows) == [("ok", None), ("ok", None)]
    assert all(r["latency_ms"] >= 75_000 for r in rows)
