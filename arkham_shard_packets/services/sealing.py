"""Domain records in, checksum recipe (services/checksum.py) out: one mapping for finalize,
export and import, so the three can never disagree on what is sealed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..models import Packet, PacketContent
from .checksum import canonical_json, packet_checksum, sha256_hex


def data_sha256(data: dict[str, Any] | None) -> str | None:
    return None if data is None else sha256_hex(canonical_json(data))


def recipe_packet(packet: Packet) -> dict[str, Any]:
    return {
        "name": packet.name,
        "description": packet.description,
        "visibility": packet.visibility.value,
        "metadata": packet.metadata,
    }


def recipe_item(item: PacketContent) -> dict[str, Any]:
    return {
        "content_type": item.content_type.value,
        "content_id": item.content_id,
        "content_title": item.content_title,
        "order": item.order,
        "data_sha256": data_sha256(item.data),
        "file_sha256": None if item.file is None else item.file.sha256,
    }


def checksum_of(packet: Packet, contents: Iterable[PacketContent]) -> str:
    return packet_checksum(recipe_packet(packet), [recipe_item(item) for item in contents])
