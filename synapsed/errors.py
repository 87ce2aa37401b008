"""One error type for the whole product: a kind from DESIGN's taxonomy plus a one-line hint.

The same kinds travel in RPC errors, MCP tool errors, preflight results and the ledger, so
this module stays dependency-free and cheap to import (synapsectl imports it too).
"""

from __future__ import annotations

import os
from typing import Any, Literal, Protocol, get_args

ErrorKind = Literal[
    "config_invalid",
    "not_found",
    "already_exists",
    "conflict",
    "credential_missing",
    "credential_unreadable",
    "credential_empty",
    "keyring_unavailable",
    "base_url_invalid",
    "network_unreachable",
    "tls_error",
    "timeout",
    "auth_failed",
    "permission_denied",
    "model_not_found",
    "rate_limited",
    "quota_exceeded",
    "bad_request",
    "context_too_long",
    "upstream_error",
    "upstream_malformed",
    "budget_exceeded",
    "connection_disabled",
    "thread_busy",
    "schema_mismatch",
    "file_refused",
    "write_failed",
    "cancelled",
    "internal",
]

ERROR_KINDS: tuple[str, ...] = get_args(ErrorKind)

# The default "what to check next" line for each kind; call sites override it when they know more.
DEFAULT_HINTS: dict[str, str] = {
    "config_invalid": "fix the named field in config.toml (or the command's arguments) and retry",
    "not_found": "run `synapsectl connections list` to see the configured names",
    "already_exists": "pick another name, or edit the existing one with `synapsectl connections edit`",
    "conflict": "the config changed since you read it; re-read it and apply your change again",
    "credential_missing": "set the key with `synapsectl key set NAME` (or point the connection at env:VAR / file:PATH)",
    "credential_unreadable": "check that the credential source exists and is readable only by you",
    "credential_empty": "the credential source is empty; store the real key again",
    "keyring_unavailable": "no usable OS keyring here; use --credential env:VAR or file:PATH instead",
    "base_url_invalid": "use an absolute https:// URL (http:// only for loopback) without credentials or query",
    "network_unreachable": "check DNS, proxy and firewall settings, and that the base URL's host is right",
    "tls_error": "the endpoint's TLS certificate was rejected; check the base URL and system CA store",
    "timeout": "the provider did not answer in time; raise the connection's timeout or try later",
    "auth_failed": "the provider rejected the key; store a fresh one with `synapsectl key set NAME`",
    "permission_denied": "the key is valid but lacks access to this resource or model",
    "model_not_found": "check the model id against the provider's model list",
    "rate_limited": "the provider is rate-limiting this key; wait before sending more (nothing was retried)",
    "quota_exceeded": "the account is out of quota or credit; check billing with the provider",
    "bad_request": "the request was rejected as malformed; check the arguments",
    "context_too_long": "the prompt exceeds the model's context window; shorten it",
    "upstream_error": "the provider had an internal error; nothing was retried, try again later",
    "upstream_malformed": "the provider's answer could not be understood; check the base URL points at the right API",
    "budget_exceeded": "the connection's budget is used up; raise it or wait for it to reset",
    "connection_disabled": "enable it with `synapsectl connections enable NAME`",
    "thread_busy": "another turn of this thread is still running; wait for it, or start a new thread",
    "file_refused": "only files inside the IDE's workspace roots (or [context] allow) are sent; nothing was sent",
    "schema_mismatch": "the answer does not meet response_schema; it was billed and not re-sent: ask again if you want",
    "write_failed": "a file could not be written (disk full, read-only or permissions); the previous state stays in force",
    "cancelled": "the request was cancelled before it completed",
    "internal": "an internal error was logged; see `synapsectl logs`",
}


class SynapseError(Exception):
    """A failure the caller is meant to see: what happened (message), its kind, what to do (hint)."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        hint: str | None = None,
        **detail: Any,
    ) -> None:
        if kind not in DEFAULT_HINTS:
            raise ValueError(f"unknown error kind {kind!r}")
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.hint = hint or DEFAULT_HINTS[kind]
        self.detail = detail

    def to_data(self) -> dict[str, Any]:
        return {"kind": self.kind, "hint": self.hint, **self.detail}

    def __repr__(self) -> str:
        return f"SynapseError({self.kind!r}, {self.message!r})"


class _ExceptionLogger(Protocol):
    def exception(self, event: str, **kw: Any) -> Any: ...


def internal_error(log: _ExceptionLogger, what: str) -> SynapseError:
    """Call inside `except`: log the traceback under a fresh error id and return the `internal`
    error the caller sees, which names the id and nothing of the failure's details."""
    error_id = os.urandom(6).hex()  # not uuid: its import costs synapsectl ~3 ms at start
    log.exception("internal error", what=what, error_id=error_id)
    return SynapseError(
        "internal",
        f"internal error in {what} (error id {error_id})",
        hint=f"the daemon logged the details under error_id={error_id}; see `synapsectl logs`",
        error_id=error_id,
    )
