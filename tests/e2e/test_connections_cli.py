"""Connection management through synapsectl against a real daemon subprocess."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.support.daemon import DaemonProcess


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_connection_crud_round_trip_survives_restart(daemon: DaemonProcess) -> None:
    added = daemon.ctl("connections", "add", "work-gpt", "--provider", "openai", "--model", "gpt-4o-mini",
                       "--credential", "env:WORK_OPENAI_KEY", "--timeout", "30", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["connection"]["timeout_s"] == 30
    assert daemon.ctl("connections", "add", "local", "--provider", "ollama", "--model", "llama3.2").returncode == 0
    edited = daemon.ctl("connections", "edit", "work-gpt", "--model", "gpt-4.1", "--json")
    assert edited.returncode == 0, edited.stderr
    assert daemon.ctl("connections", "disable", "local").returncode == 0

    assert daemon.stop() == 0
    daemon.start()

    listing = json.loads(daemon.ctl("connections", "list", "--json").stdout)
    by_name = {c["name"]: c for c in listing["connections"]}
    assert by_name["work-gpt"]["model"] == "gpt-4.1"
    assert by_name["work-gpt"]["credential"] == "env:WORK_OPENAI_KEY"
    assert by_name["local"]["enabled"] is False
    assert listing["revision"] == 4

    removed = daemon.ctl("connections", "rm", "local")
    assert removed.returncode == 0, removed.stderr
    shown = daemon.ctl("connections", "show", "local")
    assert shown.returncode == 1
    assert "no connection named 'local'" in shown.stderr
    assert "hint: run `synapsectl connections list`" in shown.stderr


@pytest.mark.parametrize("verb", ["rm", "delete", "remove"])
def test_each_spelling_of_delete_removes_the_connection(daemon: DaemonProcess, verb: str) -> None:
    assert daemon.ctl("connections", "add", "local", "--provider", "ollama", "--model", "llama3.2").returncode == 0
    removed = daemon.ctl("connections", verb, "local")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(daemon.ctl("connections", "list", "--json").stdout)["connections"] == []


def test_add_rejects_a_bad_base_url_with_its_hint(daemon: DaemonProcess) -> None:
    result = daemon.ctl("connections", "add", "x", "--provider", "openai", "--model", "gpt-4o",
                        "--base-url", "https://api.openai.com/v1/chat/completions")
    assert result.returncode == 1
    assert "ends with the endpoint path '/chat/completions'" in result.stderr
    assert "probably https://api.openai.com/v1" in result.stderr


def test_add_twice_reports_already_exists(daemon: DaemonProcess) -> None:
    args = ("connections", "add", "dup", "--provider", "groq", "--model", "llama-3.3-70b-versatile")
    assert daemon.ctl(*args).returncode == 0
    again = daemon.ctl(*args, "--json")
    assert again.returncode == 1
    assert json.loads(again.stdout)["error"]["kind"] == "already_exists"


def test_hand_edit_and_sighup_is_picked_up(daemon: DaemonProcess) -> None:
    assert daemon.ctl("connections", "add", "a", "--provider", "openai", "--model", "gpt-4o").returncode == 0
    text = daemon.paths.config_file.read_text()
    daemon.paths.config_file.write_text(
        text + '\n[connections.b]\nprovider = "anthropic"\nmodel = "claude-sonnet-4-5"\ncredential = "env:ANTHROPIC_API_KEY"\n'
    )
    daemon.signal(signal.SIGHUP)
    _wait_for(lambda: len(daemon.client.connections_list(with_keys=False).connections) == 2)
    listing = daemon.client.connections_list(with_keys=False)
    assert listing.revision > 1
    # The daemon's next write keeps the hand-added connection.
    daemon.client.connections_disable("a")
    assert "[connections.b]" in daemon.paths.config_file.read_text()


def test_invalid_hand_edit_is_rejected_and_running_config_stays(daemon: DaemonProcess) -> None:
    assert daemon.ctl("connections", "add", "a", "--provider", "openai", "--model", "gpt-4o").returncode == 0
    good = daemon.paths.config_file.read_text()
    daemon.paths.config_file.write_text(good.replace('model = "gpt-4o"', "model = 42"))

    reload = daemon.ctl("reload", "--json")
    assert reload.returncode == 1
    error = json.loads(reload.stdout)["error"]
    assert error["kind"] == "config_invalid"
    assert error["field"] == "connections.a.model"
    assert error["line"] == good.splitlines().index('model = "gpt-4o"') + 1

    daemon.signal(signal.SIGHUP)
    _wait_for(lambda: "config reload rejected" in daemon.paths.log_file.read_text())
    assert daemon.client.connections_get("a").connection.model == "gpt-4o"
    # A write over the unreloaded (and invalid) hand edit is refused, not silently merged.
    refused = daemon.ctl("connections", "disable", "a", "--json")
    assert json.loads(refused.stdout)["error"]["kind"] == "conflict"


def test_invalid_config_at_start_exits_with_line_detail(daemon_proc: DaemonProcess) -> None:
    daemon_proc.paths.config_dir.mkdir(parents=True)
    daemon_proc.paths.config_file.write_text('schema_version = 1\n[connections.x]\nprovider = "nope"\nmodel = "m"\n')
    daemon_proc.start(wait=False)
    assert daemon_proc.proc is not None
    assert daemon_proc.proc.wait(15) == 1
    err = daemon_proc.stderr()
    assert "config.toml:3" in err and "unknown provider 'nope'" in err
    assert "known providers: openai" in err


def test_edit_with_nothing_to_change_is_a_usage_error(daemon: DaemonProcess) -> None:
    assert daemon.ctl("connections", "add", "a", "--provider", "openai", "--model", "gpt-4o").returncode == 0
    result = daemon.ctl("connections", "edit", "a")
    assert result.returncode == 2
    assert "nothing to change" in result.stderr


def test_azure_requires_deployment_and_api_version(daemon: DaemonProcess) -> None:
    result = daemon.ctl("connections", "add", "az", "--provider", "azure-openai", "--model", "gpt-4o",
                        "--base-url", "https://me.openai.azure.com", "--json")
    assert json.loads(result.stdout)["error"]["message"] == "provider azure-openai needs option(s) api_version, deployment"
    ok = daemon.ctl("connections", "add", "az", "--provider", "azure-openai", "--model", "gpt-4o",
                    "--base-url", "https://me.openai.azure.com", "--option", "deployment=prod-4o",
                    "--option", "api_version=2024-10-21")
    assert ok.returncode == 0, ok.stderr


def test_a_failing_keyring_backend_leaves_list_and_delete_working(daemon_proc: DaemonProcess) -> None:
    """A third-party backend that fails in its own way was an `internal` error for the whole
    listing, and made `rm` report failure after it had deleted the connection."""
    daemon_proc.env["PYTHON_KEYRING_BACKEND"] = "tests.support.keyring_backend.OddKeyring"
    daemon = daemon_proc.start()
    assert daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "gpt-4o").returncode == 0
    listed = daemon.ctl("connections", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (conn,) = json.loads(listed.stdout)["connections"]
    assert conn["key"]["error_kind"] == "credential_unreadable"
    removed = daemon.ctl("connections", "rm", "gpt", "--json")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout)["secret_deleted"] is False
    assert json.loads(daemon.ctl("connections", "list", "--json").stdout)["connections"] == []


def test_a_keyless_connection_reads_as_keyless_not_keyring(daemon: DaemonProcess) -> None:
    assert daemon.ctl("connections", "add", "local", "--provider", "ollama", "--model", "llama3.2").returncode == 0
    listed = daemon.ctl("connections", "list")
    line = next(row for row in listed.stdout.splitlines() if row.startswith("local "))
    assert "none (keyless)" in line and "keyring" not in line
    assert "none (keyless)" in daemon.ctl("connections", "show", "local").stdout
