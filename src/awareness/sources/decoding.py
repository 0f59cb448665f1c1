"""Undoing Content-Encoding with a hard bound on the decoded size (RELIABILITY.md finding 9).

Counting ``iter_bytes()`` against a cap overshoots: one 64 KiB wire chunk of a gzip bomb
decodes to 64 MiB before the count is checked. Here each raw chunk is inflated with
``decompressobj(...).decompress(data, max_length)``, so no more than the cap (plus one step)
is ever held. No I/O: the fetcher feeds it the raw chunks it reads.
"""

from __future__ import annotations

import zlib
from typing import Any

from awareness.errors import FetchError

_INFLATE_STEP = 64 * 1024
SUPPORTED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})


def too_large(limit: int) -> FetchError:
    """The error for a body over ``limit`` decoded bytes."""
    return FetchError(f"response too large (limit {limit} bytes)")


def _has_zlib_header(data: bytes) -> bool:
    return data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0


class _Inflater:
    """Undoes one gzip or deflate layer, never producing more than ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int):
        self._gzip = encoding in ("gzip", "x-gzip")
        self._limit = limit
        self._produced = 0
        self._head = b""  # the first two bytes decide how to decode
        self._fed = False
        self._passthrough = False
        self._obj: Any = None

    def feed(self, data: bytes) -> bytes:
        """Decode ``data``; raise ``FetchError`` on bad compression or past the limit."""
        self._fed = self._fed or bool(data)
        if self._obj is None and not self._passthrough:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            self._start(data)
        if self._passthrough:
            return data
        try:
            return self._inflate(self._obj, data)
        except zlib.error as exc:
            raise FetchError("bad compression") from exc

    def _start(self, head: bytes) -> None:
        if self._gzip:
            # Some servers label plain bodies "gzip"; without the magic number it is not gzip.
            self._passthrough = not head.startswith(b"\x1f\x8b")
            self._obj = None if self._passthrough else zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            # "deflate" is zlib-wrapped by the RFC but raw from many servers; the header tells.
            wbits = zlib.MAX_WBITS if _has_zlib_header(head) else -zlib.MAX_WBITS
            self._obj = zlib.decompressobj(wbits)

    def _inflate(self, obj: Any, data: bytes) -> bytes:
        out = []
        while True:
            room = min(_INFLATE_STEP, self._limit - self._produced + 1)
            piece = obj.decompress(data, room)
            self._produced += len(piece)
            if self._produced > self._limit:
                raise too_large(self._limit)
            out.append(piece)
            if obj.eof:
                data = obj.unused_data
                if not (self._gzip and data.startswith(b"\x1f\x8b")):
                    break  # padding after the stream is ignored, as browsers do
                obj = self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                continue
            data = obj.unconsumed_tail
            if not data and len(piece) < room:
                break
        return b"".join(out)

    def finish(self) -> bytes:
        """Check the stream ended properly (a cut gzip stream is bad compression)."""
        if not self._fed or self._passthrough:
            return b""  # an empty body labelled as compressed is still empty
        if self._obj is None:
            return self._head  # one byte cannot be compressed data: pass it on as it is
        if not self._obj.eof:
            raise FetchError("bad compression")
        return b""


class BoundedDecoder:
    """All Content-Encoding layers of one response, undone with the size cap enforced."""

    def __init__(self, content_encoding: str | None, limit: int):
        encodings = [e.strip().lower() for e in (content_encoding or "").split(",")]
        encodings = [e for e in encodings if e and e != "identity"]
        for encoding in encodings:
            if encoding not in SUPPORTED_ENCODINGS:
                raise FetchError(f"unsupported content encoding ({encoding})")
        # The last encoding applied is the first one to undo.
        self._layers = [_Inflater(e, limit) for e in reversed(encodings)]
        self._limit = limit
        self._produced = 0

    def feed(self, chunk: bytes) -> bytes:
        """Decode one raw chunk."""
        for layer in self._layers:
            chunk = layer.feed(chunk)
        return self._counted(chunk)

    def finish(self) -> bytes:
        """Flush every layer at the end of the body."""
        data = b""
        for layer in self._layers:
            data = layer.feed(data) + layer.finish() if data else layer.finish()
        return self._counted(data)

    def _counted(self, data: bytes) -> bytes:
        self._produced += len(data)
        if self._produced > self._limit:
            raise too_large(self._limit)
        return data
