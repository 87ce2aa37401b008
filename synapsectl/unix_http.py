"""HTTP/1.1 on the daemon's Unix socket, as much as synapsectl needs: one POST, its status, its
headers and a body by Content-Length or chunked (NDJSON progress arrives chunked, line by line).

Not http.client: importing it pulls in ssl and the email package, about 27 ms of a CLI that
should start in well under 100 ms (BENCHMARKS.md, "usage at scale").
"""

from __future__ import annotations

import socket
from typing import BinaryIO

MAX_HEADER_LINE = 65536
MAX_HEADERS = 100


class RemoteGone(Exception):
    """The daemon closed the connection before or while answering."""


class BadResponse(Exception):
    """What came back is not an HTTP/1.1 response this client understands."""


class Response:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        line = stream.readline(MAX_HEADER_LINE)
        if not line:
            raise RemoteGone("no status line")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise BadResponse(f"not an HTTP status line: {line[:80]!r}")
        self.status = int(parts[1])
        self.headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            header = stream.readline(MAX_HEADER_LINE)
            if not header:
                raise RemoteGone("headers cut off")
            if header in (b"\r\n", b"\n"):
                break
            name, _, value = header.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        else:
            raise BadResponse("too many headers")
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        self._left: int | None = int(length) if length is not None and length.isdigit() else None
        self._buffer = b""
        self._done = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def _fill(self) -> bool:
        """Decode more of the body into the buffer; False at its end."""
        if self._done:
            return False
        if self._chunked:
            size_line = self._stream.readline(MAX_HEADER_LINE)
            if not size_line:
                raise RemoteGone("chunked body cut off")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadResponse(f"bad chunk size {size_line[:40]!r}") from None
            if size == 0:
                while self._stream.readline(MAX_HEADER_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return False
            data = self._stream.read(size + 2)
            if len(data) < size + 2:
                raise RemoteGone("chunk cut off")
            self._buffer += data[:size]
            return True
        if self._left is not None:
            if self._left == 0:
                self._done = True
                return False
            data = self._stream.read(min(self._left, 65536))
            if not data:
                raise RemoteGone("body cut off")
            self._left -= len(data)
            self._buffer += data
            return True
        data = self._stream.read(65536)  # no length: until the daemon closes
        if not data:
            self._done = True
            return False
        self._buffer += data
        return True

    def read(self) -> bytes:
        while self._fill():
            pass
        body, self._buffer = self._buffer, b""
        return body

    def readline(self) -> bytes:
        while b"\n" not in self._buffer and self._fill():
            pass
        line, sep, rest = self._buffer.partition(b"\n")
        self._buffer = rest
        return line + sep


def post(sock: socket.socket, path: str, body: bytes, headers: dict[str, str]) -> Response:
    """Send one POST on `sock` and read the response's head; the body is read from the result."""
    head = [f"POST {path} HTTP/1.1", "Host: localhost", f"Content-Length: {len(body)}", "Connection: close",
            *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    return Response(sock.makefile("rb"))
