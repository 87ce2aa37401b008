"""`[daemon] event_loop`: which loop a real synapsed runs on, how it says so, and what happens
when the configured one is not installed. (The official-client suite in test_mcp.py runs on
both loops.)"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.mcp_support import add_connection, http_client, start_with_mcp, stdio_client, text_of
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import FakeUpstream

KEY = "sk-proj-Loop5Hq8WnZ2xK7cV4bM9tR3"


def _without_uvloop(daemon: DaemonProcess, root: Path) -> None:
    """Shadow uvloop on the daemon's path, as on a machine where it is not installed."""
    shadow = root / "no-uvloop" / "uvloop"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'uvloop'\", name='uvloop')\n")
    daemon.env["PYTHONPATH"] = f"{shadow.parent}:{daemon.env['PYTHONPATH']}"


def _ready_line(daemon: DaemonProcess) -> dict[str, object]:
    lines = [json.loads(line) for line in daemon.paths.log_file.read_text().splitlines() if line.startswith("{")]
    return next(line for line in lines if line.get("event") == "synapsed ready")


def test_status_shows_uvloop_by_default_and_the_ready_line_says_why(daemon: DaemonProcess) -> None:
    assert daemon.client.daemon_status().event_loop == "uvloop"
    assert daemon.ctl("status").stdout.count("uvloop") == 1
    ready = _ready_line(daemon)
    assert ready["event_loop"] == "uvloop" and ready["event_loop_reason"] == "auto: uvloop is installed"


async def test_asyncio_setting_runs_the_stdlib_loop_end_to_end(daemon_proc: DaemonProcess,
                                                               openai_up: FakeUpstream) -> None:
    daemon_proc.env["GPT_KEY"] = KEY
    daemon = start_with_mcp(daemon_proc, '\n[daemon]\nevent_loop = "asyncio"\n')
    add_connection(daemon, "gpt", "openai", "test-model", openai_up.base_url, "GPT_KEY")
    assert json.loads(daemon.ctl("status", "--json").stdout)["daemon"]["event_loop"] == "asyncio"
    async with stdio_client(daemon) as bridged, http_client(daemon) as over_http:
        assert text_of(await bridged.call_tool("ask", {"prompt": "hi", "connection": "gpt"})) == "echo:hi"
        assert text_of(await over_http.call_tool("ask", {"prompt": "ho", "connection": "gpt"})) == "echo:ho"
    assert daemon.ctl("test", "gpt", "hello").stdout.strip() == "echo:hello"
    assert daemon.stop() == 0
    assert KEY not in daemon.all_state_text() and KEY not in daemon.stderr()


def test_auto_without_uvloop_runs_on_asyncio_and_says_so(daemon_proc: DaemonProcess, short_tmp: Path) -> None:
    _without_uvloop(daemon_proc, short_tmp)
    daemon = daemon_proc.start()
    assert daemon.client.daemon_status().event_loop == "asyncio"
    assert _ready_line(daemon)["event_loop_reason"] == "auto: uvloop is not installed"


def test_uvloop_setting_without_uvloop_exits_with_the_install_command(daemon_proc: DaemonProcess, short_tmp: Path) -> None:
    _without_uvloop(daemon_proc, short_tmp)
    stderr = daemon_proc.refused_start('[mcp]\nport = 0\n\n[daemon]\nevent_loop = "uvloop"\n')
    assert 'event_loop = "uvloop" but uvloop is not installed' in stderr
    assert "hint: pip install 'uvloop>=0.21'" in stderr
    assert not daemon_proc.paths.socket.exists()


def test_an_unknown_event_loop_is_refused_naming_the_field(daemon_proc: DaemonProcess) -> None:
    assert "event_loop" in daemon_proc.refused_start('[mcp]\nport = 0\n\n[daemon]\nevent_loop = "trio"\n')


def test_a_reload_that_changes_start_only_settings_says_a_restart_is_needed(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc)
    config = daemon.paths.config_file
    text = config.read_text()
    edited = text.replace("[mcp]\n", "[mcp]\nfast_path = false\nmax_sessions = 5\n", 1)
    config.write_text(edited + '\n[daemon]\nevent_loop = "asyncio"\n')
    reloaded = json.loads(daemon.ctl("reload", "--json").stdout)
    assert reloaded["changed"] is True
    assert reloaded["restart_needed"] == ["daemon.event_loop", "mcp.fast_path"]
    status = daemon.client.daemon_status()
    assert status.event_loop == "uvloop"  # still the loop it started on
    assert status.mcp is not None and status.mcp.max_sessions == 5  # the session limits apply on reload
    said = daemon.ctl("reload").stdout
    assert "not yet in force: daemon.event_loop, mcp.fast_path" in said and "restart synapsed" in said
    assert "these settings apply only after a restart" in daemon.paths.log_file.read_text()
    assert json.loads(daemon.ctl("status", "--json").stdout)["daemon"]["restart_needed"] == reloaded["restart_needed"]
    assert "needed to apply daemon.event_loop, mcp.fast_path" in daemon.ctl("status").stdout


def test_a_reload_without_start_only_changes_needs_no_restart(daemon: DaemonProcess) -> None:
    assert json.loads(daemon.ctl("reload", "--json").stdout)["restart_needed"] == []
    assert "not yet in force" not in daemon.ctl("reload").stdout
    assert daemon.client.daemon_status().restart_needed == []
