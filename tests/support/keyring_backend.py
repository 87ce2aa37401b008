"""Isolated keyring backends for tests: never the user's real keyring.

Selected in daemon subprocesses with PYTHON_KEYRING_BACKEND=tests.support.keyring_backend.FileKeyring
and SYNAPSE_TEST_KEYRING=/path/outside/the/home.json; in-process with keyring.set_keyring().
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

_lock = threading.Lock()


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


class FileKeyring(KeyringBackend):
    """A JSON file keyring at $SYNAPSE_TEST_KEYRING, with hooks for fault tests:
    SYNAPSE_TEST_KEYRING_DELAY=seconds slows set_password; a username starting with
    'explode' makes set_password raise an unexpected error that quotes the password."""

    priority = 1  # type: ignore[assignment]

    @property
    def path(self) -> Path:
        return Path(os.environ["SYNAPSE_TEST_KEYRING"])

    def _load(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        with _lock:
            return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        delay = float(os.environ.get("SYNAPSE_TEST_KEYRING_DELAY", "0"))
        if delay:
            time.sleep(delay)
        if username.startswith("explode"):
            raise ValueError(f"test backend exploded while storing {password}")
        with _lock:
            data = self._load()
            data[f"{service}/{username}"] = password
            self.path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        with _lock:
            data = self._load()
            if data.pop(f"{service}/{username}", None) is None:
                raise PasswordDeleteError("not found")
            self.path.write_text(json.dumps(data))


class BrokenKeyring(KeyringBackend):
    """A backend that is installed but refuses every call (a locked keychain)."""

    priority = 1  # type: ignore[assignment]

    def refusal(self) -> Exception:
        return KeyringError("keychain is locked")

    def get_password(self, service: str, username: str) -> str | None:
        raise self.refusal()

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.refusal()

    def delete_password(self, service: str, username: str) -> None:
        raise self.refusal()


class OddKeyring(BrokenKeyring):
    """A third-party backend failing in its own way (not a KeyringError): a bad config file, a
    missing helper binary, a bug."""

    def refusal(self) -> Exception:
        return ValueError("pass: gpg-id not set")
