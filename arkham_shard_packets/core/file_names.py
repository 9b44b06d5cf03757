"""What an attached file is called and what kind it is, cleaned of anything a path, a
header or a terminal must not see: for uploads, imported bundles and files fetched from the
Frame alike."""

from __future__ import annotations

import re
import unicodedata

MEDIA_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)
FALLBACK_MEDIA_TYPE = "application/octet-stream"
NAME_MAX = 255


def clean_file_name(name: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    base = base.lstrip(".") or "file"
    return base[:NAME_MAX]


def clean_media_type(value: str | None) -> str:
    kind = (value or "").split(";")[0].strip().lower()
    return kind if MEDIA_TYPE.match(kind) else FALLBACK_MEDIA_TYPE
