"""Credential references (keyring / env:VAR / file:PATH), their resolution, and masking.

Values resolved or stored here are registered with the redaction registry the moment they
enter the process, so no log line or reply can carry them afterwards. Keyring calls may block
(D-Bus, Keychain prompts): async callers run them in a worker thread.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from synapsed.catalog import AMBIENT_CREDENTIALS
from synapsed.errors import SynapseError
from synapsed.protocol import KeyStatus
from synapsed.redaction import SECRETS

KEYRING_SERVICE = "mcp-synapse"
# Short on purpose: a prefix plus "…" plus 4 chars never contains 8 consecutive characters of the key.
KNOWN_PREFIXES = ("sk-", "AIza", "gsk_", "xai-")


def fingerprint(value: str) -> str:
    """A masked form that identifies a key to its owner without revealing it: sk-…wxyz."""
    prefix = next((p for p in KNOWN_PREFIXES if value.startswith(p)), "")
    if len(value) < 16:
        return f"{prefix}…({len(value)} chars)"
    return f"{prefix}…{value[-4:]}"


def source_of(ref: str) -> str:
    if ref in AMBIENT_CREDENTIALS:
        return f"{ref} ({AMBIENT_CREDENTIALS[ref]})"
    return "keyring" if ref == "keyring" else ref


def renew_hint(name: str, ref: str) -> str:
    """How to put a fresh key where this connection really reads it from."""
    if ref.startswith("env:"):
        return (f"the provider rejected the key in ${ref[4:]}: put a fresh key in that variable of synapsed's "
                "environment (shell or service unit) and restart synapsed")
    if ref.startswith("file:"):
        return f"the provider rejected the key in {ref[5:]}: write a fresh key to that file (mode 0600)"
    return f"the provider rejected the key; store a fresh one with `synapsectl key set {name}`"


def _keyring_unavailable(exc: Exception, name: str = "NAME") -> SynapseError:
    return SynapseError(
        "keyring_unavailable",
        f"the OS keyring is not usable here ({type(exc).__name__})",
        hint="no keyring backend on this machine: point the connection at env:VAR or file:PATH "
        f"(`synapsectl connections edit {name} --credential env:OPENAI_API_KEY`)",
    )


def keyring_backend() -> tuple[str, bool]:
    """(backend class path, usable) for status output."""
    try:
        import keyring
        from keyring.backends import fail, null

        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring config must not take the daemon down
        return (f"error: {type(exc).__name__}", False)
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    return (name, not isinstance(backend, (fail.Keyring, null.Keyring)))  # null: accepts keys and keeps none


def _read_keyring(name: str) -> str | None:
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, name)
    except NoKeyringError as exc:
        raise _keyring_unavailable(exc, name) from None
    except (KeyringError, RuntimeError, OSError) as exc:
        raise SynapseError(
            "credential_unreadable",
            f"the keyring refused to return the key for {name!r} ({type(exc).__name__})",
            hint="unlock the keyring (login keychain / secret service) and retry",
        ) from None
    except Exception as exc:  # a third-party backend's own failure: one connection's error, not the daemon's
        raise SynapseError(
            "credential_unreadable",
            f"the keyring backend ({keyring_backend()[0]}) failed reading the key for {name!r} ({type(exc).__name__})",
            hint="check that backend's own setup (keyringrc.cfg, its config or its CLI), or use an env:/file: reference",
        ) from None


def _read_env(name: str, var: str) -> str | None:
    return os.environ.get(var)


def _read_file(name: str, raw_path: str) -> str | None:
    path = Path(raw_path).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SynapseError("credential_unreadable", f"cannot stat {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise SynapseError("credential_unreadable", f"{path} is not a regular file")
    if st.st_uid != os.getuid():
        raise SynapseError(
            "credential_unreadable",
            f"{path} is owned by uid {st.st_uid}, not by you",
            hint=f"a key file must be yours: chown $(id -u) {path}",
        )
    if st.st_mode & 0o077:
        raise SynapseError(
            "credential_unreadable",
            f"{path} is readable by other users (mode {stat.S_IMODE(st.st_mode):04o})",
            hint=f"restrict it: chmod 600 {path}",
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # which byte, where, is the secret's business: not said
        raise SynapseError("credential_unreadable", f"{path} is not UTF-8 text",
                           hint="a key file holds the key as plain text on one line; write it again") from None
    except OSError as exc:
        raise SynapseError("credential_unreadable", f"cannot read {path} ({type(exc).__name__})") from None


def _missing_hint(name: str, ref: str) -> str:
    if ref == "keyring":
        return f"store it with `synapsectl key set {name}`"
    if ref.startswith("env:"):
        return (
            f"set {ref[4:]} in the daemon's environment (systemd: Environment= in a drop-in; "
            "launchd: EnvironmentVariables) and restart synapsed"
        )
    return f"create {ref[5:]} (mode 0600) holding only the key"


def resolve(name: str, ref: str) -> str:
    """The key for connection `name` by its reference, or a typed error saying what is wrong."""
    if ref == "keyring":
        value = _read_keyring(name)
    elif ref.startswith("env:"):
        value = _read_env(name, ref[4:])
    elif ref.startswith("file:"):
        value = _read_file(name, ref[5:])
    else:
        raise SynapseError("config_invalid", f"connection {name!r} has an unknown credential reference")
    if value is None:
        raise SynapseError("credential_missing", f"no key stored for {name!r} ({source_of(ref)})", hint=_missing_hint(name, ref))
    value = value.strip()
    if not value:
        raise SynapseError("credential_empty", f"the key for {name!r} ({source_of(ref)}) is empty", hint=_missing_hint(name, ref))
    if not _one_line(value):
        # A key with a line break in it would go out as a broken header on every call (or splice
        # a header of its own into the request): refuse it here, where preflight sees it too.
        SECRETS.add(value)
        raise SynapseError("credential_unreadable",
                           f"the key for {name!r} ({source_of(ref)}) holds a line break, whitespace or a control character",
                           hint=_one_line_hint(name, ref), field="credential")
    SECRETS.add(value)
    return value


def _one_line(value: str) -> bool:
    return value.isprintable() and not any(ch.isspace() for ch in value)


def _one_line_hint(name: str, ref: str) -> str:
    if ref.startswith("file:"):
        return f"{ref[5:]} must hold only the key, on one line (a trailing newline is fine)"
    if ref.startswith("env:"):
        return f"set {ref[4:]} to the key alone, on one line"
    return f"store the key again with `synapsectl key set {name}`"


def read_document(name: str, ref: str) -> str:
    """A credential document (a service-account JSON) named by file:PATH, with the same ownership
    and mode checks as a key file. Not registered whole with the redaction registry: its caller
    registers the secret fields (a whole JSON's 8-character pieces would redact ordinary text)."""
    value = _read_file(name, ref[5:])
    if value is None:
        raise SynapseError("credential_missing", f"no credential file for {name!r} at {ref[5:]}",
                           hint=f"create {ref[5:]} (mode 0600), e.g. a service-account key downloaded from the console")
    return value


def document_status(name: str, ref: str) -> KeyStatus:
    try:
        read_document(name, ref)
    except SynapseError as exc:
        return KeyStatus(name=name, source=ref, present=False, error_kind=exc.kind, hint=exc.hint)
    return KeyStatus(name=name, source=ref, present=True, fingerprint="credential file")


def status(name: str, ref: str) -> KeyStatus:
    if ref in AMBIENT_CREDENTIALS:
        # Nothing is stored: the provider's library finds the credentials; preflight shows where.
        return KeyStatus(name=name, source=source_of(ref), present=True, fingerprint="resolved at call time",
                         hint=f"`synapsectl preflight {name}` shows which source {AMBIENT_CREDENTIALS[ref]} used")
    try:
        value = resolve(name, ref)
    except SynapseError as exc:
        return KeyStatus(name=name, source=source_of(ref), present=False, error_kind=exc.kind, hint=exc.hint)
    return KeyStatus(name=name, source=source_of(ref), present=True, fingerprint=fingerprint(value))


def store(name: str, value: str) -> KeyStatus:
    """Put `value` in the keyring for connection `name`."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError, PasswordSetError

    value = value.strip()
    if not value:
        raise SynapseError("credential_empty", "refusing to store an empty key", hint="pass the key on stdin or at the prompt")
    if any(ch.isspace() for ch in value) or not value.isprintable():
        raise SynapseError(
            "bad_request",
            "the key contains whitespace or control characters",
            hint="paste only the key itself, on one line",
        )
    SECRETS.add(value)
    try:
        keyring.set_password(KEYRING_SERVICE, name, value)
        kept = keyring.get_password(KEYRING_SERVICE, name)
    except NoKeyringError as exc:
        raise _keyring_unavailable(exc, name) from None
    except (PasswordSetError, KeyringError, RuntimeError, OSError) as exc:
        raise SynapseError(
            "credential_unreadable",
            f"the keyring refused to store the key ({type(exc).__name__})",
            hint="unlock the keyring and retry, or use an env:/file: reference",
        ) from None
    # Anything else a backend raises here stays an internal error, logged (redacted) with its
    # traceback: storing is one explicit request, unlike the reads every listing makes.
    if kept != value:  # a backend that accepts and drops (keyring's null backend): the key would be gone
        raise SynapseError(
            "credential_unreadable",
            f"the keyring backend ({keyring_backend()[0]}) accepted the key but does not give it back: "
            "it would be lost",
            hint="choose a keyring that keeps keys (PYTHON_KEYRING_BACKEND or keyringrc.cfg), "
                 "or use an env:/file: reference",
        )
    return KeyStatus(name=name, source="keyring", present=True, fingerprint=fingerprint(value))


def remove(name: str) -> bool:
    """Delete the keyring entry for `name`; False when there was none."""
    import keyring
    from keyring.errors import NoKeyringError, PasswordDeleteError

    try:
        keyring.delete_password(KEYRING_SERVICE, name)
    except PasswordDeleteError:
        return False
    except NoKeyringError as exc:
        raise _keyring_unavailable(exc, name) from None
    except Exception as exc:  # locked, or a third-party backend's own failure: the entry is still there
        raise SynapseError(
            "credential_unreadable",
            f"the keyring backend ({keyring_backend()[0]}) failed deleting the key for {name!r} ({type(exc).__name__})",
            hint="unlock the keyring and run `synapsectl key rm` again, or delete the entry with the keyring's own tool",
        ) from None
    return True
