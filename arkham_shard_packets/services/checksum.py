"""The packet checksum: SHA-256 over one canonical JSON serialization of the packet's content.

Recipe (version 1), documented in the README so anyone can recompute it:
  {"name", "description", "visibility", "metadata",
   "contents": [{"content_type", "content_id", "content_title", "order",
                 "data_sha256", "file_sha256"}, ...]}
  contents sorted by (order, content_type, content_id); data_sha256 is the SHA-256 of the
  item's data in the same canonical JSON, file_sha256 that of its attached file (null when
  absent); canonical JSON = sorted keys, separators "," and ":", UTF-8, no ASCII escaping.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

RECIPE_VERSION = 1


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def content_sort_key(item: Mapping[str, Any]) -> tuple[int, str, str]:
    return (int(item["order"]), str(item["content_type"]), str(item["content_id"]))


def checksum_document(
    packet: Mapping[str, Any], contents: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """`packet` has name, description, visibility, metadata; each content item has
    content_type, content_id, content_title, order, data_sha256 and file_sha256."""
    items = sorted(contents, key=content_sort_key)
    return {
        "name": packet["name"],
        "description": packet["description"],
        "visibility": packet["visibility"],
        "metadata": packet["metadata"],
        "contents": [
            {
                "content_type": item["content_type"],
                "content_id": item["content_id"],
                "content_title": item["content_title"] or "",
                "order": int(item["order"]),
                "data_sha256": item.get("data_sha256"),
                "file_sha256": item.get("file_sha256"),
            }
            for item in items
        ],
    }


def packet_checksum(packet: Mapping[str, Any], contents: Iterable[Mapping[str, Any]]) -> str:
    return sha256_hex(canonical_json(checksum_document(packet, contents)))
