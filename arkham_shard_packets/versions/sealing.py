"""Domain records in, checksum recipe (core/seal.py) out: one mapping for finalize,
export and import, so the three can never disagree on what is sealed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.seal import data_sha256, item_record, packet_checksum, packet_fields
from ..models import Packet, PacketContent

__all__ = ["checksum_of", "data_sha256", "recipe_item", "recipe_packet"]


def recipe_packet(packet: Packet) -> dict[str, Any]:
    return packet_fields(packet.name, packet.description, packet.visibility.value, packet.metadata)


def recipe_item(item: PacketContent) -> dict[str, Any]:
    return item_record(
        item.content_type.value,
        item.content_id,
        item.content_title,
        item.order,
        item.data,
        None if item.file is None else item.file.sha256,
    )


def checksum_of(packet: Packet, contents: Iterable[PacketContent]) -> str:
    return packet_checksum(recipe_packet(packet), [recipe_item(item) for item in contents])
