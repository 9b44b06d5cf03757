"""Parts of stored bytes: what a request's `Range` and `If-Range` ask for (RFC 9110 14.2 and
13.1.5), the span of a file of a known size that answers it, and the seam every download reads
through.

`ByteSource` is what a store hands a download: the stored bytes' `size`, `read(start, length)`
streaming the bytes [start, start + length) in order, and `close()`. A stored object's source
is core/store.py's `ReaderSource`: the object opened, on either backend, for the bytes the
download answers while the row naming it was read (a local file may be unlinked meanwhile: its
handle keeps its bytes; on s3 it is one ranged GET), or a bundle made for one answer, its file
opened as a `FileReader`.

One range only (`bytes=a-b`, `bytes=a-`, `bytes=-n`). What the server may ignore it ignores,
answering the whole file: another unit, several ranges, a range that isn't one (`bytes=5-1`,
`bytes=a-b`), a header longer than any single range, and an `If-Range` that isn't this file's
strong ETag. A range past the end (`bytes=<size>-`) or of no bytes (`bytes=-0`) is 416.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from ..errors import RangeNotSatisfiable

# Two 20-digit numbers, a dash, the unit and some spaces fit many times over: longer is a list.
RANGE_HEADER_MAX = 200
# A number longer than this is larger than any file (sizes stay far below 10**19 bytes).
DIGITS_MAX = 19
BEYOND = 10**DIGITS_MAX
DIGITS = re.compile(r"[0-9]*")  # ASCII only: str.isdigit() takes "²", which int() refuses


@dataclass(frozen=True)
class Span:
    """The bytes [start, end] of a file of `size` bytes (0 <= start <= end < size)."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


@dataclass(frozen=True)
class Wanted:
    """A GET's `Range` and `If-Range` headers as sent; read once the file's size is known."""

    range: str | None = None
    if_range: str | None = None

    def span(self, size: int, etag: str | None) -> Span | None:
        """The part of a file of `size` bytes (and strong `etag`, if it has one) to answer: None
        for the whole (200), else the span (206); RangeNotSatisfiable (416) for a range of
        none of its bytes."""
        if self.range is None:
            return None
        asked = single_range(self.range)
        if asked is None:
            return None
        if self.if_range is not None and (etag is None or self.if_range.strip() != etag):
            return None  # another version, a weak tag or a date: the whole file (13.1.5)
        first, last = asked
        if first is None:  # the last `last` bytes
            assert last is not None
            if last == 0:
                raise RangeNotSatisfiable(size)
            if size == 0:
                return None  # the whole of nothing, which no Content-Range can name
            return Span(max(0, size - last), size - 1, size)
        if first >= size:
            raise RangeNotSatisfiable(size)
        return Span(first, size - 1 if last is None else min(last, size - 1), size)


WHOLE = Wanted()


def single_range(header: str) -> tuple[int | None, int | None] | None:
    """`bytes=a-b` as (a, b), `bytes=a-` as (a, None), `bytes=-n` as (None, n); None for
    anything else (ignored: the whole file is answered). Numbers too long for any file are
    BEYOND, never parsed whole."""
    if len(header) > RANGE_HEADER_MAX:
        return None
    unit, equals, ranges = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    specs = [spec.strip() for spec in ranges.split(",") if spec.strip()]
    if len(specs) != 1:
        return None
    first, dash, last = specs[0].partition("-")
    if not dash or not DIGITS.fullmatch(first) or not DIGITS.fullmatch(last):
        return None
    if not first:
        return None if not last else (None, number(last))
    if not last:
        return number(first), None
    start, end = number(first), number(last)
    return None if end < start else (start, end)


def number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= DIGITS_MAX else BEYOND


def strong_etag(sha256: str) -> str:
    """A content-addressed file's ETag: its digest, which names exactly these bytes."""
    return f'"{sha256}"'


class ByteSource(Protocol):
    """Stored bytes a download streams (the seam a store's backend plugs into)."""

    @property
    def size(self) -> int: ...

    def read(self, start: int, length: int) -> AsyncIterator[bytes]:
        """The bytes [start, start + length) in chunks, in order (0 <= start, 0 <= length,
        start + length <= size); called at most once."""
        ...

    def close(self) -> None:
        """Let go of what the source holds, whether or not it was read; called once."""
        ...
