"""Zip entries are deflated on every core: the parallel compressor is the one zipfile writes
through, and a zipfile that no longer lets it in stops the export instead of quietly running
on one core."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import datetime, timezone
from typing import Any

import pytest

from arkham_shard_packets.bundles.format import deflate
from arkham_shard_packets.bundles.format.archives import COMPRESSLEVEL, ZipArchive
from arkham_shard_packets.bundles.format.deflate import BLOCK, ParallelDeflate

MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
# Compressible, and long enough for several blocks (each compressed on its own thread).
TEXT = b"".join(b"line %06d of the harbour ledger, tonnage %d\n" % (i, i % 97) for i in range(9000))


def zipped(data: bytes) -> bytes:
    out = io.BytesIO()
    archive = ZipArchive(out, "bag", MOMENT)
    archive.add("data/ledger.txt", len(data), io.BytesIO(data), True)
    archive.close()
    return out.getvalue()


def raw_entry(archive: bytes, name: str) -> bytes:
    """An entry's bytes as stored: after its local header, before the next."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        info = opened.getinfo(name)
    start = info.header_offset
    name_length, extra_length = struct.unpack("<HH", archive[start + 26 : start + 30])
    begin = start + 30 + name_length + extra_length
    return archive[begin : begin + info.compress_size]


def test_zip_entries_go_through_the_parallel_compressor() -> None:
    assert len(TEXT) > 3 * BLOCK
    archive = zipped(TEXT)
    stored = raw_entry(archive, "bag/data/ledger.txt")
    pool = deflate.pool()
    try:
        parallel = ParallelDeflate(COMPRESSLEVEL, pool)
        expected = parallel.compress(TEXT) + parallel.flush()
    finally:
        pool.shutdown()
    single = zlib.compressobj(COMPRESSLEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    one_core = single.compress(TEXT) + single.flush()
    assert expected != one_core  # the two paths are told apart by their bytes
    assert stored == expected
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.read("bag/data/ledger.txt") == TEXT


class Relabelled:
    """Another compressor type where zipfile keeps its own: what a Python release changing
    its private writer looks like from here."""

    def __init__(self, inner: zlib._Compress) -> None:
        self.inner = inner

    def compress(self, data: bytes) -> bytes:
        return self.inner.compress(data)

    def flush(self) -> bytes:
        return self.inner.flush()


def test_a_zipfile_that_no_longer_lets_the_compressor_in_stops_the_export(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer: Any = vars(zipfile)["_ZipWriteFile"]  # private, so not in the type stubs
    original = writer.__init__

    def changed(self: Any, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        self._compressor = Relabelled(self._compressor)

    monkeypatch.setattr(writer, "__init__", changed)
    with pytest.raises(RuntimeError, match="parallel deflate can't be installed"):
        zipped(TEXT)
