"""Keys set through the CLI, env: and file: never appear in config, logs, stderr, replies or tracebacks."""

from __future__ import annotations

import json
import os
from pathlib import Path

from synapsed.redaction import FRAGMENT
from tests.support.daemon import DaemonProcess

KEYRING_SECRET = "sk-proj-KRing7Qx2LmN8pVw4ZtY6bHc1DfGj3SsAa"
ENV_SECRET = "sk-ant-api03-EnvZ9yX8wV7uT6sR5qP4oN3mL2kJ1iH"
FILE_SECRET = "AIzaFileQ1w2E3r4T5y6U7i8O9p0AsDfGhJkLzX"
EXPLODE_SECRET = "sk-boom-Uq7Wn3Ke9Rt5Yp1Ia8Sd2Fg4Hj6Kl0Zx"
ALL = (KEYRING_SECRET, ENV_SECRET, FILE_SECRET, EXPLODE_SECRET)


def assert_no_secret(text: str, where: str) -> None:
    for secret in ALL:
        assert secret not in text, f"{where} contains a whole secret"
        for i in range(len(secret) - FRAGMENT + 1):
            piece = secret[i : i + FRAGMENT]
            assert piece not in text, f"{where} contains {piece!r}, a piece of a secret"


def test_secrets_from_cli_env_and_file_never_leak(daemon_proc: DaemonProcess, short_tmp: Path) -> None:
    key_file = short_tmp / "gemini.key"
    key_file.write_text(FILE_SECRET + "\n")
    key_file.chmod(0o600)
    daemon_proc.env["ANTHROPIC_KEY"] = ENV_SECRET
    daemon = daemon_proc.start("--log-level", "debug")
    outputs: list[str] = []

    def ctl(*args: str, input: str | None = None):
        result = daemon.ctl(*args, input=input)
        outputs.extend([result.stdout, result.stderr])
        return result

    assert ctl("connections", "add", "gpt", "--provider", "openai", "--model", "gpt-4o").returncode == 0
    assert ctl("connections", "add", "claude", "--provider", "anthropic", "--model", "claude-sonnet-4-5",
               "--credential", "env:ANTHROPIC_KEY").returncode == 0
    assert ctl("connections", "add", "gem", "--provider", "gemini", "--model", "gemini-2.5-flash",
               "--credential", f"file:{key_file}").returncode == 0
    assert ctl("connections", "add", "explode-1", "--provider", "openai", "--model", "gpt-4o").returncode == 0

    stored = ctl("key", "set", "gpt", input=KEYRING_SECRET + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "(sk-…SsAa)" in stored.stdout

    status = ctl("key", "status", "--json")
    keys = {k["name"]: k for k in json.loads(status.stdout) if k["name"] != "explode-1"}
    assert all(k["present"] for k in keys.values()), keys
    assert keys["claude"]["fingerprint"] == "sk-…J1iH"
    assert keys["gem"]["fingerprint"] == "AIza…kLzX"

    for args in (("connections", "list", "--json"), ("connections", "show", "gpt"), ("status", "--json")):
        assert ctl(*args).returncode == 0

    # A forced internal error whose exception message quotes the key: it is logged with a traceback.
    boom = ctl("key", "set", "explode-1", "--json", input=EXPLODE_SECRET)
    assert boom.returncode == 1
    error = json.loads(boom.stdout)["error"]
    assert error["kind"] == "internal" and error["error_id"]

    # Raw RPC replies too (the CLI renders them; check them unrendered as well).
    replies = [daemon.client.post(body)[1].decode() for body in (
        b'{"jsonrpc":"2.0","id":1,"method":"secrets.status","params":{}}',
        b'{"jsonrpc":"2.0","id":2,"method":"connections.list","params":{}}',
        b'{"jsonrpc":"2.0","id":3,"method":"daemon.status"}',
    )]
    logs = ctl("logs", "-n", "500")
    assert daemon.stop() == 0

    log_text = daemon.paths.log_file.read_text()
    assert error["error_id"] in log_text and '"frames"' in log_text  # logged with its traceback
    assert "exploded while storing" in log_text  # the exception was logged, minus the key
    assert_no_secret(daemon.paths.config_file.read_text(), "config.toml")
    assert_no_secret(log_text, "synapsed.log")
    assert_no_secret(daemon.stderr(), "daemon stderr")
    assert_no_secret(daemon.all_state_text(), "files under SYNAPSE_HOME")
    assert_no_secret("\n".join(outputs + [logs.stdout]), "synapsectl output")
    assert_no_secret("\n".join(replies), "raw RPC replies")
    # and the key really is in the (test) keyring, outside the home
    assert KEYRING_SECRET in Path(daemon.env["SYNAPSE_TEST_KEYRING"]).read_text()


def test_key_is_never_read_from_argv(daemon: DaemonProcess) -> None:
    assert daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "gpt-4o").returncode == 0
    result = daemon.ctl("key", "set", "gpt", KEYRING_SECRET)
    assert result.returncode == 2  # no positional slot for a value: it would land in shell history and ps
    assert not Path(daemon.env["SYNAPSE_TEST_KEYRING"]).exists()


def test_key_set_refused_for_env_connection_with_hint(daemon_proc: DaemonProcess) -> None:
    daemon = daemon_proc.start()
    daemon.ctl("connections", "add", "c", "--provider", "anthropic", "--model", "claude-sonnet-4-5", "--credential", "env:X_KEY")
    result = daemon.ctl("key", "set", "c", "--json", input="sk-ant-whatever-123456789")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert "reads its key from env:X_KEY" in error["message"]
    assert "--credential keyring" in error["hint"]


def test_missing_keyring_backend_reports_keyring_unavailable(daemon_proc: DaemonProcess) -> None:
    daemon_proc.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    daemon = daemon_proc.start()
    assert daemon.client.daemon_status().keyring.usable is False
    daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "gpt-4o")
    result = daemon.ctl("key", "set", "gpt", "--json", input="sk-test-abcdefghijklmnop")
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "keyring_unavailable"
    assert "env:VAR or file:PATH" in error["hint"]
    # env: references keep working without a keyring
    assert daemon.ctl("connections", "edit", "gpt", "--credential", "env:OPENAI_API_KEY").returncode == 0


def test_key_file_readable_by_others_is_refused(daemon: DaemonProcess, short_tmp: Path) -> None:
    key_file = short_tmp / "open.key"
    key_file.write_text("sk-open-file-123456789012345")
    os.chmod(key_file, 0o644)
    daemon.ctl("connections", "add", "f", "--provider", "openai", "--model", "gpt-4o", "--credential", f"file:{key_file}")
    keys = json.loads(daemon.ctl("key", "status", "f", "--json").stdout)
    assert keys[0]["present"] is False
    assert keys[0]["error_kind"] == "credential_unreadable"
    assert f"chmod 600 {key_file}" in keys[0]["hint"]


def test_key_set_checks_the_keyring_before_asking_for_the_key(daemon_proc: DaemonProcess) -> None:
    daemon_proc.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    daemon = daemon_proc.start()
    daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "gpt-4o")
    # At a terminal: refused before the prompt (tmux stands in for the user's terminal).
    import shutil
    import subprocess
    import sys
    import time

    from tests.support.daemon import REPO

    result = daemon.ctl("key", "set", "gpt", "--json", input="sk-test-abcdefghijklmnop")
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "keyring_unavailable" and "cannot keep a key" in error["message"]
    assert "connections edit gpt --credential" in error["hint"]
    if shutil.which("tmux") is None:
        return
    session = f"syn-key-{daemon.proc.pid if daemon.proc else 0}"
    env = " ".join(f"{k}={v!r}" for k, v in daemon.env.items() if k.startswith(("SYNAPSE_", "PYTHON")))
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "20",
                    f"cd {REPO} && env {env} {sys.executable} -m synapsectl key set gpt; sleep 5"], check=True)
    try:
        screen = ""
        for _ in range(50):
            time.sleep(0.1)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            if "kind:" in screen or "input hidden" in screen:
                break
        assert "keyring_unavailable" in screen and "input hidden" not in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
