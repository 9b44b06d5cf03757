"""Reading a json bundle as a stream: the base64 text of every `"content_base64"` value is
decoded to a file of its own as it is read (hashed and counted as it is written) and replaced
in the document by a placeholder, so that memory holds the document without its files.

The meaning of the document never depends on this: a value is taken out only where the text
is a real key (its opening quote is not escaped) followed by a string of plain base64; any
other value stays in the text as it was (the file is re-read from the value's start), and
after parsing, a placeholder found anywhere but in an item's `file` or `original_file` gets
its original text back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ...core.bounds import NotJson, OutOfBounds, read_json
from ...errors import InvalidBundle
from .budget import Budget
from .limits import DOCUMENT_MAX_DEPTH, ImportLimits
from .progress import Progress

CHUNK = 1024 * 1024
KEY = b'"content_base64"'
LOOKAHEAD = 64  # white space allowed between the key, its colon and its value
VALUE_START = re.compile(rb"[ \t\r\n]*:[ \t\r\n]*\"")
VALUE_STOP = re.compile(rb'["\\]')
NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
FILE_KEYS = ("file", "original_file")
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class InlineFile:
    path: Path
    start: int  # where the value's text is in the bundle
    end: int
    size: int
    sha256: str


class _NotPlain(Exception):
    """A value that is not plain base64: it stays in the document as it is."""


class _Decoder:
    """Base64 text to a file, four characters at a time; `=` only at the very end."""

    def __init__(self, path: Path, budget: Budget) -> None:
        self.path = path
        self.budget = budget
        self.handle: BinaryIO = open(path, "xb")  # noqa: SIM115 - closed in finish/abandon
        self.pending = b""
        self.size = 0
        self.digest = hashlib.sha256()

    def feed(self, text: bytes) -> None:
        text = self.pending + text
        cut = len(text) - len(text) % 4 - 4  # the last quartet may carry the padding
        if cut > 0:
            self._write(text[:cut])
            text = text[cut:]
        self.pending = text

    def _write(self, text: bytes) -> None:
        if NOT_BASE64.search(text):
            raise _NotPlain
        data = base64.b64decode(text)
        self.budget.spend(len(data), payload=True)
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)

    def finish(self) -> tuple[int, str]:
        body = self.pending.rstrip(b"=")
        if len(self.pending) % 4 or len(self.pending) - len(body) > 2:
            raise _NotPlain
        if body:
            if NOT_BASE64.search(body):
                raise _NotPlain
            try:
                data = base64.b64decode(self.pending, validate=True)
            except binascii.Error:
                raise _NotPlain from None
            self.budget.spend(len(data), payload=True)
            self.handle.write(data)
            self.digest.update(data)
            self.size += len(data)
        self.handle.close()
        return self.size, self.digest.hexdigest()

    def abandon(self) -> None:
        self.handle.close()
        self.path.unlink(missing_ok=True)


class _Window:
    """A sliding view of the file: `data` holds the bytes from offset `base` on."""

    def __init__(self, handle: BinaryIO, progress: Progress | None) -> None:
        self.handle = handle
        self.progress = progress
        self.data = b""
        self.base = 0
        self.eof = False

    def keep_from(self, offset: int) -> None:
        """Drop what lies before `offset`, seeking back if it was already dropped."""
        if offset < self.base:
            self.handle.seek(offset)
            self.data, self.base, self.eof = b"", offset, False
        else:
            self.data = self.data[offset - self.base :]
            self.base = offset

    def more(self) -> bool:
        chunk = b"" if self.eof else self.handle.read(CHUNK)
        self.eof = not chunk
        self.data += chunk
        if self.progress is not None and chunk:
            self.progress(len(chunk))
        return bool(chunk)


class _Splitter:
    def __init__(
        self, handle: BinaryIO, dest: Path, limits: ImportLimits, progress: Progress | None
    ) -> None:
        self.window = _Window(handle, progress)
        self.dest = dest
        self.limits = limits
        self.budget = Budget(limits, dest)
        self.token = f"inline-{uuid.uuid4().hex}-"
        self.out = bytearray()
        self.files: dict[str, InlineFile] = {}

    def emit(self, data: bytes) -> None:
        self.out += data
        if len(self.out) > self.limits.max_json_bytes:
            raise InvalidBundle(
                [
                    f"the json bundle's document (without its files) is larger than "
                    f"{self.limits.max_json_bytes} bytes"
                ]
            )

    def run(self) -> None:
        window = self.window
        position = 0
        while True:
            at = window.data.find(KEY, position - window.base)
            if at < 0 and window.eof:
                self.emit(window.data[position - window.base :])
                return
            if at < 0 or (at + len(KEY) + LOOKAHEAD > len(window.data) and not window.eof):
                # keep what a key starting here (or its escapes and white space) may need
                end = window.base + (len(window.data) - len(KEY) if at < 0 else at)
                keep = max(position, end - LOOKAHEAD)
                self.emit(window.data[position - window.base : keep - window.base])
                position = keep
                window.keep_from(position)
                window.more()
                continue
            start = self._value_start(at)
            if start is None:
                self.emit(window.data[position - window.base : at + len(KEY)])
                position = window.base + at + len(KEY)
                continue
            self.emit(window.data[position - window.base : start - window.base])
            position = self._take_value(start)

    def _value_start(self, at: int) -> int | None:
        """The offset of the value's first character when KEY at `at` is a real key whose
        value is a string; None otherwise."""
        data = self.window.data
        backslashes = 0
        while at - backslashes - 1 >= 0 and data[at - backslashes - 1] == 0x5C:
            backslashes += 1
        if backslashes % 2 or (at - backslashes == 0 and self.window.base > 0):
            return None
        match = VALUE_START.match(data, at + len(KEY))
        return None if match is None else self.window.base + match.end()

    def _take_value(self, start: int) -> int:
        """Decode the value starting at `start`; the offset to go on from (its closing
        quote, or `start` again when it stays in the text)."""
        window = self.window
        name = f"{self.token}{len(self.files)}"
        decoder = _Decoder(self.dest / f"inline-{len(self.files):05d}", self.budget)
        cursor = start
        try:
            while True:
                window.keep_from(cursor)
                if not window.data and not window.more():
                    raise _NotPlain  # unterminated: parsing will say so
                stop = VALUE_STOP.search(window.data)
                if stop is None:
                    decoder.feed(window.data)
                    cursor = window.base + len(window.data)
                    continue
                decoder.feed(window.data[: stop.start()])
                if window.data[stop.start()] == 0x22:  # the closing quote
                    end = window.base + stop.start()
                    size, digest = decoder.finish()
                    break
                if stop.start() + 1 >= len(window.data) and not window.more():
                    raise _NotPlain
                if window.data[stop.start() + 1] != 0x2F:  # only "\/" is plain
                    raise _NotPlain
                decoder.feed(b"/")
                cursor = window.base + stop.start() + 2
        except _NotPlain:
            decoder.abandon()
            window.keep_from(start)
            return start
        except BaseException:
            decoder.abandon()
            raise
        self.files[name] = InlineFile(decoder.path, start, end, size, digest)
        self.emit(json.dumps(name)[1:-1].encode())
        window.keep_from(end)
        return end

    def original_text(self, file: InlineFile) -> str:
        handle = self.window.handle
        handle.seek(file.start)
        raw = handle.read(file.end - file.start)
        return raw.replace(b"\\/", b"/").decode("ascii")


def _is_placeholder(value: Any, token: str) -> bool:
    return isinstance(value, str) and value.startswith(token)


def _restore(value: Any, originals: dict[str, str], token: str) -> Any:
    if isinstance(value, dict):
        return {key: _restore(child, originals, token) for key, child in value.items()}
    if isinstance(value, list):
        return [_restore(child, originals, token) for child in value]
    if _is_placeholder(value, token):
        return originals.get(value, value)
    return value


def load_split(
    path: Path, dest: Path, limits: ImportLimits, progress: Progress | None = None
) -> tuple[Any, dict[str, InlineFile]]:
    """The json bundle at `path` parsed, its file contents decoded into `dest`: the document
    (with placeholders in `content_base64`) and the files by placeholder."""
    with open(path, "rb") as handle:
        if progress is not None:
            progress.expect(os.fstat(handle.fileno()).st_size)
        splitter = _Splitter(handle, dest, limits, progress)
        splitter.run()
        if splitter.out.startswith(UTF8_BOM):
            del splitter.out[: len(UTF8_BOM)]
        try:
            document = read_json(
                splitter.out, max_depth=DOCUMENT_MAX_DEPTH, max_bytes=None, nul=False
            )
        except NotJson as error:
            raise InvalidBundle([f"the json bundle is not valid JSON ({error.reason})"]) from None
        except OutOfBounds as error:
            raise InvalidBundle([f"the json bundle: {error.problem}"]) from None
        placed: dict[str, InlineFile] = {}
        for ref in _file_refs(document):
            name = ref.get("content_base64")
            if _is_placeholder(name, splitter.token) and name in splitter.files:
                placed[name] = splitter.files[name]
        strays = {name: file for name, file in splitter.files.items() if name not in placed}
        if strays:
            originals = {name: splitter.original_text(file) for name, file in strays.items()}
            for file in strays.values():
                file.path.unlink(missing_ok=True)
            document = _restore(document, originals, splitter.token)
    return document, placed


def _file_refs(document: Any) -> list[dict[str, Any]]:
    contents = document.get("contents") if isinstance(document, dict) else None
    if not isinstance(contents, list):
        return []
    return [
        item[key]
        for item in contents
        if isinstance(item, dict)
        for key in FILE_KEYS
        if isinstance(item.get(key), dict)
    ]
