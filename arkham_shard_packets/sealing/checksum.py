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

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ..core.canonical import canonical_json, sha256_hex
from ..models import ContentType, PacketVisibility

RECIPE_VERSION = 1

Record = Mapping[str, Any]


def data_sha256(data: Any) -> str | None:
    return None if data is None else sha256_hex(canonical_json(data))


def _decoded(value: Any) -> Any:
    """Stored rows keep JSON objects as text; records (snapshots, bundles) hold them decoded.
    Both mean the same object, so both give the same digest."""
    return json.loads(value) if isinstance(value, str) else value


def content_entry(record: Record) -> dict[str, Any]:
    """One content item as the recipe sees it, from a content row or content record (the
    row's columns by name: content_type, content_id, content_title, order_num, data, ...).

    This is the one place that turns an item into checksum input: finalize and verify hand
    it rows and snapshot records, export, import and the CLI item objects (`item_as_row`).
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


# The content columns the recipe reads, by the names `content_entry` reads them.
ITEM_FIELDS = ("content_type", "content_id", "content_title", "order_num", "data", "file_sha256")


class SealedFile(Protocol):
    @property
    def sha256(self) -> str: ...


class SealedItem(Protocol):
    """A content item held as an object: a `PacketContent`, or a bundle's `BundleItem`."""

    @property
    def content_type(self) -> ContentType: ...
    @property
    def content_id(self) -> str: ...
    @property
    def content_title(self) -> str: ...
    @property
    def order(self) -> int: ...
    @property
    def data(self) -> dict[str, Any] | None: ...
    @property
    def file(self) -> SealedFile | None: ...


class SealedPacket(Protocol):
    """A packet held as an object: a `Packet`, or a bundle's `BundlePacket`."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def visibility(self) -> PacketVisibility: ...
    @property
    def metadata(self) -> dict[str, Any]: ...


def item_as_row(item: SealedItem) -> dict[str, Any]:
    """An item object as its stored row names it, so it meets the recipe through
    `content_entry` exactly as a row or a snapshot record does."""
    return {
        "content_type": item.content_type.value,
        "content_id": item.content_id,
        "content_title": item.content_title,
        "order_num": item.order,
        "data": item.data,
        "file_sha256": None if item.file is None else item.file.sha256,
    }


def packet_as_row(packet: SealedPacket) -> dict[str, Any]:
    return {
        "name": packet.name,
        "description": packet.description,
        "visibility": packet.visibility.value,
        "metadata": packet.metadata,
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


def checksum_of_entries(packet: Record, encoded_entries: list[str]) -> str:
    """Recipe 1 from the items' entries already made, sorted and each in canonical JSON
    (`content_entry`, `content_sort_key`): finalize encodes them once for the checksum and the
    items root. The document is the canonical JSON `_recipe_v1` hashes, put together from its
    members in key order."""
    document = checksum_document(packet, ())
    members = (
        canonical_json(key)
        + ":"
        + ("[" + ",".join(encoded_entries) + "]" if key == "contents" else canonical_json(value))
        for key, value in sorted(document.items())
    )
    return sha256_hex("{" + ",".join(members) + "}")


RECIPES: dict[int, Callable[[Record, Iterable[Record]], str]] = {1: _recipe_v1}


def packet_checksum(
    packet: Record, contents: Iterable[Record], recipe: int = RECIPE_VERSION
) -> str:
    """From the packet's row or record and its content rows or records. Raises KeyError for a
    recipe this code does not know."""
    return RECIPES[recipe](packet, contents)


def checksum_of(packet: SealedPacket, items: Iterable[SealedItem]) -> str:
    """From a packet and its items held as objects (the domain's records, a bundle's)."""
    return packet_checksum(packet_as_row(packet), [item_as_row(item) for item in items])
