"""Stored bytes as a streamed download: the whole file (200) or the one range a GET asked for
(206), with its media type, length and filename. Which range, if any, is settled before the
download is logged (core/byte_ranges.py), so a 416 hands nothing over and logs nothing."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header
from fastapi.responses import StreamingResponse

from ..core.byte_ranges import ByteSource, Span, Wanted
from ..routing import error_responses

# What a file download answers, for OpenAPI (the media type is the file's own, any at all).
FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, streamed, with its media type, Content-Length and "
        "a Content-Disposition: attachment filename"
    }
}
RANGED_FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The whole file, streamed, with its media type, Content-Length, "
        "`ETag` (its SHA-256), `Accept-Ranges: bytes` and a Content-Disposition: attachment "
        "filename"
    },
    206: {
        "description": "The one range asked for (`Range: bytes=a-b`, `bytes=a-`, `bytes=-n`), "
        "with `Content-Range: bytes a-b/size` and its Content-Length"
    },
    **error_responses(416),
}


def content_disposition(name: str) -> str:
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    encoded = urllib.parse.quote(name, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


async def wanted_range(
    range_: Annotated[
        str | None,
        Header(
            alias="Range",
            description="One byte range, `bytes=a-b`, `bytes=a-` or `bytes=-n`: answered 206; "
            "past the end 416; several ranges or a malformed one are ignored (200, the whole)",
        ),
    ] = None,
    if_range: Annotated[
        str | None,
        Header(
            alias="If-Range",
            description="The `ETag` of an earlier answer: the range is answered only if the "
            "file is still that one, else the whole file",
        ),
    ] = None,
) -> Wanted:
    return Wanted(range_, if_range)


WantedDep = Annotated[Wanted, Depends(wanted_range)]


async def _stream(source: ByteSource, start: int, length: int) -> AsyncIterator[bytes]:
    try:
        async for chunk in source.read(start, length):
            yield chunk
    finally:
        source.close()


def download(
    source: ByteSource,
    name: str,
    media_type: str,
    *,
    span: Span | None = None,
    etag: str | None = None,
    ranges: bool = True,
) -> StreamingResponse:
    """`span` (206) or the whole of `source` (200). `ranges` says whether the route answers a
    Range at all (`Accept-Ranges: bytes`, else `none`)."""
    headers = {
        "content-disposition": content_disposition(name),
        "x-content-type-options": "nosniff",
        "accept-ranges": "bytes" if ranges else "none",
    }
    if etag is not None:
        headers["etag"] = etag
    if span is None:
        start, length, status = 0, source.size, 200
    else:
        start, length, status = span.start, span.length, 206
        headers["content-range"] = span.content_range
    headers["content-length"] = str(length)
    return StreamingResponse(
        _stream(source, start, length), status_code=status, media_type=media_type, headers=headers
    )
