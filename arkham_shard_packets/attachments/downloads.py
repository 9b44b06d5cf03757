"""Streaming a file from disk as a download: its media type, length and filename."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

from fastapi.responses import StreamingResponse

CHUNK = 256 * 1024
# What a file download answers, for OpenAPI (the media type is the file's own, any at all).
FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, streamed, with its media type, Content-Length and "
        "a Content-Disposition: attachment filename"
    }
}


def content_disposition(name: str) -> str:
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    encoded = urllib.parse.quote(name, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        handle.close()


def download(handle: BinaryIO, name: str, media_type: str, size: int) -> StreamingResponse:
    return StreamingResponse(
        _chunks(handle),
        media_type=media_type,
        headers={
            "content-disposition": content_disposition(name),
            "content-length": str(size),
            "x-content-type-options": "nosniff",
        },
    )
