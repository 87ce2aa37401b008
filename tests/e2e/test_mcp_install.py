"""`synapsectl mcp install|uninstall|installs` against a temp HOME and a real daemon: only our
entry changes, comments and other servers stay byte-identical, backups restore, broken files are
refused untouched, and a client started from the installed entry can call `ask`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapsectl import ide_install, jsonc
from tests.e2e.mcp_support import start_with_mcp
from tests.support.daemon import REPO, DaemonProcess
from tests.support.fake_upstream import Canned, FakeUpstream, Recorded

KEY = "sk-proj-Inst4llKeyQx2LmN8pVw4ZtY6bHc1"
FILE_CLIENTS = ["cursor", "vscode", "windsurf", "codex", "claude-desktop", "gemini-cli", "opencode", "zed", "cline",
                "goose", "continue", "kiro"]

EXISTING = {
    "cursor": '// Cursor MCP servers\n{\n  "mcpServers": {\n    /* by hand */\n    "other": {"command": "other-mcp"}\n  }\n}\n',
    "vscode": '{\n\t// VS Code\n\t"servers": {\n\t\t"other": {"type": "stdio", "command": "x"},\n\t},\n\t"inputs": []\n}\n',
    "windsurf": '{\n  "mcpServers": {\n    "other": { "serverUrl": "https://example.com/mcp" } // remote\n  }\n}\n',
    "codex": '# my codex config\nmodel = "o3"  # keep\n\n[mcp_servers.other]\ncommand = "other-mcp"\nargs = ["--x"]\n',
    "claude-desktop": '{\n  "mcpServers": {\n    "other": {\n      "command": "npx",\n      "args": ["-y", "x"]\n    }\n  },\n  "globalShortcut": ""\n}\n',
    "gemini-cli": '{\n  "theme": "Dracula",\n  "mcpServers": {\n    "other": {"command": "uvx", "args": ["mcp-server-git"]}\n  }\n}\n',
    "opencode": '{\n  "$schema": "https://opencode.ai/config.json",\n  // mine\n  "mcp": {\n    "other": {"type": "remote", '
                '"url": "https://mcp.sentry.dev/mcp"},\n  },\n}\n',
    "zed": '// Zed settings\n{\n  "theme": "One Dark",\n  "context_servers": {\n    "other": {"command": "x", "args": []}\n  }\n}\n',
    "cline": '{\n  "mcpServers": {\n    "other": {"command": "node", "args": ["s.js"], "disabled": false, "autoApprove": []}\n  }\n}\n',
    "goose": '# goose\nGOOSE_PROVIDER: openai\nextensions:\n  other:\n    bundled: true\n    enabled: true  # built in\n'
             '    name: developer\n    timeout: 300\n    type: builtin\nGOOSE_MODEL: gpt-5.2\n',
    "continue": 'name: Local Assistant\nversion: 1.0.0\nschema: v1\nmcpServers:\n  - name: other  # browser\n'
                '    command: npx\n    args:\n      - "@playwright/mcp@latest"\n',
    "kiro": '{\n  "mcpServers": {\n    "other": {"command": "uvx", "args": ["x"], "disabled": false}\n  }\n}\n',
}


def _snippet_entry(client: str, snippet: str, name: str = "synapse") -> dict:
    """The entry `mcp config` prints, read the way its client reads the file."""
    if client == "codex":
        import tomllib

        return dict(tomllib.loads(snippet)["mcp_servers"][name])
    if client in ("goose", "continue"):
        import yaml

        servers = yaml.safe_load(snippet)[ide_install.ide_config.container(client)]
        return next(s for s in servers if s["name"] == name) if isinstance(servers, list) else servers[name]
    return dict(next(iter(json.loads(snippet).values()))[name])


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()

    def echo(record: Recorded) -> Canned:
        return fake.family.chat_ok("installed and answering")

    fake.reply_chat(echo)
    yield fake
    fake.stop()


@pytest.fixture
def env(daemon_proc: DaemonProcess, upstream: FakeUpstream) -> dict[str, str]:
    daemon_proc.env["GPT_KEY"] = KEY
    daemon_proc.env.pop("XDG_CONFIG_HOME", None)
    daemon_proc.env.pop("CODEX_HOME", None)
    start_with_mcp(daemon_proc)
    added = daemon_proc.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "m", "--base-url",
                            upstream.base_url, "--credential", "env:GPT_KEY")
    assert added.returncode == 0, added.stderr
    return daemon_proc.env


def _path(client: str, home: Path) -> Path:
    os.environ.pop("XDG_CONFIG_HOME", None)
    os.environ.pop("CODEX_HOME", None)
    tgt = ide_install.target(client, "user", home=home)
    assert tgt.path is not None
    return tgt.path


def _home(daemon: DaemonProcess) -> Path:
    return Path(daemon.env["HOME"])


def _entry(client: str, path: Path, name: str = "synapse") -> dict:
    tgt = ide_install.Target(client, "user", path)
    return ide_install.current_servers(tgt, path.read_text())[name]


@pytest.mark.parametrize("client", FILE_CLIENTS)
def test_install_into_an_existing_file_then_uninstall_leaves_it_byte_identical(
    daemon_proc: DaemonProcess, env: dict[str, str], client: str
) -> None:
    path = _path(client, _home(daemon_proc))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXISTING[client])
    path.chmod(0o644)
    installed = daemon_proc.ctl("mcp", "install", "--client", client)
    assert installed.returncode == 0, installed.stderr
    backups = list(path.parent.glob(path.name + ".synapse-backup-*"))
    assert len(backups) == 1 and backups[0].read_text() == EXISTING[client]
    assert "other" in ide_install.current_servers(ide_install.Target(client, "user", path), path.read_text())
    removed = daemon_proc.ctl("mcp", "uninstall", "--client", client)
    assert removed.returncode == 0, removed.stderr
    assert path.read_text() == EXISTING[client]


@pytest.mark.parametrize("client", FILE_CLIENTS)
def test_installed_entry_is_exactly_what_mcp_config_prints(
    daemon_proc: DaemonProcess, env: dict[str, str], client: str
) -> None:
    path = _path(client, _home(daemon_proc))
    assert daemon_proc.ctl("mcp", "install", "--client", client).returncode == 0
    snippet = json.loads(daemon_proc.ctl("mcp", "config", "--client", client, "--json").stdout)["snippet"]
    assert _entry(client, path) == _snippet_entry(client, snippet)
    token_bearing = client != "claude-desktop"  # Claude Desktop gets the stdio command
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 or not token_bearing


@pytest.mark.parametrize("client", ["cursor", "codex"])
def test_a_file_that_does_not_parse_is_refused_with_line_and_column_and_left_untouched(
    daemon_proc: DaemonProcess, env: dict[str, str], client: str
) -> None:
    path = _path(client, _home(daemon_proc))
    path.parent.mkdir(parents=True, exist_ok=True)
    broken = '{\n  "mcpServers": {\n    "a": 1\n    "b": 2\n  }\n}\n' if client == "cursor" else 'model = "o3"\n[mcp_servers\n'
    path.write_text(broken)
    result = daemon_proc.ctl("mcp", "install", "--client", client, "--json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "config_invalid" and error["line"] and error["column"]
    assert path.read_text() == broken and not list(path.parent.glob("*.synapse-backup-*"))


def test_a_different_entry_of_the_same_name_is_refused_unless_forced(
    daemon_proc: DaemonProcess, env: dict[str, str]
) -> None:
    path = _path("cursor", _home(daemon_proc))
    path.parent.mkdir(parents=True)
    mine = '{"mcpServers": {"synapse": {"url": "https://elsewhere.example/mcp"}}}\n'
    path.write_text(mine)
    refused = daemon_proc.ctl("mcp", "install", "--client", "cursor")
    assert refused.returncode == 1 and "kind: already_exists" in refused.stderr and path.read_text() == mine
    forced = daemon_proc.ctl("mcp", "install", "--client", "cursor", "--force")
    assert forced.returncode == 0
    assert _entry("cursor", path)["url"].startswith("http://127.0.0.1:")
    assert next(path.parent.glob("mcp.json.synapse-backup-*")).read_text() == mine
    not_ours = daemon_proc.ctl("mcp", "uninstall", "--client", "cursor", "--name", "other")
    assert not_ours.returncode == 1 and "kind: not_found" in not_ours.stderr


def test_dry_run_prints_the_diff_and_writes_nothing(daemon_proc: DaemonProcess, env: dict[str, str]) -> None:
    path = _path("windsurf", _home(daemon_proc))
    result = daemon_proc.ctl("mcp", "install", "--client", "windsurf", "--dry-run")
    assert result.returncode == 0 and '+    "synapse": {' in result.stdout and "serverUrl" in result.stdout
    assert not path.exists()


def test_a_symlink_out_of_home_is_refused(daemon_proc: DaemonProcess, env: dict[str, str], tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}\n")
    path = _path("cursor", _home(daemon_proc))
    path.parent.mkdir(parents=True)
    path.symlink_to(outside)
    result = daemon_proc.ctl("mcp", "install", "--client", "cursor")
    assert result.returncode == 1 and "kind: conflict" in result.stderr and outside.read_text() == "{}\n"


def test_token_rotation_is_seen_by_installs_and_fixed_by_refresh(
    daemon_proc: DaemonProcess, env: dict[str, str]
) -> None:
    for client in ("cursor", "codex", "vscode", "goose", "continue", "gemini-cli"):
        assert daemon_proc.ctl("mcp", "install", "--client", client).returncode == 0
    assert daemon_proc.ctl("mcp", "install", "--client", "claude-desktop").returncode == 0  # stdio
    assert daemon_proc.ctl("mcp", "token", "--rotate").returncode == 0
    listed = json.loads(daemon_proc.ctl("mcp", "installs", "--json").stdout)
    assert sorted((r["client"], r["token"].split(":")[0]) for r in listed) == [
        ("claude-desktop", "n/a (stdio)"), ("codex", "stale"), ("continue", "stale"), ("cursor", "stale"),
        ("gemini-cli", "stale"), ("goose", "stale"), ("vscode", "stale")]
    assert daemon_proc.ctl("mcp", "install", "--refresh").returncode == 0
    listed = json.loads(daemon_proc.ctl("mcp", "installs", "--json").stdout)
    assert {r["token"] for r in listed if r["transport"] == "http"} == {"current"}
    new_token = daemon_proc.paths.token_file.read_text().strip()
    assert _entry("cursor", _path("cursor", _home(daemon_proc)))["headers"]["Authorization"] == f"Bearer {new_token}"


# How Claude Code's `mcp add` reads its arguments (commander.js): `-e/--env <env...>` and
# `-H/--header <header...>` are variadic and take every following argument up to the next option
# or `--`; then come the name and the URL or command. A fake that accepts any order proved nothing
# (an `-e K=V` before the name swallowed the name in the real CLI).
_CLAUDE_ADD = r"""
args = sys.argv[1:]
if args[:2] == ["mcp", "add"]:
    rest, positional, variadic = args[2:], [], None
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            positional += rest
            break
        if arg in ("-e", "--env", "-H", "--header"):
            variadic = arg
        elif arg in ("-s", "--scope", "-t", "--transport"):
            rest.pop(0)
            variadic = None
        elif variadic is not None and not arg.startswith("-"):
            if variadic in ("-e", "--env") and "=" not in arg:
                sys.exit(f"error: Invalid environment variable format: {arg}")
        else:
            variadic = None
            positional.append(arg)
    if len(positional) < 2:
        sys.exit("error: missing required argument 'name' or 'commandOrUrl'")
"""


def _fake_claude(bin_dir: Path, log: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "claude"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n{_CLAUDE_ADD}\n"
                      f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    script.chmod(0o755)


def test_claude_code_install_runs_its_own_cli(daemon_proc: DaemonProcess, env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "claude.log"
    _fake_claude(tmp_path / "bin", log)
    with_claude = {**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"}
    assert daemon_proc.ctl("mcp", "install", "--client", "claude-code", env=with_claude).returncode == 0
    assert daemon_proc.ctl("mcp", "uninstall", "--client", "claude-code", env=with_claude).returncode == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0][:6] == ["mcp", "add", "--transport", "http", "-s", "user"]
    assert calls[0][6] == "synapse" and calls[0][8] == "--header" and calls[0][9].startswith("Authorization: Bearer ")
    assert calls[1] == ["mcp", "remove", "-s", "user", "synapse"]


def test_claude_code_stdio_install_with_an_environment_puts_the_name_first(
        daemon_proc: DaemonProcess, env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "claude.log"
    _fake_claude(tmp_path / "bin", log)
    with_claude = {**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"}
    result = daemon_proc.ctl("mcp", "install", "--client", "claude-code", "--stdio", "--name", "synapse-stdio",
                             env=with_claude)
    assert result.returncode == 0, result.stderr
    (call,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert call[:5] == ["mcp", "add", "-s", "user", "synapse-stdio"]
    assert call[5] == "-e" and call[6].startswith("SYNAPSE_HOME=") and "--" in call
    printed = daemon_proc.ctl("mcp", "config", "--client", "claude-code", "--stdio", env=with_claude).stdout
    assert printed.startswith("claude mcp add ") and printed.index(" synapse ") < printed.index(" -e ")


def test_claude_code_without_its_cli_prints_the_command(daemon_proc: DaemonProcess, env: dict[str, str]) -> None:
    no_claude = {**env, "PATH": os.path.dirname(sys.executable)}
    result = daemon_proc.ctl("mcp", "install", "--client", "claude-code", env=no_claude)
    assert result.returncode == 1 and "not on PATH" in result.stderr
    assert result.stdout.startswith("claude mcp add --transport http -s user synapse http://127.0.0.1:")
    assert daemon_proc.paths.token_file.read_text().strip() not in result.stdout  # shown as <token>


async def test_a_client_started_from_the_installed_http_entry_calls_ask(
    daemon_proc: DaemonProcess, env: dict[str, str]
) -> None:
    import httpx2
    import mcp_types as types
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    assert daemon_proc.ctl("mcp", "install", "--client", "cursor").returncode == 0
    server = _entry("cursor", _path("cursor", _home(daemon_proc)))
    http = httpx2.AsyncClient(headers=server["headers"], timeout=30)
    async with Client(streamable_http_client(server["url"], http_client=http),
                      client_info=types.Implementation(name="cursor", version="1")) as client:
        result = await client.call_tool("ask", {"prompt": "hi", "connection": "gpt"})
    assert result.is_error is False and result.structured_content["text"] == "installed and answering"


async def test_a_client_started_from_the_installed_stdio_entry_calls_ask(
    daemon_proc: DaemonProcess, env: dict[str, str]
) -> None:
    import mcp_types as types
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    assert daemon_proc.ctl("mcp", "install", "--client", "claude-desktop", "--connection", "gpt").returncode == 0
    server = _entry("claude-desktop", _path("claude-desktop", _home(daemon_proc)), "synapse-gpt")
    params = StdioServerParameters(command=server["command"], args=server["args"],
                                   env={**env, **server.get("env", {})})
    async with Client(params, client_info=types.Implementation(name="claude-desktop", version="1")) as client:
        result = await client.call_tool("ask", {"prompt": "hi"})
    assert result.is_error is False and result.structured_content["connection"] == "gpt"


def test_jsonc_reader_is_the_one_the_installer_uses() -> None:
    assert jsonc.loads('{"a": 1, // c\n}') == {"a": 1}


@pytest.mark.parametrize("client", FILE_CLIENTS)
def test_uninstall_removes_a_file_that_install_created(
    daemon_proc: DaemonProcess, env: dict[str, str], client: str
) -> None:
    path = _path(client, _home(daemon_proc))
    assert daemon_proc.ctl("mcp", "install", "--client", client).returncode == 0
    assert path.exists() and not list(path.parent.glob("*.synapse-backup-*"))  # nothing to back up
    assert daemon_proc.ctl("mcp", "uninstall", "--client", client).returncode == 0
    assert not path.exists()
    assert json.loads(daemon_proc.ctl("mcp", "installs", "--json").stdout) == []


def test_a_file_without_the_servers_section_gets_it_and_loses_it_again(
    daemon_proc: DaemonProcess, env: dict[str, str]
) -> None:
    path = _path("cursor", _home(daemon_proc))
    path.parent.mkdir(parents=True)
    original = '{\n  // only settings here\n  "theme": "dark"\n}\n'
    path.write_text(original)
    assert daemon_proc.ctl("mcp", "install", "--client", "cursor").returncode == 0
    assert "synapse" in jsonc.loads(path.read_text())["mcpServers"]
    assert daemon_proc.ctl("mcp", "uninstall", "--client", "cursor").returncode == 0
    assert path.read_text() == original


@pytest.mark.parametrize("args, field", [(("--client", "cursor", "--name", "bad name!"), "name"),
                                         (("--client", "windsurf", "--scope", "project"), "scope")])
def test_bad_install_arguments_are_typed_errors(
    daemon_proc: DaemonProcess, env: dict[str, str], args: tuple[str, ...], field: str
) -> None:
    result = daemon_proc.ctl("mcp", "install", *args, "--json")
    error = json.loads(result.stdout)["error"]
    assert result.returncode == 1 and error["kind"] == "bad_request" and error["field"] == field


def _ctl_in(daemon: DaemonProcess, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """synapsectl run from a project directory (project scope is relative to it)."""
    return subprocess.run([sys.executable, "-m", "synapsectl", "--home", str(daemon.home), *args], capture_output=True,
                          text=True, env={**(env or daemon.env), "PYTHONPATH": str(REPO)}, cwd=cwd, timeout=30)


@pytest.mark.parametrize(("client", "relative"), [
    ("cursor", ".cursor/mcp.json"), ("vscode", ".vscode/mcp.json"), ("gemini-cli", ".gemini/settings.json"),
    ("opencode", "opencode.json"), ("zed", ".zed/settings.json"), ("kiro", ".kiro/settings/mcp.json"),
    ("continue", ".continue/mcpServers/synapse.yaml")])
def test_project_scope_gets_the_stdio_command_and_never_the_token(
    daemon_proc: DaemonProcess, env: dict[str, str], client: str, relative: str
) -> None:
    project = _home(daemon_proc) / "proj"
    project.mkdir()
    result = _ctl_in(daemon_proc, project, "mcp", "install", "--client", client, "--scope", "project")
    assert result.returncode == 0, result.stderr
    assert "needs no token" in result.stderr
    path = project / relative
    entry = ide_install.current_servers(ide_install.Target(client, "project", path), path.read_text())["synapse"]
    assert ide_install.is_ours(entry) and ide_install.bearer_of(entry) is None
    assert daemon_proc.paths.token_file.read_text().strip() not in path.read_text()
    listed = json.loads(_ctl_in(daemon_proc, project, "mcp", "installs", "--json").stdout)
    assert [(r["scope"], r["transport"]) for r in listed] == [("project", "stdio")]
    removed = _ctl_in(daemon_proc, project, "mcp", "uninstall", "--client", client, "--scope", "project")
    assert removed.returncode == 0, removed.stderr
    assert not path.exists()  # install made it (Continue's block file with its header): uninstall takes it


def test_claude_code_project_scope_adds_the_stdio_command(
    daemon_proc: DaemonProcess, env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "claude.log"
    _fake_claude(tmp_path / "bin", log)
    with_claude = {**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"}
    assert daemon_proc.ctl("mcp", "install", "--client", "claude-code", "--scope", "project",
                           env=with_claude).returncode == 0
    call = json.loads(log.read_text().splitlines()[0])
    assert call[:4] == ["mcp", "add", "-s", "project"]
    assert call[-2:] == ["mcp", "stdio"] and "--header" not in call
    assert daemon_proc.paths.token_file.read_text().strip() not in log.read_text()


def test_refresh_skips_a_project_http_entry_from_before_and_says_how_to_replace_it(
    daemon_proc: DaemonProcess, env: dict[str, str]
) -> None:
    """An HTTP entry in a project file (what install wrote before project scope became stdio)
    is not given the new token: the hint reinstalls it as the stdio command."""
    project = _home(daemon_proc) / "proj"
    path = project / ".cursor" / "mcp.json"
    path.parent.mkdir(parents=True)
    old = '{"mcpServers": {"synapse": {"url": "http://127.0.0.1:1/mcp", "headers": {"Authorization": "Bearer old"}}}}\n'
    path.write_text(old)
    record = ide_install.Install(client="cursor", scope="project", path=str(path), name="synapse", transport="http",
                                 installed_at="2026-11-30T10:00:00", created_file=True)
    ide_install.Installs(daemon_proc.paths.config_dir / "installs.json").replace(record, keep=True)
    assert daemon_proc.ctl("mcp", "install", "--client", "cursor").returncode == 0  # a user-scope HTTP entry too
    assert daemon_proc.ctl("mcp", "token", "--rotate").returncode == 0
    result = daemon_proc.ctl("mcp", "install", "--refresh")
    assert result.returncode == 0, result.stderr
    assert f"skipped synapse in {path}" in result.stderr
    assert "--client cursor --scope project --force" in result.stderr
    assert path.read_text() == old
    new_token = daemon_proc.paths.token_file.read_text().strip()
    assert new_token not in path.read_text()
    assert _entry("cursor", _path("cursor", _home(daemon_proc)))["headers"]["Authorization"] == f"Bearer {new_token}"


def test_the_diff_shown_by_a_dry_run_and_by_json_never_holds_the_token(
    daemon_proc: DaemonProcess, env: dict[str, str]
) -> None:
    token = daemon_proc.paths.token_file.read_text().strip()
    dry = daemon_proc.ctl("mcp", "install", "--client", "cursor", "--dry-run")
    assert dry.returncode == 0 and '"Authorization": "[REDACTED]"' in dry.stdout
    done = daemon_proc.ctl("--json", "mcp", "install", "--client", "cursor")
    assert done.returncode == 0 and "[REDACTED]" in json.loads(done.stdout)["diff"]
    undo = daemon_proc.ctl("mcp", "uninstall", "--client", "cursor", "--dry-run")
    assert undo.returncode == 0 and "[REDACTED]" in undo.stdout
    assert token not in dry.stdout + dry.stderr + done.stdout + done.stderr + undo.stdout + undo.stderr
    written = _entry("cursor", _path("cursor", _home(daemon_proc)))
    assert written["headers"]["Authorization"] == f"Bearer {token}"  # the file itself works


def test_backups_are_0600_even_beside_a_0644_file_holding_the_token(daemon_proc: DaemonProcess, env: dict[str, str]) -> None:
    path = _path("cursor", _home(daemon_proc))
    path.parent.mkdir(parents=True)
    path.write_text(EXISTING["cursor"])
    path.chmod(0o644)
    assert daemon_proc.ctl("mcp", "install", "--client", "cursor").returncode == 0
    assert daemon_proc.ctl("mcp", "token", "--rotate").returncode == 0
    # The refresh backs up a file that holds the (old) token.
    assert daemon_proc.ctl("mcp", "install", "--refresh").returncode == 0
    backups = sorted(path.parent.glob("mcp.json.synapse-backup-*"))
    assert backups and any("Bearer" in b.read_text() for b in backups)
    assert {stat.S_IMODE(b.stat().st_mode) for b in backups} == {0o600}


@pytest.mark.skipif(os.getuid() != 0, reason="a directory of another user needs root to make")
def test_a_symlinked_parent_directory_into_another_users_directory_is_refused(
        daemon_proc: DaemonProcess, env: dict[str, str], tmp_path: Path) -> None:
    theirs = tmp_path / "other-user" / ".cursor"
    theirs.mkdir(parents=True)
    os.chown(theirs, 65534, 65534)
    home = _home(daemon_proc)
    (home / ".cursor").symlink_to(theirs, target_is_directory=True)
    result = daemon_proc.ctl("mcp", "install", "--client", "cursor")
    assert result.returncode == 1 and "kind: conflict" in result.stderr
    assert "belongs to uid 65534" in result.stderr
    assert list(theirs.iterdir()) == []


def test_a_server_name_with_a_trailing_newline_is_refused(daemon_proc: DaemonProcess, env: dict[str, str]) -> None:
    result = daemon_proc.ctl("mcp", "install", "--client", "codex", "--name", "evil\n")
    assert result.returncode != 0 and "is not allowed" in result.stderr
    assert not _path("codex", _home(daemon_proc)).exists()


def test_uninstall_gives_the_file_back_its_mode_and_says_how_to_reinstall(daemon_proc: DaemonProcess,
                                                                         env: dict[str, str]) -> None:
    path = _path("cursor", _home(daemon_proc))
    path.parent.mkdir(parents=True)
    path.write_text(EXISTING["cursor"])
    path.chmod(0o644)
    assert daemon_proc.ctl("mcp", "install", "--client", "cursor").returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the token now
    removed = daemon_proc.ctl("mcp", "uninstall", "--client", "cursor")
    assert removed.returncode == 0
    assert "mcp install --client cursor" in removed.stdout and "mcp uninstall" not in removed.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == EXISTING["cursor"]


def test_doctor_warns_when_an_installed_client_gives_up_before_the_slowest_connection(
    daemon_proc: DaemonProcess, env: dict[str, str], upstream: FakeUpstream
) -> None:
    assert daemon_proc.ctl("mcp", "install", "--client", "codex").returncode == 0  # written for a 60 s connection
    path = _path("codex", _home(daemon_proc))
    assert _entry("codex", path)["tool_timeout_sec"] == 90  # 60 s plus the margin
    slow = daemon_proc.ctl("connections", "add", "slow", "--provider", "openai", "--model", "m", "--base-url",
                           upstream.base_url, "--credential", "env:GPT_KEY", "--timeout", "300")
    assert slow.returncode == 0, slow.stderr
    checks = {c["name"]: c for c in json.loads(daemon_proc.ctl("doctor", "--json").stdout)["checks"]}
    warned = checks["codex timeout"]
    assert warned["status"] == "warn" and "waits 90 s" in warned["detail"] and "slow may take up to 300 s" in warned["detail"]
    assert daemon_proc.ctl(*warned["fix"].split(" (")[0].split()[1:]).returncode == 0  # the fix, as doctor gives it
    assert _entry("codex", path)["tool_timeout_sec"] == 330
    checks = {c["name"] for c in json.loads(daemon_proc.ctl("doctor", "--json").stdout)["checks"]}
    assert "codex timeout" not in checks
