"""synapsectl/doctor.py: checks that need no daemon, or a socket that is not ours."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from synapsectl import doctor
from synapsed import peer
from synapsed.lifecycle import START_FAILED
from synapsed.paths import resolve
from tests.support.unix_listener import NOBODY, Listener

not_root = pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")


def test_a_socket_served_by_another_uid_fails_the_daemon_check_and_gets_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer, "peer_uid", lambda sock: os.getuid() + 4242)
    (tmp_path / "run").mkdir(mode=0o700)
    listener = Listener(tmp_path / "run" / "synapsed.sock")
    checks = {c.name: c for c in doctor.run(resolve(tmp_path), str(tmp_path))}
    assert listener.done() == b""
    assert checks["daemon"].status == "fail"
    assert "not by you" in checks["daemon"].detail
    assert "impersonating" in checks["daemon"].fix
    assert "files" in checks


@not_root
def test_a_directory_another_user_owns_is_fixed_by_removing_it_not_by_chmod(tmp_path: Path) -> None:
    paths = resolve(tmp_path)
    paths.runtime_dir.mkdir(mode=0o700)
    os.chown(paths.runtime_dir, NOBODY, NOBODY)
    check = doctor.check_paths(paths)
    assert check.status == "fail"
    assert f"owned by uid {NOBODY}" in check.detail
    assert check.fix == f"rm -r {paths.runtime_dir} (as its owner or root)"


def test_a_loose_mode_is_fixed_by_chmod(tmp_path: Path) -> None:
    paths = resolve(tmp_path)
    paths.state_dir.mkdir(mode=0o700)
    paths.ledger_file.write_text("")
    paths.ledger_file.chmod(0o644)
    check = doctor.check_paths(paths)
    assert check.status == "fail"
    assert check.fix == f"chmod 600 {paths.ledger_file}"


def test_a_daemon_whose_last_start_failed_is_reported_with_that_reason(tmp_path: Path) -> None:
    paths = resolve(tmp_path)
    paths.state_dir.mkdir(mode=0o700)
    paths.log_file.write_text(json.dumps({"event": START_FAILED, "kind": "config_invalid", "level": "error",
                                          "error": "config.toml:3: unknown field `bogus`", "hint": "fix it"}) + "\n")
    daemon = {c.name: c for c in doctor.run(paths, str(tmp_path))}["daemon"]
    assert daemon.status == "fail"
    assert daemon.detail == "not running: its last start failed: config.toml:3: unknown field `bogus`"
    assert daemon.fix == "fix it"
