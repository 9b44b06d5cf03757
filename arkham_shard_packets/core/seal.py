"""The packet checksum: SHA-256 over one canonical JSON serialization of the packet's content.

Recipe version 1, documented in the README ("Checksum recipe") so anyone can recompute it:
  {"name", "description", "visibility", "metadata",
   "contents": [{"content_type", "content_id", "content_title", "order",
                 "data_sha256", "file_sha256"}, ...]}
  contents sorted by (order, content_type, content_id); content_title null counts as "";
  data_sha256 is the SHA-256 of the item's data in canonical JSON (null when there is none),
  file_sha256 that of its attached file (null when there is none); canonical JSON = sorted
  keys, separators "," and ":", UTF-8, no ASCII escaping.

A published recipe never changes: a new one gets a new number, every stored checksum carries
the number of the recipe that made it, and `RECIPES` keeps every published recipe.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

RECIPE_VERSION = 1

Record = Mapping[str, Any]


# One encoder for every call: json.dumps with options builds a new one each time.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def sha256_hex(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def data_sha256(data: Any) -> str | None:
    return None if data is None else sha256_hex(canonical_json(data))


def _decoded(value: Any) -> Any:
    """Stored rows keep JSON objects as text; records (snapshots, bundles) hold them decoded.
    Both mean the same object, so both give the same digest."""
    return json.loads(value) if isinstance(value, str) else value


def content_entry(record: Record) -> dict[str, Any]:
    """One content item as the recipe sees it, from a content row or content record (the
    row's columns by name: content_type, content_id, content_title, order_num, data, ...).

    This is the one place that turns stored content into checksum input.
    """
    return {
        "content_type": record["content_type"],
        "content_id": record["content_id"],
        "content_title": record.get("content_title") or "",
        "order": int(record["order_num"]),
        "data_sha256": data_sha256(_decoded(record.get("data"))),
        # The attachment's digest: null until the item has an attached file.
        "file_sha256": record.get("file_sha256"),
    }


def packet_fields(
    name: str, description: str, visibility: str, metadata: dict[str, Any]
) -> dict[str, Any]:
    """The packet's part of the recipe, given by its parts."""
    return {
        "name": name,
        "description": description,
        "visibility": visibility,
        "metadata": metadata,
    }


# The content columns the recipe reads, by the names `content_entry` reads them.
ITEM_FIELDS = ("content_type", "content_id", "content_title", "order_num", "data", "file_sha256")


def item_record(
    content_type: str,
    content_id: str,
    content_title: str | None,
    order: int,
    data: Any,
    file_sha256: str | None,
) -> dict[str, Any]:
    """A content item given by its parts, in the shape `content_entry` reads."""
    return {
        "content_type": content_type,
        "content_id": content_id,
        "content_title": content_title,
        "order_num": order,
        "data": data,
        "file_sha256": file_sha256,
    }


def content_sort_key(entry: Mapping[str, Any]) -> tuple[int, str, str]:
    return (int(entry["order"]), str(entry["content_type"]), str(entry["content_id"]))


def checksum_document(packet: Record, contents: Iterable[Record]) -> dict[str, Any]:
    """The recipe's input, from the packet's row or record and its content rows or records."""
    entries = sorted((content_entry(record) for record in contents), key=content_sort_key)
    return {
        "name": packet["name"],
        "description": packet["description"],
        "visibility": packet["visibility"],
        "metadata": _decoded(packet["metadata"]),
        "contents": entries,
    }


def _recipe_v1(packet: Record, contents: Iterable[Record]) -> str:
    return sha256_hex(canonical_json(checksum_document(packet, contents)))


RECIPES: dict[int, Callable[[Record, Iterable[Record]], str]] = {1: _recipe_v1}


def packet_checksum(
    packet: Record, contents: Iterable[Record], recipe: int = RECIPE_VERSION
) -> str:
    """Raises KeyError for a recipe this code does not know."""
    return RECIPES[recipe](packet, contents)
