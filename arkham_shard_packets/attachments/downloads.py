"""Streaming a stored file as a download: its media type, length and filename."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi.responses import StreamingResponse

from ..core.store import Reader

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


def download(handle: Reader, name: str, media_type: str, size: int) -> StreamingResponse:
    return StreamingResponse(
        handle.chunks(),
        media_type=media_type,
        headers={
            "content-disposition": content_disposition(name),
            "content-length": str(size),
            "x-content-type-options": "nosniff",
        },
    )
