"""A closed pipe ends a command quietly: `arkham-packets verify b.zip | grep -q OK` exits with
verify's own status once grep has stopped reading, without a BrokenPipeError."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO, cast


class Quiet:
    """A text stream whose reader may go away: from then on what is written is dropped (its
    file descriptor points at /dev/null, so what Python still holds for it at exit is too)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self.drop()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.drop()

    def drop(self) -> None:
        self.gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.stream.fileno())
        finally:
            os.close(devnull)

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return self.stream.encoding

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


@contextmanager
def ending_quietly_on_a_closed_pipe() -> Iterator[None]:
    streams = sys.stdout, sys.stderr
    quiet = Quiet(sys.stdout), Quiet(sys.stderr)
    sys.stdout, sys.stderr = (cast(TextIO, stream) for stream in quiet)
    try:
        yield
    finally:
        for stream in quiet:
            stream.flush()  # what is still buffered, which may find the pipe closed now
        sys.stdout, sys.stderr = streams
