"""Credential references: keyring, env:, file: — resolution, typed failures and masking."""

from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null

from synapsed import secrets
from synapsed.errors import SynapseError
from synapsed.redaction import SECRETS
from tests.support.keyring_backend import BrokenKeyring, MemoryKeyring, OddKeyring

KEY = "sk-unit-Qa7Wm2Zr5Pv8Kn4TyLg9"


def _kind(name: str, ref: str) -> SynapseError:
    with pytest.raises(SynapseError) as caught:
        secrets.resolve(name, ref)
    return caught.value


def test_keyring_round_trip_registers_the_value_for_redaction(memory_keyring: MemoryKeyring) -> None:
    status = secrets.store("main", KEY)
    assert status.fingerprint == f"sk-…{KEY[-4:]}"
    assert memory_keyring.store[("mcp-synapse", "main")] == KEY
    SECRETS.clear()
    assert secrets.resolve("main", "keyring") == KEY
    assert KEY in SECRETS.values


def test_missing_keyring_entry_hints_key_set() -> None:
    error = _kind("main", "keyring")
    assert error.kind == "credential_missing"
    assert "synapsectl key set main" in error.hint


def test_fail_backend_gives_keyring_unavailable_with_env_file_hint() -> None:
    keyring.set_keyring(fail.Keyring())
    error = _kind("main", "keyring")
    assert error.kind == "keyring_unavailable"
    assert "env:VAR or file:PATH" in error.hint
    with pytest.raises(SynapseError) as caught:
        secrets.store("main", KEY)
    assert caught.value.kind == "keyring_unavailable"


def test_a_backend_that_accepts_and_drops_the_key_fails_the_store_instead_of_losing_it() -> None:
    keyring.set_keyring(null.Keyring())
    with pytest.raises(SynapseError) as caught:
        secrets.store("main", KEY)
    assert caught.value.kind == "credential_unreadable"
    assert "keyring.backends.null.Keyring" in caught.value.message
    assert "does not give it back" in caught.value.message
    assert "env:/file:" in (caught.value.hint or "")
    assert KEY not in caught.value.message + (caught.value.hint or "")


def test_the_null_and_fail_backends_are_not_usable_keyrings() -> None:
    keyring.set_keyring(null.Keyring())
    assert secrets.keyring_backend() == ("keyring.backends.null.Keyring", False)
    keyring.set_keyring(fail.Keyring())
    assert secrets.keyring_backend() == ("keyring.backends.fail.Keyring", False)


@pytest.mark.parametrize("backend", [BrokenKeyring, OddKeyring], ids=["locked", "third-party failure"])
def test_every_keyring_failure_is_credential_unreadable_for_read_and_delete(backend: type) -> None:
    keyring.set_keyring(backend())
    for attempt in (lambda: secrets.resolve("main", "keyring"), lambda: secrets.remove("main")):
        with pytest.raises(SynapseError) as caught:
            attempt()
        assert caught.value.kind == "credential_unreadable"
        assert KEY not in caught.value.message + (caught.value.hint or "")


def test_locked_keyring_is_credential_unreadable() -> None:
    keyring.set_keyring(BrokenKeyring())
    assert _kind("main", "keyring").kind == "credential_unreadable"


def test_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIT_KEY", f"  {KEY}\n")
    assert secrets.resolve("c", "env:UNIT_KEY") == KEY


def test_env_reference_unset_and_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNIT_KEY", raising=False)
    error = _kind("c", "env:UNIT_KEY")
    assert error.kind == "credential_missing" and "set UNIT_KEY in the daemon's environment" in error.hint
    monkeypatch.setenv("UNIT_KEY", "   ")
    assert _kind("c", "env:UNIT_KEY").kind == "credential_empty"


def test_file_reference_requires_private_mode(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    assert secrets.resolve("c", f"file:{key_file}") == KEY
    key_file.chmod(0o400)
    assert secrets.resolve("c", f"file:{key_file}") == KEY
    key_file.chmod(0o640)
    error = _kind("c", f"file:{key_file}")
    assert error.kind == "credential_unreadable" and f"chmod 600 {key_file}" in error.hint


def test_file_reference_owned_by_someone_else_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "k"
    key_file.write_text(KEY)
    key_file.chmod(0o600)
    monkeypatch.setattr(os, "getuid", lambda: key_file.stat().st_uid + 1)
    error = _kind("c", f"file:{key_file}")
    assert error.kind == "credential_unreadable" and "must be yours" in error.hint


def test_a_key_file_that_is_not_utf8_says_so_without_its_bytes(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    key_file.write_bytes(KEY.encode() + b"\xff\n")
    key_file.chmod(0o600)
    error = _kind("c", f"file:{key_file}")
    assert error.kind == "credential_unreadable" and error.message == f"{key_file} is not UTF-8 text"
    assert KEY[:8] not in error.message + error.hint and "0xff" not in error.message


def test_file_reference_missing_empty_and_directory(tmp_path: Path) -> None:
    assert _kind("c", f"file:{tmp_path / 'none'}").kind == "credential_missing"
    empty = tmp_path / "empty"
    empty.write_text("\n")
    empty.chmod(0o600)
    assert _kind("c", f"file:{empty}").kind == "credential_empty"
    assert _kind("c", f"file:{tmp_path}").kind == "credential_unreadable"


def test_store_rejects_empty_and_multiline_values() -> None:
    with pytest.raises(SynapseError) as caught:
        secrets.store("c", "  \n")
    assert caught.value.kind == "credential_empty"
    with pytest.raises(SynapseError) as caught:
        secrets.store("c", "sk-one\nsk-two")
    assert caught.value.kind == "bad_request"


def test_status_never_contains_the_value(memory_keyring: MemoryKeyring) -> None:
    secrets.store("main", KEY)
    status = secrets.status("main", "keyring")
    assert status.present and KEY not in repr(status)
    for i in range(len(KEY) - 7):
        assert KEY[i : i + 8] not in repr(status)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sk-proj-abcdefghijklmnopWXYZ", "sk-…WXYZ"),
        ("AIzaSyabcdefghijklmnop1234", "AIza…1234"),
        ("plainlongsecretvalue9876", "…9876"),
        ("short-key", "…(9 chars)"),
    ],
)
def test_fingerprint_masks(value: str, expected: str) -> None:
    assert secrets.fingerprint(value) == expected


def test_remove_reports_whether_an_entry_existed(memory_keyring: MemoryKeyring) -> None:
    secrets.store("main", KEY)
    assert secrets.remove("main") is True
    assert secrets.remove("main") is False


def test_keyring_backend_reports_usability() -> None:
    keyring.set_keyring(fail.Keyring())
    name, usable = secrets.keyring_backend()
    assert name == "keyring.backends.fail.Keyring" and usable is False
    keyring.set_keyring(MemoryKeyring())
    assert secrets.keyring_backend()[1] is True


def test_renew_hint_names_the_credential_the_connection_uses() -> None:
    assert "synapsectl key set gpt" in secrets.renew_hint("gpt", "keyring")
    env = secrets.renew_hint("gpt", "env:OPENAI_API_KEY")
    assert "$OPENAI_API_KEY" in env and "key set" not in env
    file = secrets.renew_hint("gpt", "file:/home/me/.openai")
    assert "/home/me/.openai" in file and "key set" not in file
