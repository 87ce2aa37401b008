"""HTTP MCP guards: bearer token, Origin/Host against loopback (DNS-rebinding defence), body cap.

Checked in this order before the SDK sees a request; failures say nothing about the token.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from synapsed.paths import write_atomic
from synapsed.redaction import SECRETS

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def load_or_create_token(path: Path) -> str:
    """The MCP bearer token: created on first start (0600), kept across restarts."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    if len(token) < 32:
        return rotate_token(path)
    os.chmod(path, 0o600)
    SECRETS.add(token)
    return token


def rotate_token(path: Path) -> str:
    token = secrets.token_urlsafe(32)
    write_atomic(path, token + "\n")
    SECRETS.add(token)
    return token


def token_ok(header: str | None, token: str) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    return same_secret(header[7:].strip(), token)


def same_secret(presented: str, expected: str) -> bool:
    """A constant-time comparison with one of our (ASCII) tokens. Header bytes that are not
    UTF-8 reach us as lone surrogates, which encode() refuses: such a value is simply wrong."""
    return presented.isascii() and hmac.compare_digest(presented.encode(), expected.encode())


def allowed_hosts(port: int) -> set[str]:
    return {f"{name}:{port}" for name in LOOPBACK_NAMES}


def host_ok(host: str | None, port: int) -> bool:
    """Host must name loopback with our port (a rebinding attack arrives with the attacker's name)."""
    if not host:
        return False
    return host.lower() in allowed_hosts(port) or (port == 80 and host.lower() in LOOPBACK_NAMES)


def origin_ok(origin: str | None, port: int) -> bool:
    """Absent Origin (non-browser clients) is fine; a present one must be a loopback origin on our port."""
    if origin is None:
        return True
    try:
        parts = urlsplit(origin)
        netloc = parts.netloc.lower()
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and netloc in allowed_hosts(port)
