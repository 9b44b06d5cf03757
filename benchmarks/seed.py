"""Filling the shard's own tables fast, with bulk inserts instead of one HTTP call per row.

Rows look like the ones the API writes: UUID4 ids, ISO 8601 UTC timestamps, contents whose count
and JSON size are reflected in their packet, a version row per recorded version (1 on
creation, 2 on finalize), and a share for each shared packet (some open, some expired, some
expiring later). The mix of statuses, visibilities, owners and
content types is fixed by a seeded random generator, so two runs seed the same data.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from arkham_shard_packets.core.canonical import canonical_json
from arkham_shard_packets.core.clock import to_text
from arkham_shard_packets.db.tables import packet_contents, packet_shares, packet_versions, packets
from arkham_shard_packets.models import ContentType, PacketStatus, PacketVisibility, VersionKind
from arkham_shard_packets.records.packets import stored_size

BATCH_PACKETS = 2_000
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
STEP = timedelta(seconds=30)

# A term that only a few packets carry (in their name), however many packets there are: the
# kind of search an analyst runs for a case name.
NEEDLE = "zanzibar"
NEEDLE_EVERY, NEEDLE_MAX = 20, 20  # all 20 within the first 400: as many at every size
# The same, carried by one item of a few packets (in its title, or its content id), for a
# search that finds packets by their items.
ITEM_NEEDLE = "kestrel"
ITEM_NEEDLE_AT = 13

STATUSES = [
    (PacketStatus.DRAFT, 60),
    (PacketStatus.FINALIZED, 25),
    (PacketStatus.SHARED, 10),
    (PacketStatus.ARCHIVED, 5),
]
VISIBILITIES = [
    (PacketVisibility.PRIVATE, 60),
    (PacketVisibility.TEAM, 30),
    (PacketVisibility.PUBLIC, 10),
]
OWNERS = [f"analyst-{n:02d}" for n in range(20)]
WORDS = [
    "harbor",
    "ledger",
    "shipment",
    "offshore",
    "account",
    "transfer",
    "invoice",
    "vessel",
    "customs",
    "broker",
    "manifest",
    "witness",
    "deposition",
    "contract",
    "subsidiary",
    "director",
    "payment",
    "wire",
    "route",
    "cargo",
    "registry",
    "permit",
    "audit",
    "memo",
    "email",
    "call",
    "record",
    "meeting",
    "timeline",
    "claim",
    "source",
    "lead",
    "tip",
    "filing",
    "court",
]


def is_needle(seq: int, at: int = 7) -> bool:
    return seq % NEEDLE_EVERY == at and seq // NEEDLE_EVERY < NEEDLE_MAX


def thread_item_needle(seq: int, items: list[dict[str, Any]]) -> None:
    """The item needle into the first item of the packets that carry it."""
    if not items or not is_needle(seq, ITEM_NEEDLE_AT):
        return
    field = "content_title" if seq // NEEDLE_EVERY % 2 else "content_id"
    items[0][field] = f"{ITEM_NEEDLE.title()}-{items[0][field]}"


def pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    return rng.choices([value for value, _ in weighted], [w for _, w in weighted])[0]


@dataclass
class Seeder:
    engine: AsyncEngine
    items_per_packet: int
    seed: int = 7

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(packets))).scalar_one()

    async def grow_to(self, total: int) -> int:
        """Adds packets until there are `total`; returns how many were added."""
        start = await self.count()
        for first in range(start, total, BATCH_PACKETS):
            rows = self.batch(first, min(total, first + BATCH_PACKETS))
            async with self.engine.begin() as conn:
                for table in (packets, packet_contents, packet_versions, packet_shares):
                    if rows[table.name]:
                        await conn.execute(insert(table), rows[table.name])
        return max(0, total - start)

    def batch(self, first: int, end: int) -> dict[str, list[dict[str, Any]]]:
        rng = random.Random(f"{self.seed}-{first}")
        rows: dict[str, list[dict[str, Any]]] = {
            table.name: [] for table in (packets, packet_contents, packet_versions, packet_shares)
        }
        packet_rows, content_rows = rows[packets.name], rows[packet_contents.name]
        for seq in range(first, end):
            packet_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            created = START + STEP * seq
            items = self.items(rng, packet_id, to_text(created))
            thread_item_needle(seq, items)
            content_rows += items
            status = pick(rng, STATUSES)
            words = rng.sample(WORDS, 3)
            name = f"{words[0].title()} {words[1]} {seq}"
            if is_needle(seq):
                name = f"{NEEDLE.title()} {name}"
            packet_rows.append(
                {
                    "id": packet_id,
                    "name": name,
                    "description": " ".join(rng.choices(WORDS, k=16)),
                    "status": status.value,
                    "visibility": pick(rng, VISIBILITIES).value,
                    "created_by": rng.choice(OWNERS),
                    "created_at": to_text(created),
                    "updated_at": to_text(created + timedelta(seconds=rng.randrange(3600))),
                    "version": 1,
                    "contents_count": len(items),
                    "size_bytes": sum(len(item["data"] or "") for item in items),
                    "checksum": None if status is PacketStatus.DRAFT else f"{seq:064x}",
                    "metadata": "{}",
                    "tenant_id": None,
                }
            )
            rows[packet_versions.name] += versions(rng, packet_id, status, created)
            if status is PacketStatus.SHARED:
                rows[packet_shares.name].append(share(rng, packet_id, seq, created))
        return rows

    def items(self, rng: random.Random, packet_id: str, added_at: str) -> list[dict[str, Any]]:
        spread = max(1, self.items_per_packet // 2)
        count = max(0, self.items_per_packet + rng.randint(-spread, spread))
        return content_rows(rng, packet_id, added_at, count)

    async def fill(self, packet_ids: list[str], count: int) -> None:
        """Gives each packet (new and empty) the same `count` items, and the counters the API
        would have left: `contents_count` and `size_bytes`."""
        added_at = to_text(START)
        for packet_id in packet_ids:
            rows = content_rows(random.Random(f"{self.seed}-fill"), packet_id, added_at, count)
            for row in rows:  # same items, rows of their own
                row["id"] = str(uuid.uuid4())
            async with self.engine.begin() as conn:
                await conn.execute(insert(packet_contents), rows)
                await conn.execute(
                    update(packets)
                    .where(packets.c.id == packet_id)
                    .values(
                        contents_count=len(rows),
                        size_bytes=sum(stored_size(row) for row in rows),
                    )
                )


def content_rows(
    rng: random.Random, packet_id: str, added_at: str, count: int
) -> list[dict[str, Any]]:
    """`count` items of one packet; three in ten carry data."""
    rows = []
    for order in range(count):
        kind = rng.choice(list(ContentType))
        data = None
        if rng.random() < 0.3:
            data = canonical_json({"page": rng.randrange(1, 400), "note": rng.choice(WORDS)})
        rows.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "packet_id": packet_id,
                "content_type": kind.value,
                "content_id": f"{kind.value}-{order}-{rng.randrange(10**6)}",
                "content_title": " ".join(rng.choices(WORDS, k=4)),
                "added_at": added_at,
                "added_by": "system",
                "order_num": order,
                "data": data,
                "tenant_id": None,
            }
        )
    return rows


def versions(
    rng: random.Random, packet_id: str, status: PacketStatus, created: datetime
) -> list[dict[str, Any]]:
    recorded = [(VersionKind.CREATED, "created")]
    if status is not PacketStatus.DRAFT:
        recorded.append((VersionKind.FINALIZED, "finalized"))
    return [
        {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "packet_id": packet_id,
            "version_number": number,
            "created_at": to_text(created + timedelta(seconds=number)),
            "changes_summary": summary,
            "kind": kind.value,
            "tenant_id": None,
        }
        for number, (kind, summary) in enumerate(recorded, start=1)
    ]


def share(rng: random.Random, packet_id: str, seq: int, created: datetime) -> dict[str, Any]:
    """Every third share never expires; the others expired long ago or expire in a year."""
    expires = [None, created + timedelta(days=7), datetime.now(timezone.utc) + timedelta(days=365)]
    expires_at = expires[seq % 3]
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "packet_id": packet_id,
        "shared_with": rng.choice(OWNERS),
        "permissions": "view",
        "shared_at": to_text(created),
        "expires_at": None if expires_at is None else to_text(expires_at),
        "access_token": f"{rng.getrandbits(256):064x}",
        "shared_by": rng.choice(OWNERS),
        "tenant_id": None,
    }
