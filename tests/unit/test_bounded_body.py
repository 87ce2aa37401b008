"""The decoded-size cap on provider replies: every encoding counted as it inflates, never after."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from synapsed.providers import bounded_body
from synapsed.providers.bounded_body import ACCEPT_ENCODING, BodyTooLarge, BoundedBody, CorruptBody, UnknownEncoding

CAP = 1024 * 1024
BOMB_SIZE = 64 * 1024 * 1024  # inflates to 64x the cap from about 64 KB


def _zlib_stream(wbits: int, size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b"\0" * (1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(size // len(block))) + packer.flush()


def _brotli(data: bytes) -> bytes:
    brotli = pytest.importorskip("brotli")
    return brotli.compress(data)  # type: ignore[no-any-return]


def _zstd(data: bytes) -> bytes:
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        zstd = pytest.importorskip("backports.zstd")
    return zstd.compress(data)  # type: ignore[no-any-return]


ENCODERS = {
    "gzip": lambda data: gzip.compress(data),
    "deflate": lambda data: zlib.compress(data),
    "deflate-raw": lambda data: _zlib_stream_of(data, -zlib.MAX_WBITS),
    "br": _brotli,
    "zstd": _zstd,
}


def _zlib_stream_of(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


def _header(name: str) -> str:
    return "deflate" if name == "deflate-raw" else name


def _decode(encoding: str | None, payload: bytes, cap: int = CAP, chunk: int = 65536) -> bytes:
    body = BoundedBody(encoding, cap)
    for i in range(0, len(payload), chunk):
        body.feed(payload[i : i + chunk])
    return body.result()


@pytest.mark.parametrize("name", list(ENCODERS))
def test_each_encoding_round_trips_a_body_under_the_cap(name: str) -> None:
    text = b'{"choices":[{"message":{"content":"' + b"pong " * 5000 + b'"}}]}'
    assert _decode(_header(name), ENCODERS[name](text), chunk=7) == text


@pytest.mark.parametrize("name", list(ENCODERS))
def test_each_encoding_refuses_a_bomb_while_inflating(name: str) -> None:
    if name in ("br", "zstd"):
        ENCODERS[name](b"")  # skips when the library is not installed
        payload = ENCODERS[name](b"\0" * BOMB_SIZE)
    else:
        payload = _zlib_stream({"gzip": 31, "deflate": 15, "deflate-raw": -15}[name], BOMB_SIZE)
    assert len(payload) < CAP // 4
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            _decode(_header(name), payload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Never more than the cap held, plus the decoders' own buffers: not the 64 MiB it inflates to.
    assert peak < 4 * CAP


def test_a_body_exactly_at_the_cap_passes_and_one_byte_more_does_not() -> None:
    assert len(_decode("gzip", gzip.compress(b"a" * CAP))) == CAP
    with pytest.raises(BodyTooLarge):
        _decode("gzip", gzip.compress(b"a" * (CAP + 1)))
    assert len(_decode(None, b"a" * CAP)) == CAP
    with pytest.raises(BodyTooLarge):
        _decode(None, b"a" * (CAP + 1))


def test_stacked_encodings_are_decoded_last_applied_first() -> None:
    text = b"hello " * 1000
    assert _decode("deflate, gzip", gzip.compress(zlib.compress(text))) == text


def test_stacked_encodings_still_count_the_decoded_bytes() -> None:
    with pytest.raises(BodyTooLarge):
        _decode("gzip, gzip", gzip.compress(gzip.compress(b"\0" * (8 * CAP))))


def test_identity_is_no_encoding() -> None:
    assert _decode("identity", b"plain") == b"plain"


def test_an_encoding_nobody_asked_for_is_refused() -> None:
    with pytest.raises(UnknownEncoding) as caught:
        BoundedBody("compress", CAP)
    assert caught.value.encoding == "compress"


def test_a_corrupt_stream_is_corrupt_not_a_library_error() -> None:
    with pytest.raises(CorruptBody):
        _decode("gzip", b"\x1f\x8b\x08\x00garbage that is not deflate")


def test_only_encodings_decodable_with_a_bound_are_advertised(monkeypatch: pytest.MonkeyPatch) -> None:
    offered = [e.strip() for e in ACCEPT_ENCODING.split(",")]
    assert offered[:2] == ["gzip", "deflate"]
    assert ("br" in offered) == (bounded_body._BROTLI is not None)
    assert ("zstd" in offered) == (bounded_body._ZSTD is not None)
    monkeypatch.setattr(bounded_body, "_BROTLI", None)
    with pytest.raises(UnknownEncoding):
        BoundedBody("br", CAP)
