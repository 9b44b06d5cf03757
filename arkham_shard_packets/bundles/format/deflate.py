"""Deflate on every core, as pigz does: the input is cut into blocks, each compressed on its
own (in a thread: zlib lets go of the GIL) with the 32 KiB before it as its dictionary and
ended on a byte boundary; joined in order they are one valid deflate stream. The bytes depend
only on the input, the level and BLOCK, never on the number of threads or their timing."""

from __future__ import annotations

import os
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

BLOCK = 128 * 1024
WINDOW = 32 * 1024  # deflate's back-reference distance: the dictionary a block gets
THREADS = max(1, min(4, os.cpu_count() or 1))
IN_FLIGHT = THREADS + 1  # blocks queued or compressing: bounds the memory held


def _deflate(block: bytes, dictionary: bytes, level: int, final: bool) -> bytes:
    if dictionary:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=dictionary)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(block) + compressor.flush(
        zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH
    )


class ParallelDeflate:
    """A raw deflate compressor (zlib's `compress`/`flush` interface) using `pool`."""

    def __init__(self, level: int, pool: ThreadPoolExecutor) -> None:
        self.level = level
        self.pool = pool
        self.buffer = bytearray()
        self.history = b""
        self.pending: deque[Future[bytes]] = deque()

    def _submit(self, block: bytes, final: bool) -> None:
        self.pending.append(self.pool.submit(_deflate, block, self.history, self.level, final))
        self.history = (self.history + block)[-WINDOW:]

    def _ready(self, everything: bool) -> bytes:
        done: list[bytes] = []
        while self.pending and (
            everything or self.pending[0].done() or len(self.pending) > IN_FLIGHT
        ):
            done.append(self.pending.popleft().result())
        return b"".join(done)

    def compress(self, data: bytes) -> bytes:
        self.buffer += data
        done: list[bytes] = []
        while len(self.buffer) >= BLOCK:
            self._submit(bytes(self.buffer[:BLOCK]), final=False)
            del self.buffer[:BLOCK]
            done.append(self._ready(everything=False))
        return b"".join(done)

    def flush(self, mode: int = zlib.Z_FINISH, /) -> bytes:
        """Ends the stream (the only flush zipfile and gzip members ask for)."""
        self._submit(bytes(self.buffer), final=True)
        self.buffer.clear()
        return self._ready(everything=True)


def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(THREADS, thread_name_prefix="deflate")
