"""One checksum adapter: finalize, verify, export, import and the CLI all reach the recipe
through `sealing.checksum.content_entry`, and every shape an item is held in (a stored row, a
snapshot record, a `PacketContent`, a bundle's `BundleItem`) gives it the same input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from arkham_shard_packets.bundles.format.limits import ImportLimits
from arkham_shard_packets.bundles.format.verify import open_bundle
from arkham_shard_packets.db.scope import Scope
from arkham_shard_packets.db.tables import packet_contents
from arkham_shard_packets.sealing.checksum import checksum_of, content_entry, item_as_row

from .bundle_helpers import attach, export
from .conftest import add_item, make_packet


async def tricky_sealed_packet(client: httpx.AsyncClient) -> dict[str, Any]:
    """Items that exercise every field the recipe reads: no title, non-ASCII data, no data,
    a file, and equal orders that only the type and id put in order."""
    packet = await make_packet(client, "Ümlaut ✓", metadata={"b": [1, "déjà"], "a": None})
    pid = packet["id"]
    first = await add_item(client, pid, "z-1", "claim", order=3, data={"ß": "ünïcode", "n": 1.5})
    await add_item(client, pid, "a-1", "claim", order=3, content_title="")
    await add_item(client, pid, "m-1", "document", order=0, content_title="Memo")
    assert (await attach(client, pid, first["id"], b"evidence " * 100)).status_code == 200
    sealed = await client.post(f"/api/packets/{pid}/finalize")
    assert sealed.status_code == 200, sealed.text
    body: dict[str, Any] = sealed.json()
    return body


async def test_every_path_gives_the_sealed_checksum(
    client: httpx.AsyncClient, app: FastAPI, engine: Any, tmp_path: Path
) -> None:
    sealed = await tricky_sealed_packet(client)
    pid, checksum = sealed["id"], sealed["checksum"]
    services = app.state.packets_shard.services

    report = (await client.get(f"/api/packets/{pid}/verify")).json()  # rows and snapshot
    assert report["valid"] is True, report["problems"]
    assert report["computed"] == report["snapshot_computed"] == checksum

    packet = await services.packets.get(Scope(), pid)  # export's and import's objects
    items, _ = await services.contents.list(Scope(), pid)
    assert checksum_of(packet, items) == checksum

    _, archive = await export(client, pid)  # what the CLI's verify and every import read
    bundle_path = tmp_path / "sealed.zip"
    bundle_path.write_bytes(archive)
    (tmp_path / "work").mkdir()
    bundle = open_bundle(bundle_path, tmp_path / "work", ImportLimits())
    assert bundle.checksum == checksum
    assert bundle.sealed

    async with engine.connect() as conn:
        rows = (
            (await conn.execute(select(packet_contents).where(packet_contents.c.packet_id == pid)))
            .mappings()
            .all()
        )
    from_rows = {(row["content_type"], row["content_id"]): content_entry(row) for row in rows}
    from_items = {
        (item.content_type.value, item.content_id): content_entry(item_as_row(item))
        for item in items
    }
    from_bundle = {
        (item.content_type.value, item.content_id): content_entry(item_as_row(item))
        for item in bundle.document.contents
    }
    assert from_rows == from_items == from_bundle
    assert from_rows[("claim", "a-1")]["content_title"] == ""
    assert from_rows[("claim", "z-1")]["file_sha256"] is not None
