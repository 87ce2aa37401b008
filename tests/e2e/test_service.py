"""Login service templates, install/uninstall/status with a recording systemctl, socket
activation, and `synapsectl doctor` for a healthy chain and each broken link."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from synapsectl import service
from tests.support.daemon import REPO, DaemonProcess


@pytest.fixture
def stub(short_tmp: Path, daemon_env: dict[str, str]) -> Path:
    """A recording stand-in for systemctl/launchctl: used because this machine has no user manager."""
    log = short_tmp / "systemctl.log"
    script = short_tmp / "fake-systemctl"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'case "$*" in *is-active*) echo active;; *is-enabled*) echo enabled;; esac\n'
        "exit 0\n"
    )
    script.chmod(0o755)
    daemon_env["SYNAPSE_SYSTEMCTL"] = str(script)
    daemon_env["SYNAPSE_LAUNCHCTL"] = str(script)
    daemon_env["XDG_CONFIG_HOME"] = str(short_tmp / "xdg-config")
    return log


def _unit_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "systemd" / "user"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed on this machine")
@pytest.mark.parametrize("with_home", [True, False])
def test_systemd_units_pass_systemd_analyze_verify(daemon_proc: DaemonProcess, short_tmp: Path, with_home: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_tmp / "rt"))
    plan = service.plan(daemon_proc.paths, str(daemon_proc.home) if with_home else None, socket_activation=True, platform="systemd")
    out = short_tmp / "units"
    out.mkdir()
    for path, text in plan.files.items():
        (out / path.name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", *(str(out / p.name) for p in plan.files)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines() if str(out) in line]
    assert ours == [], ours  # verify exits 0 on ignored settings: any line naming our files is a defect
    text = plan.files[next(p for p in plan.files if p.name == "synapsed.service")]
    for setting in ("Type=notify", "Restart=on-failure", "UMask=0077", "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert setting in text
    assert f"ExecStart={service.synapsed_path()}" in text


def test_launchd_plist_parses_with_the_right_program_and_logs(daemon_proc: DaemonProcess) -> None:
    plan = service.plan(daemon_proc.paths, str(daemon_proc.home), platform="launchd")
    (path, text), = plan.files.items()
    data = plistlib.loads(text.encode())
    assert path.name == "com.mcp-synapse.synapsed.plist"
    assert data["Label"] == "com.mcp-synapse.synapsed"
    assert data["ProgramArguments"] == [service.synapsed_path()]
    assert data["RunAtLoad"] is True and data["KeepAlive"] == {"SuccessfulExit": False}
    assert data["StandardErrorPath"].startswith(str(daemon_proc.paths.log_dir))
    assert data["EnvironmentVariables"] == {"SYNAPSE_HOME": str(daemon_proc.home)}
    assert plan.enable[0][1:3] == ["bootstrap", f"gui/{os.getuid()}"]


def test_dry_run_prints_exactly_the_files_install_writes(daemon_proc: DaemonProcess, stub: Path) -> None:
    dry = daemon_proc.ctl("service", "install", "--socket", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = {f["path"]: f["content"] for f in json.loads(dry.stdout)["files"]}
    assert not stub.exists()  # a dry run runs nothing
    real = daemon_proc.ctl("service", "install", "--socket", "--json")
    assert real.returncode == 0, real.stderr
    written = {path: Path(path).read_text() for path in planned}
    assert written == planned
    human = daemon_proc.ctl("service", "install", "--socket", "--dry-run").stdout
    for content in planned.values():
        assert content in human


def test_install_is_idempotent_and_uninstall_removes_only_its_files(daemon_proc: DaemonProcess, stub: Path) -> None:
    unit_dir = _unit_dir(daemon_proc.env)
    unit_dir.mkdir(parents=True)
    foreign = unit_dir / "other.service"
    foreign.write_text("[Service]\nExecStart=/bin/true\n")
    first = json.loads(daemon_proc.ctl("service", "install", "--json").stdout)
    assert [f["action"] for f in first["files"]] == ["created"]
    second = json.loads(daemon_proc.ctl("service", "install", "--json").stdout)
    assert [f["action"] for f in second["files"]] == ["unchanged"]
    calls = stub.read_text().splitlines()
    assert calls.count("--user daemon-reload") == 2 and calls.count("--user enable --now synapsed.service") == 2
    status = daemon_proc.ctl("service", "status", "--json")
    state = json.loads(status.stdout)
    assert state["installed"] is True and state["running"] == "active" and state["daemon"] == "not answering"
    removed = json.loads(daemon_proc.ctl("service", "uninstall", "--json").stdout)
    assert [Path(f["path"]).name for f in removed["files"]] == ["synapsed.service"]
    assert "--user disable --now synapsed.service synapsed.socket" in stub.read_text()
    assert foreign.exists() and not (unit_dir / "synapsed.service").exists()
    again = json.loads(daemon_proc.ctl("service", "uninstall", "--json").stdout)
    assert again["files"] == [] and "nothing to remove" in again["note"]


def test_install_without_a_user_manager_says_so(daemon_proc: DaemonProcess, short_tmp: Path) -> None:
    probe = subprocess.run(["systemctl", "--user", "show-environment"], capture_output=True, timeout=30) \
        if shutil.which("systemctl") else None
    if probe is not None and probe.returncode == 0:
        pytest.skip("this machine has a systemd user manager")
    daemon_proc.env["XDG_CONFIG_HOME"] = str(short_tmp / "xdg-config")
    result = daemon_proc.ctl("service", "install")
    assert result.returncode == 1
    assert "no systemd user instance here" in result.stderr
    assert "run `synapsed` in the foreground" in result.stderr
    assert not (_unit_dir(daemon_proc.env) / "synapsed.service").exists()


def test_socket_activation_serves_an_inherited_listening_socket(daemon_proc: DaemonProcess) -> None:
    paths = daemon_proc.paths
    paths.runtime_dir.mkdir(parents=True, mode=0o700)
    # Never the default MCP port: a developer's own synapsed may hold it, and MCP failing to
    # bind stops the daemon this test waits for.
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text("[mcp]\nport = 0\n")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(paths.socket))
    listener.listen()
    wrapper = (
        "import os, sys\n"
        "os.dup2(int(os.environ.pop('TEST_LISTEN_FD')), 3)\n"
        "os.environ['LISTEN_FDS'] = '1'\n"
        "os.environ['LISTEN_PID'] = str(os.getpid())\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'synapsed', '--home', sys.argv[1]])\n"
    )
    env = {**daemon_proc.env, "TEST_LISTEN_FD": str(listener.fileno())}
    proc = subprocess.Popen([sys.executable, "-c", wrapper, str(daemon_proc.home)], env=env, cwd=REPO,
                            pass_fds=(listener.fileno(),), stderr=subprocess.PIPE)
    daemon_proc.proc = proc  # the fixture kills it if the test fails
    try:
        daemon_proc.wait_ready()
        assert daemon_proc.client.daemon_status().pid == proc.pid
        assert '"socket_activated": true' in paths.log_file.read_text()
        daemon_proc.client.daemon_shutdown()
        assert proc.wait(15) == 0
        assert paths.socket.exists()  # systemd's socket stays; synapsed does not remove it
    finally:
        listener.close()


# ---- doctor ------------------------------------------------------------------------------------

def _doctor(daemon: DaemonProcess) -> tuple[int, dict[str, dict]]:
    result = daemon.ctl("doctor", "--json")
    data = json.loads(result.stdout)
    return result.returncode, {c["name"]: c for c in data["checks"]}


def test_doctor_healthy_chain(daemon_proc: DaemonProcess, stub: Path) -> None:
    from tests.e2e.mcp_support import start_with_mcp
    from tests.support.fake_upstream import FakeUpstream

    upstream = FakeUpstream("ollama", models=["llama3.2:latest"]).start()
    try:
        daemon = start_with_mcp(daemon_proc)
        assert daemon.ctl("service", "install").returncode == 0
        daemon.ctl("connections", "add", "local", "--provider", "ollama", "--model", "llama3.2", "--base-url", upstream.base_url)
        assert daemon.ctl("preflight", "local").returncode == 0
        code, checks = _doctor(daemon)
    finally:
        upstream.stop()
    assert code == 0, checks
    for name in ("daemon", "service", "files", "keyring", "mcp", "mcp token", "connection local"):
        assert checks[name]["status"] == "ok", checks[name]


def test_doctor_daemon_down(daemon_proc: DaemonProcess) -> None:
    code, checks = _doctor(daemon_proc)
    assert code == 1
    assert checks["daemon"]["status"] == "fail" and "synapsectl service install" in checks["daemon"]["fix"]


def test_doctor_loose_file_permissions(daemon: DaemonProcess) -> None:
    daemon.paths.config_file.chmod(0o644)
    code, checks = _doctor(daemon)
    assert code == 1 and checks["files"]["status"] == "fail"
    assert checks["files"]["fix"] == f"chmod 600 {daemon.paths.config_file}"


def test_doctor_keyring_missing_for_a_keyring_connection(daemon_proc: DaemonProcess) -> None:
    daemon_proc.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    daemon = daemon_proc.start()
    daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "gpt-4o")
    code, checks = _doctor(daemon)
    assert code == 1
    assert checks["keyring"]["status"] == "fail" and "--credential env:VAR" in checks["keyring"]["fix"]


def test_doctor_failed_and_missing_preflight(daemon: DaemonProcess) -> None:
    daemon.ctl("connections", "add", "never", "--provider", "ollama", "--model", "llama3.2")
    daemon.ctl("connections", "add", "broken", "--provider", "vllm", "--model", "m", "--base-url", "http://127.0.0.1:9/v1")
    daemon.ctl("preflight", "broken")
    code, checks = _doctor(daemon)
    assert code == 1
    assert checks["connection never"]["status"] == "warn" and checks["connection never"]["fix"] == "synapsectl preflight never"
    failed = checks["connection broken"]
    assert failed["status"] == "fail" and "reach: network_unreachable" in failed["detail"]


def test_doctor_missing_mcp_token_and_token_off(daemon_proc: DaemonProcess) -> None:
    from tests.e2e.mcp_support import start_with_mcp

    daemon = start_with_mcp(daemon_proc)
    daemon.paths.token_file.unlink()
    code, checks = _doctor(daemon)
    assert code == 1
    assert checks["mcp token"]["status"] == "fail" and "restart synapsed" in checks["mcp token"]["fix"]
    assert daemon.stop() == 0
    start_with_mcp(daemon, "require_token = false\n")
    code, checks = _doctor(daemon)
    assert checks["mcp token"]["status"] == "warn" and "require_token = true" in checks["mcp token"]["fix"]


def test_doctor_service_not_installed_is_a_warning_with_the_command(daemon: DaemonProcess, stub: Path) -> None:
    code, checks = _doctor(daemon)
    assert checks["service"]["status"] == "warn"
    assert checks["service"]["fix"] == "synapsectl service install"


def test_service_logs_falls_back_to_the_log_file_when_the_journal_has_nothing(daemon_proc: DaemonProcess,
                                                                              short_tmp: Path) -> None:
    daemon = daemon_proc.start()
    bin_dir = short_tmp / "bin"
    bin_dir.mkdir()
    journalctl = bin_dir / "journalctl"
    # What journalctl prints, exiting 0, on a machine without a user journal.
    journalctl.write_text("#!/bin/sh\necho 'No journal files were found.' >&2\nexit 0\n")
    journalctl.chmod(0o755)
    env = {**daemon.env, "PATH": f"{bin_dir}:{daemon.env.get('PATH', '')}"}
    result = daemon.ctl("service", "logs", "-n", "5", env=env)
    assert result.returncode == 0
    assert "showing the log file instead" in result.stderr
    assert "synapsed ready" in result.stdout
