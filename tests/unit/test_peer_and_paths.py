"""The control socket's peer check, and the path and permission rules."""

from __future__ import annotations

import os
import resource
import socket
from pathlib import Path

import pytest

from synapsed import paths as paths_mod
from synapsed import peer as peer_mod
from synapsed.errors import SynapseError
from synapsed.lifecycle import OPEN_FILES_WANTED, AlreadyRunning, InstanceLock, raise_open_files_limit
from synapsed.peer import check_server, peer_allowed, peer_uid


def test_peer_uid_of_a_socketpair_is_ours() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert peer_uid(a) == os.getuid()
        assert peer_allowed(a)


def test_peer_of_another_uid_is_refused() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert not peer_allowed(a, own_uid=os.getuid() + 1)


def test_a_server_of_our_own_uid_passes_the_clients_check() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        check_server(a, Path("/run/synapse/synapsed.sock"))


def test_a_server_of_another_uid_is_refused_by_the_client_naming_path_and_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer_mod, "peer_uid", lambda sock: 4242)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b, pytest.raises(SynapseError) as caught:
        check_server(a, Path("/tmp/synapse-1000/synapsed.sock"))
    assert caught.value.kind == "permission_denied"
    assert caught.value.message.startswith("/tmp/synapse-1000/synapsed.sock is served by uid 4242, not by you")
    assert caught.value.detail == {"path": "/tmp/synapse-1000/synapsed.sock", "uid": 4242}
    assert "/tmp/synapse-1000," in (caught.value.hint or "")


def test_a_server_the_kernel_cannot_name_passes_the_clients_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer_mod, "peer_uid", lambda sock: None)  # where the 0700 runtime dir is the guard
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        check_server(a, Path("/run/synapse/synapsed.sock"))


def test_non_unix_or_unknown_socket_is_refused() -> None:
    assert not peer_allowed(None)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        assert not peer_allowed(tcp)


def test_synapse_home_puts_everything_under_it(tmp_path: Path) -> None:
    p = paths_mod.resolve(tmp_path)
    assert p.config_file == tmp_path / "config.toml"
    assert p.socket == tmp_path / "run" / "synapsed.sock"
    assert p.log_file.parent == tmp_path / "state"
    assert p.home == tmp_path  # what IDE snippets must carry as SYNAPSE_HOME


def test_linux_defaults_follow_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not os.sys.platform.startswith("linux"):  # type: ignore[attr-defined]
        pytest.skip("linux layout")
    monkeypatch.delenv("SYNAPSE_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "rt"))
    p = paths_mod.resolve()
    assert p.config_file == tmp_path / "cfg" / "synapse" / "config.toml"
    assert p.ledger_file == tmp_path / "state" / "synapse" / "usage.sqlite3"
    assert p.socket == tmp_path / "rt" / "synapse" / "synapsed.sock"
    assert p.home is None  # platform defaults: no home to name
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert paths_mod.resolve().runtime_dir == Path(f"/tmp/synapse-{os.getuid()}")


def test_private_dir_is_created_0700_and_tightened(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    paths_mod.ensure_private_dir(target)
    assert (target.stat().st_mode & 0o777) == 0o700
    target.chmod(0o755)
    paths_mod.ensure_private_dir(target)
    assert (target.stat().st_mode & 0o777) == 0o700


def test_dir_owned_by_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "run"
    target.mkdir(mode=0o700)
    monkeypatch.setattr(os, "getuid", lambda: target.stat().st_uid + 1)
    with pytest.raises(SynapseError) as caught:
        paths_mod.ensure_private_dir(target)
    assert caught.value.kind == "permission_denied"
    assert "not by you" in caught.value.message


def test_symlinked_dir_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(SynapseError):
        paths_mod.ensure_private_dir(tmp_path / "link")


def test_too_long_socket_path_is_a_clear_error(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    with pytest.raises(SynapseError) as caught:
        paths_mod.ensure_layout(paths_mod.resolve(deep))
    assert "shorter SYNAPSE_HOME" in caught.value.hint


def test_instance_lock_is_exclusive_and_names_the_holder(tmp_path: Path) -> None:
    first = InstanceLock(tmp_path / "lock")
    first.acquire()
    with pytest.raises(AlreadyRunning) as caught:
        InstanceLock(tmp_path / "lock").acquire()
    assert caught.value.pid == os.getpid()
    first.release()
    second = InstanceLock(tmp_path / "lock")
    second.acquire()
    second.release()


def test_write_atomic_reports_a_full_disk_as_write_failed_naming_the_path(tmp_path: Path, monkeypatch) -> None:
    import errno

    from synapsed.errors import SynapseError
    from synapsed.paths import write_atomic

    target = tmp_path / "config.toml"
    target.write_text("old\n")

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("synapsed.paths.os.replace", full)
    try:
        write_atomic(target, "new\n")
    except SynapseError as exc:
        assert exc.kind == "write_failed" and str(tmp_path) in exc.hint and "disk is full" in exc.hint
        assert exc.detail["errno"] == "ENOSPC"
    else:
        raise AssertionError("no error")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def _limits(monkeypatch: pytest.MonkeyPatch, soft: int, hard: int, refuse: bool = False) -> list[tuple[int, int]]:
    """RLIMIT_NOFILE as (soft, hard), and the values the daemon asked to set."""
    asked: list[tuple[int, int]] = []

    def setrlimit(which: int, value: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE
        if refuse:
            raise ValueError("not allowed to raise maximum limit")
        asked.append(value)

    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, hard))
    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    return asked


def test_the_open_files_limit_is_raised_to_the_hard_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _limits(monkeypatch, 1024, 4096)
    assert raise_open_files_limit() == 4096
    assert asked == [(4096, 4096)]


def test_the_open_files_limit_stops_at_what_a_daemon_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _limits(monkeypatch, 1024, 524288)
    assert raise_open_files_limit() == OPEN_FILES_WANTED
    assert asked == [(OPEN_FILES_WANTED, 524288)]
    asked = _limits(monkeypatch, 1024, resource.RLIM_INFINITY)
    assert raise_open_files_limit() == OPEN_FILES_WANTED
    assert asked == [(OPEN_FILES_WANTED, resource.RLIM_INFINITY)]


def test_a_limit_already_high_enough_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _limits(monkeypatch, 100_000, 524288)
    assert raise_open_files_limit() == 100_000
    assert asked == []


def test_a_refused_raise_keeps_the_limit_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(monkeypatch, 256, 1_000_000, refuse=True)  # macOS: above kern.maxfilesperproc
    assert raise_open_files_limit() == 256
