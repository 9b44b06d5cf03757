"""Where versions, files and bundles meet: history keeps its files, a sealed packet exports
its frozen snapshot, and an imported seal keeps verifying."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from arkham_shard_packets.db.tables import packet_versions, snapshot_files

from .bundle_helpers import assert_same_but_custody, attach, export, packet_with_files
from .conftest import add_item, make_packet
from .test_attachments import blobs
from .test_import import forget


async def test_a_versioned_file_outlives_its_replacement(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    entry = await add_item(client, pid)
    await attach(client, pid, entry["id"], b"the scan as first received")
    await client.post(f"/api/packets/{pid}/versions", json={"changes_summary": "scan in"})
    await attach(client, pid, entry["id"], b"a later scan")
    kept = {key.rsplit("/", 1)[1] for key in await blobs(app)}
    assert hashlib.sha256(b"the scan as first received").hexdigest() in kept

    restored = await client.post(f"/api/packets/{pid}/versions/2/restore")
    assert restored.status_code == 200, restored.text
    back = await client.get(f"/api/packets/{pid}/contents/{entry['id']}/file")
    assert back.content == b"the scan as first received"
    assert (await client.get(f"/api/packets/{pid}")).json()["size_bytes"] == len(back.content)


async def test_an_unversioned_replaced_file_is_released(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"])
    await attach(client, packet["id"], entry["id"], b"draft only")
    await attach(client, packet["id"], entry["id"], b"replacement")
    digest = hashlib.sha256(b"replacement").hexdigest()
    assert await blobs(app) == [f"files/{digest[:2]}/{digest}"]


async def test_a_sealed_packet_exports_its_seal_however_its_history_grows(
    client: httpx.AsyncClient,
) -> None:
    packet = await packet_with_files(client)
    pid = packet["id"]
    sealed = (await client.post(f"/api/packets/{pid}/finalize")).json()
    _, first = await export(client, pid)
    await client.post(f"/api/packets/{pid}/versions", json={"changes_summary": "after the seal"})
    assert (await client.get(f"/api/packets/{pid}")).json()["version"] == sealed["version"] + 1
    _, second = await export(client, pid)
    assert_same_but_custody(first, second, "zip")


async def test_a_sealed_version_names_its_files(client: httpx.AsyncClient, engine: Any) -> None:
    """Finalize writes the references of its snapshot with its event (on PostgreSQL, one
    statement whatever their number): the sealed version keeps its files."""
    packet = await packet_with_files(client)
    pid = packet["id"]
    sealed = (await client.post(f"/api/packets/{pid}/finalize")).json()
    files = (await client.get(f"/api/packets/{pid}/contents")).json()
    expected = {item["file"]["sha256"] for item in files if item.get("file")}
    version = select(packet_versions.c.snapshot_path).where(
        packet_versions.c.packet_id == pid,
        packet_versions.c.version_number == sealed["version"],
    )
    async with engine.connect() as conn:
        path = (await conn.execute(version)).scalar_one()
        named = select(snapshot_files.c.file_sha256).where(
            snapshot_files.c.snapshot_digest == path.removeprefix("sha256:")
        )
        referenced = set((await conn.execute(named)).scalars())
    assert len(expected) == 2 and referenced == expected


async def test_an_imported_seal_verifies_and_keeps_its_version(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet = await packet_with_files(client)
    pid = packet["id"]
    sealed = (await client.post(f"/api/packets/{pid}/finalize")).json()
    _, archive = await export(client, pid)
    await forget(client, app, pid)

    response = await client.post(
        "/api/packets/import", files={"file": ("bundle.zip", io.BytesIO(archive))}
    )
    assert response.status_code == 201, response.text
    assert response.json()["verified"] is True
    verify = (await client.get(f"/api/packets/{pid}/verify")).json()
    assert verify["valid"] is True, verify["problems"]
    versions = (await client.get(f"/api/packets/{pid}/versions")).json()
    assert [(v["version_number"], v["kind"]) for v in versions] == [
        (sealed["version"], "finalized")
    ]
    _, again = await export(client, pid)
    assert_same_but_custody(archive, again, "zip")
