"""Reading the files a call may send (access.py decided which): off the event loop with a
deadline, no more than the size caps allow, as UTF-8 text or as an image told by its bytes.

The file is opened without following links and without blocking, then checked again on the
open descriptor (a regular file, the one that was checked), so a swap between check and read
reads nothing. Text is scanned for private keys and every loaded key value is redacted, as in
every other text that leaves the daemon.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from synapsed import protocol as p
from synapsed.redaction import redact_text
from synapsed.workspace.access import Scope, check, refused

MAX_FILES = 32
# Magic numbers of the images every provider takes (PNG, JPEG, GIF, WebP).
_IMAGES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"), (b"\xff\xd8\xff", 0, "image/jpeg"), (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"), (b"WEBP", 8, "image/webp"))
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----|\"type\"\s*:\s*\"service_account\"")


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_call_bytes: int
    read_timeout_s: float


def image_type(head: bytes) -> str | None:
    for magic, offset, media_type in _IMAGES:
        if head[offset:offset + len(magic)] == magic and (media_type != "image/webp" or head[:4] == b"RIFF"):
            return media_type
    return None


def _read(real: Path, expected: os.stat_result, limit: int, ref: str) -> bytes:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise refused(f"cannot be opened ({exc.strerror})", ref) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            raise refused("it changed between the check and the read", ref)
        if st.st_size > limit:
            raise refused(f"it is {st.st_size:,} bytes, over the {limit:,}-byte cap", ref,
                          hint="[context] max_file_bytes and max_call_bytes set the caps")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # it grew while being read
            raise refused(f"it is over the {limit:,}-byte cap", ref)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _attachment(ref: str, real: Path, data: bytes) -> p.Attachment:
    media_type = image_type(data[:16])
    if media_type is not None:
        return p.ImageFile(media_type=media_type, data=base64.b64encode(data).decode("ascii"),  # type: ignore[arg-type]
                           size=len(data), path=str(real))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refused("it is neither UTF-8 text nor a PNG, JPEG, WebP or GIF image", ref) from None
    if "\x00" in text:
        raise refused("it holds NUL bytes: a binary file, not text", ref)
    if _PRIVATE_KEY.search(text):
        raise refused("it holds a private key or a cloud service-account key", ref)
    return p.TextFile(path=str(real), text=redact_text(text, patterns=False), size=len(data))


async def read_files(refs: Sequence[str], where: Scope, limits: Limits) -> list[p.Attachment]:
    """Every file of one call, in the order given, or file_refused for the first that may not go."""
    if len(refs) > MAX_FILES:
        raise refused(f"{len(refs)} files in one call; at most {MAX_FILES}", "files")
    checked = [(ref, check(ref, where)) for ref in refs]
    budget = limits.max_call_bytes
    out: list[p.Attachment] = []
    for ref, real in checked:
        expected = os.stat(real)
        limit = min(limits.max_file_bytes, budget)
        try:
            data = await asyncio.wait_for(asyncio.to_thread(_read, real, expected, limit, ref), limits.read_timeout_s)
        except TimeoutError:
            raise refused(f"reading it took longer than {limits.read_timeout_s:g} s", ref) from None
        budget -= len(data)
        out.append(_attachment(ref, real, data))
    return out
