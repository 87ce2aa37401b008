"""Google credentials for Vertex AI through google-auth (the official library).

credential = "adc": Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
application-default login, the metadata server); credential = "file:PATH": a service-account
(or other credential) JSON. Access tokens are held until shortly before they expire and
refreshed in a worker thread. google-auth retries token requests on its own; the transport
given to it here sends exactly one request per refresh and refuses a second, so that no hidden
retry happens on this path either.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from synapsed.errors import SynapseError
from synapsed.json_input import MALFORMED
from synapsed.providers.optional import load
from synapsed.redaction import SECRETS
from synapsed.secrets import read_document

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# Fields of a credential JSON that are secrets (registered with the redaction registry).
SECRET_FIELDS = ("private_key", "private_key_id", "client_secret", "refresh_token")


@dataclass
class Held:
    credentials: Any
    project: str | None
    source: str
    lock: threading.Lock = field(default_factory=threading.Lock)


def _one_shot_request(timeout_s: float) -> Any:
    """A google-auth transport that sends one request per refresh; a second one is refused."""
    transport = load("google.auth.transport.requests")
    exceptions = load("google.auth.exceptions")
    inner = transport.Request()
    sent = 0

    def request(url: str, method: str = "GET", body: Any = None, headers: Any = None, timeout: Any = None,
                **kwargs: Any) -> Any:
        nonlocal sent
        sent += 1
        if sent > 1:
            raise exceptions.TransportError("the token request failed once; synapse does not retry it")
        # requests follows redirects by default: a second request, carrying the signed assertion
        # to wherever the token endpoint points. The redirect itself is the answer google-auth sees.
        kwargs["allow_redirects"] = False
        return inner(url, method=method, body=body, headers=headers, timeout=timeout or timeout_s, **kwargs)

    return request


def _describe(credentials: Any, origin: str) -> str:
    email = getattr(credentials, "service_account_email", None)
    if isinstance(email, str) and "@" in email:
        return f"service account {email} ({origin})"
    return f"{type(credentials).__name__} ({origin})"


def _refresh_error(exc: Exception, origin: str) -> SynapseError:
    exceptions = load("google.auth.exceptions")
    reason = " ".join(str(exc).split())[:300]
    if isinstance(exc, exceptions.TransportError):
        return SynapseError("network_unreachable", f"the Google token endpoint could not be reached ({reason})",
                            hint="check the network path to oauth2.googleapis.com (or the token_uri in the key file)")
    relogin = ("run `gcloud auth application-default login` again" if origin == "adc"
               else "the key may be deleted or disabled: create a new key for the service account")
    return SynapseError("auth_failed", f"Google refused to issue an access token ({reason})", hint=relogin)


class GoogleCredentials:
    """Credentials per (connection, reference), with their project and a printable source."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], Held] = {}

    def forget(self) -> None:
        self._held.clear()

    async def token(self, name: str, ref: str, timeout_s: float, fresh: bool = False) -> tuple[str, Held]:
        slot = (name, ref)
        held = None if fresh else self._held.get(slot)
        if held is None:
            held = await asyncio.to_thread(_load, name, ref)
            self._held[slot] = held
        credentials = held.credentials
        if fresh or not credentials.valid:
            await asyncio.to_thread(_refresh, held, ref, timeout_s)
        token = credentials.token
        if not token:
            raise SynapseError("auth_failed", "google-auth returned no access token", hint="check the credential")
        return token, held

    @staticmethod
    def expiry(held: Held) -> str:
        expiry = getattr(held.credentials, "expiry", None)
        if not isinstance(expiry, datetime):
            return ""
        return f", token valid until {expiry.replace(tzinfo=UTC).strftime('%H:%M UTC')}"


def _load(name: str, ref: str) -> Held:
    google_auth = load("google.auth")
    exceptions = load("google.auth.exceptions")
    if ref == "adc":
        try:
            credentials, project = google_auth.default(scopes=[SCOPE])
        except exceptions.DefaultCredentialsError:
            raise SynapseError(
                "credential_missing",
                "no Application Default Credentials found",
                hint="run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS in synapsed's "
                     "environment, or name a service-account key with --credential file:/path/key.json",
            ) from None
        return Held(credentials, project, _describe(credentials, "adc"))
    text = read_document(name, ref)
    try:
        info = msgspec.json.decode(text)
    except MALFORMED:
        raise SynapseError("credential_unreadable", f"{ref[5:]} is not a JSON credential file",
                           hint="name a service-account key (JSON); an express-mode API key goes in the keyring "
                                "(`--credential keyring`, then `synapsectl key set NAME`)") from None
    if not isinstance(info, dict) or "type" not in info:
        raise SynapseError("credential_unreadable", f"{ref[5:]} has no credential type",
                           hint="download the key again: it is a JSON object with \"type\": \"service_account\"")
    for secret_field in SECRET_FIELDS:
        value = info.get(secret_field)
        if isinstance(value, str):
            SECRETS.add(value)
            # PEM keys are matched line by line too (tracebacks and logs may wrap them).
            for line in value.splitlines():
                if not line.startswith("-----"):
                    SECRETS.add(line)
    try:
        credentials, project = google_auth.load_credentials_from_dict(info, scopes=[SCOPE])
    except (exceptions.DefaultCredentialsError, ValueError) as exc:
        raise SynapseError("credential_unreadable", f"{ref[5:]} is not a usable credential ({type(exc).__name__})",
                           hint="download a fresh service-account key (JSON) from the Google Cloud console") from None
    return Held(credentials, project or info.get("project_id"), _describe(credentials, ref))


def _refresh(held: Held, ref: str, timeout_s: float) -> None:
    exceptions = load("google.auth.exceptions")
    with held.lock:  # one refresh at a time per credential: concurrent calls share its token
        if held.credentials.valid:
            return
        try:
            held.credentials.refresh(_one_shot_request(timeout_s))
        except exceptions.GoogleAuthError as exc:
            raise _refresh_error(exc, "adc" if ref == "adc" else "file") from None
    if held.credentials.token:
        SECRETS.add(held.credentials.token)
