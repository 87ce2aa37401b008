"""synapsectl's contract with scripts: exit codes, --json, human output, and its import budget."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.daemon import REPO, DaemonProcess


def test_status_when_daemon_is_down_exits_3_with_start_hint(daemon_proc: DaemonProcess) -> None:
    result = daemon_proc.ctl("status")
    assert result.returncode == 3
    assert "synapsed is not running" in result.stderr
    assert "start it with `synapsed`" in result.stderr


def test_status_json_when_daemon_is_down_is_parseable(daemon_proc: DaemonProcess) -> None:
    result = daemon_proc.ctl("status", "--json")
    assert result.returncode == 3
    assert json.loads(result.stdout)["error"]["kind"] == "daemon_not_running"


def test_usage_error_exits_2(daemon: DaemonProcess) -> None:
    assert daemon.ctl("connections", "add", "x").returncode == 2
    assert daemon.ctl("frobnicate").returncode == 2
    bad_option = daemon.ctl("connections", "add", "x", "--provider", "openai", "--model", "m", "--option", "novalue")
    assert bad_option.returncode == 2 and "KEY=VALUE" in bad_option.stderr


def test_daemon_failure_exits_1(daemon: DaemonProcess) -> None:
    assert daemon.ctl("connections", "show", "ghost").returncode == 1


def test_status_human_output_names_version_pid_and_paths(daemon: DaemonProcess) -> None:
    result = daemon.ctl("status")
    assert result.returncode == 0
    assert f"pid {daemon.proc.pid}" in result.stdout  # type: ignore[union-attr]
    assert str(daemon.paths.config_file) in result.stdout
    assert str(daemon.paths.socket) in result.stdout


def test_status_json_has_daemon_and_connections(daemon: DaemonProcess) -> None:
    daemon.ctl("connections", "add", "a", "--provider", "mistral", "--model", "mistral-large-latest")
    status = json.loads(daemon.ctl("status", "--json").stdout)
    assert status["daemon"]["connections"] == 1
    assert status["daemon"]["keyring"]["backend"].endswith("FileKeyring")
    assert status["connections"][0]["effective_base_url"] == "https://api.mistral.ai/v1"


def test_connections_list_table_shows_key_state(daemon: DaemonProcess) -> None:
    daemon.ctl("connections", "add", "a", "--provider", "openai", "--model", "gpt-4o")
    daemon.ctl("connections", "add", "b", "--provider", "ollama", "--model", "llama3.2")
    daemon.ctl("key", "set", "a", input="sk-listtest-abcdefghijklmnop")
    out = daemon.ctl("connections", "list").stdout.splitlines()
    assert out[0].split() == ["NAME", "PROVIDER", "MODEL", "ENABLED", "CREDENTIAL", "KEY", "PREFLIGHT", "ENDPOINT"]
    assert "ok sk-…mnop" in out[1]
    assert "not needed" in out[2]


def test_key_rm_then_status_reports_missing_with_hint(daemon: DaemonProcess) -> None:
    daemon.ctl("connections", "add", "a", "--provider", "openai", "--model", "gpt-4o")
    daemon.ctl("key", "set", "a", input="sk-rmtest-abcdefghijklmnop")
    assert "deleted keyring entry" in daemon.ctl("key", "rm", "a").stdout
    status = daemon.ctl("key", "status", "a")
    assert status.returncode == 1
    assert "synapsectl key set a" in status.stdout


def test_connection_rm_removes_its_keyring_entry(daemon: DaemonProcess) -> None:
    daemon.ctl("connections", "add", "a", "--provider", "openai", "--model", "gpt-4o")
    daemon.ctl("key", "set", "a", input="sk-rmconn-abcdefghijklmnop")
    out = daemon.ctl("connections", "rm", "a").stdout
    assert "and its keyring entry" in out
    assert "sk-rmconn" not in (daemon.home.parent / "keyring.json").read_text()


def test_logs_prints_recent_lines_even_with_daemon_stopped(daemon: DaemonProcess) -> None:
    daemon.ctl("connections", "add", "a", "--provider", "openai", "--model", "gpt-4o")
    daemon.stop()
    result = daemon.ctl("logs", "-n", "3")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert "synapsed stopped" in lines[-1]
    raw = daemon.ctl("logs", "-n", "1", "--json").stdout
    assert json.loads(raw)["event"] == "synapsed stopped"


def test_synapsectl_does_not_import_heavy_modules(daemon: DaemonProcess) -> None:
    probe = (
        "import sys\n"
        "from synapsectl import cli\n"
        f"rc = cli.main(['--home', {str(daemon.home)!r}, 'status', '--json'])\n"
        "heavy = [m for m in ('aiohttp', 'mcp', 'structlog', 'keyring') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
        "sys.exit(rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="
