"""synapsectl status, rendered from the daemon's reply."""

from __future__ import annotations

import argparse

import msgspec
import pytest

from synapsectl.cli.daemon import cmd_status
from synapsed import __version__
from synapsed import protocol as p


class _Daemon:
    """The two replies `status` reads, from a daemon of `version`."""

    def __init__(self, version: str) -> None:
        self.version = version

    def daemon_status(self) -> p.DaemonStatus:
        return msgspec.convert({
            "version": self.version, "pid": 42, "started_at": "2026-12-01T20:00:00Z", "uptime_s": 61.0,
            "config_revision": 3, "connections": 0, "enabled_connections": 0, "rpc_requests": 1, "log_level": "info",
            "paths": {"config_file": "/h/config.toml", "state_dir": "/h/state", "runtime_dir": "/h/run",
                      "socket": "/h/run/synapsed.sock", "log_file": "/h/state/synapsed.log"},
            "keyring": {"backend": "keyring.backends.SecretService.Keyring", "usable": True},
        }, p.DaemonStatus)

    def connections_list(self, with_keys: bool = True) -> p.ConnectionList:
        return p.ConnectionList(revision=3, connections=[])


def _status(version: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert cmd_status(_Daemon(version), argparse.Namespace(json=False)) == 0  # type: ignore[arg-type]
    return capsys.readouterr().out


def test_a_daemon_of_another_version_is_pointed_out_with_a_restart_hint(capsys: pytest.CaptureFixture[str]) -> None:
    out = _status("0.0.9", capsys)
    assert out.startswith("synapsed 0.0.9  running  pid 42")
    assert f"this synapsectl is {__version__}: restart synapsed after an upgrade" in out


def test_a_daemon_of_this_version_gets_no_version_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "restart synapsed after an upgrade" not in _status(__version__, capsys)
