"""A provider reply's body, decoded and capped as its bytes arrive.

aiohttp's own decompression is switched off (`auto_decompress=False` in `http.new_session`) because
the cap must count decoded bytes: a 1 MB gzip body can inflate to 1 GB, and aiohttp versions
before 3.12 inflate a whole chunk at once. Each decoder here asks its library for at most the
bytes still allowed (plus one, to tell "exactly at the cap" from "over it"), so memory never holds
more than the cap however the body is compressed.

We advertise only the encodings we can decode with such a bound (`ACCEPT_ENCODING`); a reply in any
other encoding is refused rather than passed on undecoded.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Any, Protocol


class BodyTooLarge(Exception):
    """The decoded body passed the cap."""


class CorruptBody(Exception):
    """The compressed stream did not decode."""


class UnknownEncoding(Exception):
    """The reply used a Content-Encoding this module cannot decode with a bound."""

    def __init__(self, encoding: str) -> None:
        super().__init__(encoding)
        self.encoding = encoding


class _Decoder(Protocol):
    def feed(self, data: bytes, limit: int) -> bytes: ...
    def finish(self, limit: int) -> bytes: ...


class _Zlib:
    """gzip (wbits 16+), or deflate: zlib-wrapped as RFC 9110 says, raw as some servers send."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._pending = b""

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._obj is None:
            # The first two bytes tell a zlib header from raw deflate.
            self._pending += data
            if len(self._pending) < 2:
                return b""
            cmf, flg = self._pending[0], self._pending[1]
            wrapped = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            data, self._pending = self._pending, b""
        out: bytes = self._obj.decompress(data, limit + 1)
        if len(out) > limit or self._obj.unconsumed_tail:
            raise BodyTooLarge
        return out

    def finish(self, limit: int) -> bytes:
        if self._obj is None:
            return self.feed(b"", limit) if self._pending else b""
        out: bytes = self._obj.flush(limit + 1) if hasattr(self._obj, "flush") else b""
        if len(out) > limit:
            raise BodyTooLarge
        return out


class _Zstd:
    def __init__(self, factory: Callable[[], Any]) -> None:
        self._obj = factory()

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._obj.eof:
            self._obj = type(self._obj)()
        out: bytes = self._obj.decompress(data, limit + 1)
        if len(out) > limit or (not self._obj.eof and not self._obj.needs_input):
            raise BodyTooLarge
        if self._obj.eof and self._obj.unused_data:
            # A second frame: decode it too (RFC 8878 allows concatenated frames).
            rest = self._obj.unused_data
            self._obj = type(self._obj)()
            out += self.feed(rest, limit - len(out))
        return out

    def finish(self, limit: int) -> bytes:
        return b""


class _Brotli:
    def __init__(self, factory: Callable[[], Any]) -> None:
        self._obj = factory()

    def feed(self, data: bytes, limit: int) -> bytes:
        out: bytes = self._obj.process(data, output_buffer_limit=limit + 1)
        if len(out) > limit or not self._obj.can_accept_more_data():
            raise BodyTooLarge
        return out

    def finish(self, limit: int) -> bytes:
        return b""


def _zstd_factory() -> Callable[[], Any] | None:
    for module in ("compression.zstd", "backports.zstd"):
        try:
            imported = __import__(module, fromlist=["ZstdDecompressor"])
        except ImportError:
            continue
        return imported.ZstdDecompressor  # type: ignore[no-any-return]
    return None


def _brotli_factory() -> Callable[[], Any] | None:
    try:
        import brotli  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    # Only Brotli >= 1.2 can bound its output; an older one would inflate a bomb whole.
    if not hasattr(brotli.Decompressor(), "can_accept_more_data"):
        return None
    return brotli.Decompressor  # type: ignore[no-any-return]


_ZSTD = _zstd_factory()
_BROTLI = _brotli_factory()
ACCEPT_ENCODING = ", ".join(["gzip", "deflate", *(["br"] if _BROTLI else []), *(["zstd"] if _ZSTD else [])])


def _decoder(encoding: str) -> _Decoder:
    if encoding in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if encoding == "deflate":
        return _Zlib(gzip=False)
    if encoding == "br" and _BROTLI is not None:
        return _Brotli(_BROTLI)
    if encoding == "zstd" and _ZSTD is not None:
        return _Zstd(_ZSTD)
    raise UnknownEncoding(encoding)


class BoundedBody:
    """Feed raw chunks as they arrive; `result()` is the decoded body. Raises BodyTooLarge the
    moment the decoded size passes `cap`, and zlib.error and friends on a corrupt stream."""

    def __init__(self, content_encoding: str | None, cap: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        # Listed in the order applied, so decoded last-first; identity is no coding at all.
        self._decoders = [_decoder(c) for c in reversed(codings) if c != "identity"]
        self._cap = cap
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        self._keep(self._through(data, 0))

    def result(self) -> bytes:
        for i, decoder in enumerate(self._decoders):
            self._keep(self._through(self._step(decoder.finish, i), i + 1))
        return b"".join(self._parts)

    def _through(self, data: bytes, first: int) -> bytes:
        for i in range(first, len(self._decoders)):
            if not data:
                break
            data = self._step(functools.partial(self._decoders[i].feed, data), i)
        return data

    def _step(self, run: Callable[[int], bytes], i: int) -> bytes:
        # Only the last stage yields the body; an inner stage's output is still compressed and
        # is bounded by the whole cap.
        limit = self._cap - self._size if i == len(self._decoders) - 1 else self._cap
        try:
            return run(limit)
        except BodyTooLarge:
            raise
        except Exception as exc:  # zlib.error, brotli.error, ZstdError, EOFError: the libraries' own
            raise CorruptBody(type(exc).__name__) from None

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._cap:
            raise BodyTooLarge
        if data:
            self._parts.append(data)
