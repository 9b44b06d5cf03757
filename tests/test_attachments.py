"""Files attached to content items: upload, download, deduplication, limits, release."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from arkham_shard_packets.db.tables import packet_files

from .bundle_helpers import attach, leftover_files
from .conftest import add_item, make_packet, packet_events
from .frame_users import Users
from .stored import stored_keys


async def blobs(app: FastAPI) -> list[str]:
    """The attached files the app's store holds, by key (`files/<aa>/<sha256>`)."""
    return await stored_keys(app, "files/")


def spools(app: FastAPI) -> list[Path]:
    """What is left where uploads are spooled."""
    return leftover_files(app.state.packets_shard.services.files.staging)


async def test_upload_then_download(client: httpx.AsyncClient, app: FastAPI) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"], "doc-1", data={"k": "v"})
    content = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
    response = await attach(
        client, packet["id"], entry["id"], content, "../../etc/scan.png", "image/png"
    )
    assert response.status_code == 200, response.text
    item = response.json()
    digest = hashlib.sha256(content).hexdigest()
    assert item["file"] == {
        "name": "scan.png",
        "media_type": "image/png",
        "size": len(content),
        "sha256": digest,
    }
    assert await blobs(app) == [f"files/{digest[:2]}/{digest}"]

    got = await client.get(f"/api/packets/{packet['id']}/contents/{entry['id']}/file")
    assert got.status_code == 200
    assert got.content == content
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-length"] == str(len(content))
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"scan.png\"; filename*=UTF-8''scan.png"
    )
    assert got.headers["x-content-type-options"] == "nosniff"

    fetched = (await client.get(f"/api/packets/{packet['id']}")).json()
    data_size = len('{"k":"v"}')
    assert fetched["size_bytes"] == data_size + len(content)
    listed = (await client.get(f"/api/packets/{packet['id']}/contents")).json()
    assert listed[0]["file"]["sha256"] == digest
    events = await packet_events(client, "packets.packet.updated")
    assert events[0]["payload"]["changes"] == ["file"]


async def test_unicode_name_and_unknown_media_type(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"])
    response = await attach(client, packet["id"], entry["id"], b"x", "Überweisung €.txt", "bogus")
    assert response.json()["file"]["media_type"] == "application/octet-stream"
    got = await client.get(f"/api/packets/{packet['id']}/contents/{entry['id']}/file")
    assert got.headers["content-disposition"] == (
        'attachment; filename="_berweisung _.txt"; '
        "filename*=UTF-8''%C3%9Cberweisung%20%E2%82%AC.txt"
    )


async def test_same_bytes_are_stored_once(
    client: httpx.AsyncClient, app: FastAPI, engine: Any
) -> None:
    content = b"the same scan" * 100
    first, second = await make_packet(client, "A"), await make_packet(client, "B")
    entries = [
        await add_item(client, first["id"], "d1"),
        await add_item(client, first["id"], "d2"),
    ]
    other = await add_item(client, second["id"], "d1")
    for pid, entry in [(first["id"], entries[0]), (first["id"], entries[1]), (second["id"], other)]:
        assert (await attach(client, pid, entry["id"], content)).status_code == 200
    assert len(await blobs(app)) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(packet_files))).scalar() == 1

    # removing two of the three items keeps the blob; removing the last one releases it
    await client.delete(f"/api/packets/{first['id']}/contents/{entries[0]['id']}")
    await client.delete(f"/api/packets/{first['id']}/contents/{entries[1]['id']}")
    assert len(await blobs(app)) == 1
    await client.delete(f"/api/packets/{second['id']}/contents/{other['id']}")
    assert await blobs(app) == []
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(packet_files))).scalar() == 0


async def test_replacing_a_file_releases_the_old_blob(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"])
    await attach(client, packet["id"], entry["id"], b"first version" * 10)
    response = await attach(client, packet["id"], entry["id"], b"second", "v2.txt", "text/plain")
    assert response.json()["file"]["name"] == "v2.txt"
    digest = hashlib.sha256(b"second").hexdigest()
    assert [key.rsplit("/", 1)[1] for key in await blobs(app)] == [digest]
    assert (await client.get(f"/api/packets/{packet['id']}")).json()["size_bytes"] == 6
    got = await client.get(f"/api/packets/{packet['id']}/contents/{entry['id']}/file")
    assert got.content == b"second"


async def test_the_file_is_part_of_the_checksum(client: httpx.AsyncClient) -> None:
    checksums = []
    for content in (b"one", b"two"):
        packet = await make_packet(client, "Same")
        entry = await add_item(client, packet["id"], "d1")
        await attach(client, packet["id"], entry["id"], content, "same.txt", "text/plain")
        finalized = await client.post(f"/api/packets/{packet['id']}/finalize")
        checksums.append(finalized.json()["checksum"])
    assert checksums[0] != checksums[1]


async def test_only_a_draft_takes_a_file(client: httpx.AsyncClient, app: FastAPI) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"])
    await client.post(f"/api/packets/{packet['id']}/finalize")
    response = await attach(client, packet["id"], entry["id"], b"late")
    assert response.status_code == 409
    assert "only a draft" in response.json()["detail"]
    assert await blobs(app) == []
    assert spools(app) == []


async def test_missing_things_are_404(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"])
    path = f"/api/packets/{packet['id']}/contents/{entry['id']}/file"
    got = await client.get(path)
    assert got.status_code == 404
    assert "has no attached file" in got.json()["detail"]
    assert (await attach(client, packet["id"], "nope", b"x")).status_code == 404
    assert (await attach(client, "nope", entry["id"], b"x")).status_code == 404
    assert (await client.get(f"/api/packets/nope/contents/{entry['id']}/file")).status_code == 404


async def test_a_form_without_the_file_field_is_422(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"])
    path = f"/api/packets/{packet['id']}/contents/{entry['id']}/file"
    wrong_field = await client.put(path, files={"other": ("a.txt", b"x", "text/plain")})
    assert wrong_field.status_code == 422
    assert "'file'" in wrong_field.json()["detail"]
    not_multipart = await client.put(path, content=b"raw", headers={"content-type": "text/plain"})
    assert not_multipart.status_code == 422


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_MAX_FILE_BYTES", "1000")


async def test_over_the_limit_is_413_and_leaves_nothing(
    small_limit: None, client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"])
    response = await attach(client, packet["id"], entry["id"], b"x" * 1001)
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]

    async def chunked() -> Any:  # no Content-Length: the limit holds while streaming
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        for _ in range(20):
            yield b"y" * 100
        yield b"\r\n--b--\r\n"

    streamed = await client.put(
        f"/api/packets/{packet['id']}/contents/{entry['id']}/file",
        content=chunked(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413
    assert await blobs(app) == [] and spools(app) == []
    item = (await client.get(f"/api/packets/{packet['id']}/contents")).json()[0]
    assert item["file"] is None
    assert (await attach(client, packet["id"], entry["id"], b"x" * 1000)).status_code == 200


async def test_an_upload_is_streamed_not_held(client: httpx.AsyncClient, tmp_path: Path) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"])
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        for _ in range(24):
            handle.write(os.urandom(1024 * 1024))
    tracemalloc.start()
    try:
        with big.open("rb") as handle:
            response = await client.put(
                f"/api/packets/{packet['id']}/contents/{entry['id']}/file",
                files={"file": ("big.bin", handle, "application/octet-stream")},
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text
    assert response.json()["file"]["size"] == 24 * 1024 * 1024
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes for a 24 MiB upload"


async def test_files_and_exports_stay_within_their_tenant(
    client: httpx.AsyncClient, users: Users
) -> None:
    mine = users.headers("7c0f3a0e-0000-4000-8000-00000000000a")
    theirs = users.headers("7c0f3a0e-0000-4000-8000-00000000000b")
    packet = (await client.post("/api/packets/", json={"name": "A"}, headers=mine)).json()
    entry = (
        await client.post(
            f"/api/packets/{packet['id']}/contents",
            json={"content_type": "document", "content_id": "d1"},
            headers=mine,
        )
    ).json()
    path = f"/api/packets/{packet['id']}/contents/{entry['id']}/file"
    upload = {"file": ("a.txt", b"secret", "text/plain")}
    assert (await client.put(path, files=upload, headers=theirs)).status_code == 404
    assert (await client.put(path, files=upload, headers=mine)).status_code == 200
    assert (await client.get(path, headers=theirs)).status_code == 404
    assert (await client.get(path, headers=mine)).content == b"secret"
    exported = await client.post(f"/api/packets/{packet['id']}/export", headers=mine)
    url = exported.json()["download_url"]
    assert (await client.get(url, headers=theirs)).status_code == 404
    assert (await client.get(url, headers=mine)).status_code == 200
    assert (
        await client.post(f"/api/packets/{packet['id']}/export", headers=theirs)
    ).status_code == 404


async def test_concurrent_attach_and_release_never_lose_a_blob(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    import asyncio

    content = b"shared evidence" * 1000
    packet = await make_packet(client)
    pid = packet["id"]
    old = [await add_item(client, pid, f"old-{n}") for n in range(4)]
    new = [await add_item(client, pid, f"new-{n}") for n in range(6)]
    for entry in old:
        await attach(client, pid, entry["id"], content)

    async def remove(entry: Any) -> int:
        return (await client.delete(f"/api/packets/{pid}/contents/{entry['id']}")).status_code

    async def add(entry: Any) -> int:
        return (await attach(client, pid, entry["id"], content)).status_code

    results = await asyncio.gather(*[remove(e) for e in old], *[add(e) for e in new])
    assert results == [204] * 4 + [200] * 6
    assert len(await blobs(app)) == 1
    for entry in new:
        got = await client.get(f"/api/packets/{pid}/contents/{entry['id']}/file")
        assert got.content == content
