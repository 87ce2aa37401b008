"""synapsed as a process: files and permissions, single instance, signals, readiness, crashes."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pytest

from synapsectl.client import DaemonNotRunning, RpcError
from synapsed import protocol as p
from tests.support.daemon import DaemonProcess


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_socket_is_0600_and_dirs_0700_and_files_0600(daemon: DaemonProcess) -> None:
    paths = daemon.paths
    assert stat.S_ISSOCK(paths.socket.stat().st_mode)
    assert _mode(paths.socket) == 0o600
    for directory in (paths.config_dir, paths.state_dir, paths.runtime_dir):
        assert _mode(directory) == 0o700, directory
    for file in (paths.config_file, paths.log_file, paths.lock_file):
        assert _mode(file) == 0o600, file


def test_second_instance_exits_nonzero_naming_the_running_pid(daemon: DaemonProcess) -> None:
    assert daemon.proc is not None
    second = subprocess.run(
        [sys.executable, "-m", "synapsed", "--home", str(daemon.home)],
        env=daemon.env, capture_output=True, text=True, timeout=30,
    )
    assert second.returncode == 1
    assert f"already running for this home (pid {daemon.proc.pid}" in second.stderr
    assert daemon.client.daemon_status().pid == daemon.proc.pid


def test_sigterm_exits_zero_and_removes_the_socket(daemon: DaemonProcess) -> None:
    assert daemon.stop() == 0
    assert not daemon.paths.socket.exists()
    with pytest.raises(DaemonNotRunning):
        daemon.client.daemon_status()


def test_stop_command_shuts_down_gracefully(daemon: DaemonProcess) -> None:
    assert daemon.ctl("stop").returncode == 0
    assert daemon.proc is not None and daemon.proc.wait(15) == 0


def test_sigterm_lets_an_in_flight_request_finish(daemon_proc: DaemonProcess) -> None:
    daemon_proc.env["SYNAPSE_TEST_KEYRING_DELAY"] = "1.0"
    daemon_proc.start()
    daemon_proc.client.connections_create(p.ConnectionSpec(name="slow", provider="openai", model="gpt-4o"))
    outcome: dict[str, object] = {}

    def set_key() -> None:
        try:
            outcome["status"] = daemon_proc.client.secrets_set("slow", "sk-inflight-0123456789abcdef")
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion below
            outcome["error"] = exc

    worker = threading.Thread(target=set_key)
    worker.start()
    time.sleep(0.3)  # the request is now inside the slow keyring call
    assert daemon_proc.stop() == 0
    worker.join(10)
    assert "error" not in outcome, outcome
    assert outcome["status"].present  # type: ignore[attr-defined]


def test_kill9_leaves_stale_socket_that_next_start_cleans(daemon: DaemonProcess) -> None:
    daemon.kill9()
    assert daemon.paths.socket.exists()  # the corpse's socket file
    with pytest.raises(DaemonNotRunning):
        daemon.client.daemon_status()
    daemon.start()
    assert daemon.client.daemon_status().pid == daemon.proc.pid  # type: ignore[union-attr]
    assert "removed a stale socket" in daemon.paths.log_file.read_text()


def test_kill9_during_write_burst_keeps_every_acknowledged_write(daemon: DaemonProcess) -> None:
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(prefix: str) -> None:
        for i in range(1000):
            if stop.is_set():
                return
            name = f"{prefix}-{i}"
            try:
                daemon.client.connections_create(p.ConnectionSpec(name=name, provider="openai", model="gpt-4o"))
            except (DaemonNotRunning, ConnectionError, OSError, RpcError, msgspec.DecodeError):
                return
            except Exception:  # http.client errors when the peer vanishes mid-reply
                return
            acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    daemon.kill9()
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(acknowledged) >= 40

    from synapsed.config import parse

    on_disk = parse(daemon.paths.config_file.read_text())
    missing = set(acknowledged) - set(on_disk.connections)
    assert not missing, f"acknowledged but lost: {sorted(missing)[:5]}"
    daemon.start()
    assert set(acknowledged) <= {c.name for c in daemon.client.connections_list(with_keys=False).connections}
    assert not list(daemon.paths.config_dir.glob(".config.toml.*.tmp"))


def test_notify_socket_gets_ready_after_the_socket_accepts_then_stopping(daemon_proc: DaemonProcess, short_tmp: Path) -> None:
    notify_path = short_tmp / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(15)
    daemon_proc.env["NOTIFY_SOCKET"] = str(notify_path)
    try:
        daemon_proc.start(wait=False)
        message = notify.recv(4096).decode()
        assert message == "READY=1"
        # At READY the control socket must already accept and answer.
        assert daemon_proc.client.daemon_status().pid == daemon_proc.proc.pid  # type: ignore[union-attr]
        daemon_proc.signal(15)
        assert notify.recv(4096).decode() == "STOPPING=1"
        assert daemon_proc.proc.wait(15) == 0  # type: ignore[union-attr]
    finally:
        notify.close()


def test_version_flag_prints_version() -> None:
    from synapsed import __version__

    result = subprocess.run([sys.executable, "-m", "synapsed", "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout.strip() == f"synapsed {__version__}"


def test_runtime_dir_owned_by_another_user_is_refused(daemon_proc: DaemonProcess) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to create a directory owned by another uid (the unit test covers the rule)")
    daemon_proc.paths.runtime_dir.mkdir(parents=True, mode=0o700)
    os.chown(daemon_proc.paths.runtime_dir, 4242, 4242)
    daemon_proc.start(wait=False)
    assert daemon_proc.proc is not None and daemon_proc.proc.wait(15) == 1
    assert "owned by uid 4242, not by you" in daemon_proc.stderr()


def _soft_open_files(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/limits").read_text().splitlines() if x.startswith("Max open files"))
    return int(line.split()[3])


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads the limit from /proc")
def test_a_daemon_started_with_a_low_open_files_limit_raises_it(daemon_proc: DaemonProcess) -> None:
    import resource

    from synapsed.lifecycle import OPEN_FILES_WANTED

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # the child inherits it, as from a service manager
    try:
        daemon = daemon_proc.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert daemon.proc is not None
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(OPEN_FILES_WANTED, hard)
    assert _soft_open_files(daemon.proc.pid) == wanted > 256
    ready = next(line for line in daemon.paths.log_file.read_text().splitlines() if "synapsed ready" in line)
    assert msgspec.json.decode(ready)["open_files_limit"] == wanted
