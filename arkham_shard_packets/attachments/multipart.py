"""A multipart/form-data body read as it arrives, part by part, so a file part can be streamed
to disk without the whole upload (or a spooled copy of it) ever being held by the server."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..bodies import BODY_READ, declared_length
from ..core.spool import SpooledFile, SpoolTooLarge, spool
from ..errors import InvalidInput, PayloadTooLarge
from .uploads import ReceivedFile

MAX_HEADER_BYTES = 16 * 1024
MAX_PARTS = 16
MAX_TEXT_BYTES = 4096
MULTIPART_SLACK = 64 * 1024  # form boundaries and part headers around the file itself


@dataclass(frozen=True)
class PartHeaders:
    name: str
    filename: str | None
    content_type: str | None


class MultipartForm:
    """Iterate `parts()`; read each part's bytes with `chunks()` or `text()` before the next."""

    def __init__(self, request: Request, max_body: int | None = None) -> None:
        kind, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise InvalidInput("expected a multipart/form-data body with a boundary")
        declared = declared_length(request)
        if max_body is not None and declared is not None and declared > max_body:
            raise PayloadTooLarge(f"the upload is larger than the limit of {max_body} bytes")
        self._scope = request.scope
        self._source = request.stream().__aiter__()
        self._events: deque[tuple[str, Any]] = deque()
        self._finished = False
        self._header_bytes = 0
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._parts = 0
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    # parser callbacks: they only queue events
    def _on_part_begin(self) -> None:
        self._parts += 1
        self._headers = {}
        if self._parts > MAX_PARTS:
            raise InvalidInput(f"more than {MAX_PARTS} parts in the form")

    def _grow_headers(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            raise InvalidInput("the form's part headers are too large")

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        content_type = self._headers.get(b"content-type")
        self._events.append(
            (
                "part",
                PartHeaders(
                    name=name,
                    filename=None if filename is None else filename.decode("utf-8", "replace"),
                    content_type=None if content_type is None else content_type.decode("latin-1"),
                ),
            )
        )

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", data[start:end]))

    def _on_part_end(self) -> None:
        self._events.append(("end", None))

    async def _next(self) -> tuple[str, Any] | None:
        while not self._events:
            if self._finished:
                return None
            try:
                chunk = await self._source.__anext__()
            except StopAsyncIteration:
                self._finished = True
                self._scope[BODY_READ] = True
                try:
                    self._parser.finalize()
                except MultipartParseError as error:
                    raise InvalidInput(f"malformed multipart body: {error}") from None
                continue
            try:
                self._parser.write(chunk)
            except MultipartParseError as error:
                raise InvalidInput(f"malformed multipart body: {error}") from None
        return self._events.popleft()

    async def parts(self) -> AsyncIterator[PartHeaders]:
        while (event := await self._next()) is not None:
            if event[0] == "part":
                yield event[1]

    async def chunks(self) -> AsyncIterator[bytes]:
        """The current part's bytes, up to its end."""
        while (event := await self._next()) is not None:
            if event[0] == "end":
                return
            if event[0] == "data" and event[1]:
                yield event[1]
        raise InvalidInput("the multipart body ended in the middle of a part")

    async def text(self, limit: int = MAX_TEXT_BYTES) -> str:
        value = b""
        async for chunk in self.chunks():
            value += chunk
            if len(value) > limit:
                raise InvalidInput(f"a form field is longer than {limit} bytes")
        return value.decode("utf-8", "replace")


class FormUpload:
    """A form with one file field, received only when the service asks for it (after its own
    checks), spooled to disk as it arrives; the other fields (only those named in `fields`)
    are read as short text."""

    def __init__(
        self, form: MultipartForm, file_field: str = "file", fields: Collection[str] = ()
    ) -> None:
        self.form = form
        self.file_field = file_field
        self.fields = fields

    async def receive(self, directory: Path, limit: int) -> ReceivedFile:
        spooled: SpooledFile | None = None
        fields: dict[str, str] = {}
        filename: str | None = None
        content_type: str | None = None
        try:
            async for part in self.form.parts():
                if part.name == self.file_field and part.filename is not None:
                    if spooled is not None:
                        raise InvalidInput(f"more than one '{self.file_field}' in the form")
                    try:
                        spooled = await spool(self.form.chunks(), directory, limit)
                    except SpoolTooLarge:
                        raise PayloadTooLarge(
                            f"the file is larger than the limit of {limit} bytes"
                        ) from None
                    filename, content_type = part.filename, part.content_type
                elif part.name in self.fields and part.filename is None:
                    fields[part.name] = await self.form.text()
                else:
                    raise InvalidInput(
                        f"the form has an unknown field '{part.name[:40]}' "
                        f"(the file goes in '{self.file_field}')"
                    )
        except BaseException:
            if spooled is not None:
                spooled.discard()
            raise
        if spooled is None:
            raise InvalidInput(f"the form has no file field '{self.file_field}'")
        return ReceivedFile(spooled, filename or "", content_type, fields)


def multipart_body(
    fields: dict[str, dict[str, Any]], also: dict[str, Any] | None = None
) -> dict[str, Any]:
    """OpenAPI for a route that reads its multipart form itself: a required binary `file`
    plus `fields`, and other content types in `also`."""
    schema = {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}, **fields},
        "required": ["file"],
        "additionalProperties": False,  # the reader refuses any other field (422)
    }
    content = {"multipart/form-data": {"schema": schema}, **(also or {})}
    return {"requestBody": {"required": True, "content": content}}
