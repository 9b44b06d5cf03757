"""Export: BagIt bags in zip and tar.gz that the `bagit` package validates, the json format,
byte-identical re-exports of finalized packets, downloads, events and errors."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import tarfile
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import bagit
import httpx
import pytest

from .bundle_helpers import (
    assert_same_but_custody,
    attach,
    custody_lines,
    export,
    members,
    packet_with_files,
)
from .conftest import add_item, make_packet, packet_events
from .stored import overwrite, stored_bytes, stored_keys


def unpack(archive: bytes, fmt: str, dest: Path) -> Path:
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            bundle.extractall(dest)
    else:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as bundle:
            bundle.extractall(dest, filter="data")
    (root,) = list(dest.iterdir())
    return root


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
async def test_the_bag_validates_with_the_bagit_package(
    client: httpx.AsyncClient, tmp_path: Path, fmt: str
) -> None:
    packet = await packet_with_files(client)
    body, archive = await export(client, packet["id"], fmt)
    root = unpack(archive, fmt, tmp_path / "out")
    assert root.name == f"packet-{packet['id']}"

    bag = bagit.Bag(str(root))
    bag.validate()  # raises on any problem
    assert set(bag.algorithms) == {"sha256", "sha512"}
    info = bag.info
    assert info["External-Identifier"] == packet["id"]
    assert info["Bag-Software-Agent"].startswith("arkham-shard-packets ")
    assert info["Payload-Oxum"] == bag.info["Payload-Oxum"]
    assert len(info["Packet-Checksum"]) == 64
    tags = {p.name for p in root.iterdir() if p.is_file()}
    assert tags == {
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "manifest-sha512.txt",
        "tagmanifest-sha256.txt",
        "custody.jsonl",  # a draft has no packet-seal.json
    }

    document = json.loads((root / "data" / "packet.json").read_text())
    assert document["packet"]["id"] == packet["id"]
    assert document["packet"]["metadata"] == {"case": "H-17", "n": 3}
    items = document["contents"]
    assert [(i["content_type"], i["content_id"]) for i in items] == [
        ("document", "doc-1"),
        ("document", "doc-2"),
        ("entity", "ent-9"),
    ]
    letter, sheet, person = items
    assert letter["resolution"] == {
        "source": "stored",
        "path": "data/items/0001-document.json",
        "data": None,
    }
    stored = json.loads((root / letter["resolution"]["path"]).read_text())
    assert stored["data"] == {"summary": "Signed by the harbour master", "pages": 2}
    sheet_file = root / sheet["file"]["path"]
    assert sheet["file"]["path"] == "data/files/0002-ledger_2024_.csv"
    assert sheet["file"]["name"] == "ledger (2024).csv"
    assert hashlib.sha256(sheet_file.read_bytes()).hexdigest() == sheet["file"]["sha256"]
    assert person["resolution"]["source"] == "unresolved"
    # the standalone host has no documents or entities service and no shard serving them:
    # one line for all such items, saying why and what to do
    assert body["errors"] == []  # the items' records are exported, without resolved data
    assert body["warnings"] == [
        "2 items were exported without their data (document doc-2, entity ent-9): none was "
        "stored with them, and this server has no Frame service or shard that serves them "
        "(/api/documents/, /api/entities/). packet.json lists them as unresolved (titles and "
        "files are kept). To carry their data, send it as `data` when adding an item "
        f"(POST /api/packets/{packet['id']}/contents), or export inside the Arkham Frame, where "
        "the shards that own them run."
    ]
    assert body["contents_exported"] == 3


async def test_many_unresolved_items_are_reported_once(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    for n in range(8):
        await add_item(client, packet["id"], f"doc-{n}", order=n)
    await add_item(client, packet["id"], "with-data", data={"note": "stored"}, order=9)
    body, _ = await export(client, packet["id"], "json")
    (report,) = body["warnings"]
    assert body["errors"] == []
    assert report.startswith(
        "8 items were exported without their data (document doc-0, document doc-1, "
        "document doc-2, document doc-3, document doc-4, and 3 more): "
    )
    assert "(/api/documents/)" in report and "with-data" not in report


async def test_export_response_and_download(client: httpx.AsyncClient, app: Any) -> None:
    packet = await packet_with_files(client)
    body, archive = await export(client, packet["id"], "tar.gz")
    assert body["packet_id"] == packet["id"]
    assert body["export_format"] == "tar.gz"
    assert body["file_size_bytes"] == len(archive)
    assert body["sha256"] == hashlib.sha256(archive).hexdigest()
    # named by its place in the data directory, never by an absolute server path
    assert body["file_path"] == f"exports/{Path(body['file_path']).name}"
    assert await stored_bytes(app, body["file_path"]) == archive
    assert body["download_url"] == f"/api/packets/{packet['id']}/exports/{body['export_id']}"
    download = await client.get(body["download_url"])
    assert download.headers["content-type"] == "application/gzip"
    assert download.headers["content-disposition"].startswith(
        f'attachment; filename="{Path(body["file_path"]).name}"'
    )
    exported = await packet_events(client, "packets.packet.exported")
    assert exported[0]["payload"] == {
        "packet_id": packet["id"],
        "format": "tar.gz",
        "file_path": body["file_path"],
    }


async def test_json_carries_everything_inline(client: httpx.AsyncClient) -> None:
    packet = await packet_with_files(client)
    body, raw = await export(client, packet["id"], "json")
    document = json.loads(raw.decode("utf-8"))
    assert document["format"] == "arkham-packet"
    letter = document["contents"][0]
    content = __import__("base64").b64decode(letter["file"]["content_base64"])
    assert hashlib.sha256(content).hexdigest() == letter["file"]["sha256"]
    assert letter["resolution"]["data"] == {"summary": "Signed by the harbour master", "pages": 2}
    assert letter["file"]["path"] is None
    download = await client.get(body["download_url"])
    assert download.headers["content-type"] == "application/json"


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
async def test_a_finalized_packet_exports_the_same_packet_every_time(
    client: httpx.AsyncClient, fmt: str
) -> None:
    """Everything but the custody log is the same bytes; the log has grown by the first
    export and its download."""
    packet = await packet_with_files(client)
    finalized = (await client.post(f"/api/packets/{packet['id']}/finalize")).json()
    first_body, first = await export(client, packet["id"], fmt)
    second_body, second = await export(client, packet["id"], fmt)
    assert_same_but_custody(first, second, fmt)
    added = [json.loads(line)["event"] for line in custody_lines(second, fmt)]
    assert added[-2:] == ["exported", "export_downloaded"]
    assert first_body["sha256"] != second_body["sha256"]
    assert first_body["export_id"] != second_body["export_id"]
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(first)) as bundle:
            infos = bundle.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        stamp = finalized["updated_at"]
        year, month, day = int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10])
        assert {info.date_time[:3] for info in infos} == {(year, month, day)}
        assert {info.external_attr >> 16 for info in infos} == {0o100644}
        stored = {i.filename.rsplit("/", 1)[-1]: i.compress_type for i in infos}
        assert stored["packet.json"] == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "draft"])
async def test_every_export_keeps_its_own_bytes(
    client: httpx.AsyncClient, app: Any, fmt: str, sealed: bool
) -> None:
    """An export's download serves the bytes whose digest it answered, after later exports
    of the same packet too; the payload and its manifests are the same in both."""
    packet = await packet_with_files(client)
    if sealed:
        await client.post(f"/api/packets/{packet['id']}/finalize")
    answers = []
    for _ in range(3):
        response = await client.post(f"/api/packets/{packet['id']}/export", json={"format": fmt})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert len({answer["file_path"] for answer in answers}) == 3
    downloads = []
    for answer in answers:
        download = await client.get(answer["download_url"])
        assert download.status_code == 200, download.text
        assert hashlib.sha256(download.content).hexdigest() == answer["sha256"]
        assert len(download.content) == answer["file_size_bytes"]
        assert answer["export_id"] in download.headers["content-disposition"]
        downloads.append(download.content)
    for answer, content in zip(answers, downloads, strict=True):
        assert await stored_bytes(app, answer["file_path"]) == content
    if sealed:
        assert_same_but_custody(downloads[0], downloads[2], fmt)
        if fmt != "json":
            first, last = members(downloads[0], fmt), members(downloads[2], fmt)
            payload = [name for name in first if name.startswith(("data/", "manifest-"))]
            assert {"manifest-sha256.txt", "manifest-sha512.txt"} <= set(payload)
            assert {name: first[name] for name in payload} == {name: last[name] for name in payload}


async def test_drafts_seal_nothing_but_carry_their_checksum(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    packet = await packet_with_files(client)
    _, archive = await export(client, packet["id"])
    root = unpack(archive, "zip", tmp_path / "draft")
    document = json.loads((root / "data/packet.json").read_text())
    assert document["packet"]["checksum"] is None
    assert document["packet"]["status"] == "draft"
    finalized = (await client.post(f"/api/packets/{packet['id']}/finalize")).json()
    # the draft's bag declared the checksum its content would be sealed with
    assert bagit.Bag(str(root)).info["Packet-Checksum"] == finalized["checksum"]


async def test_already_compressed_files_are_stored(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    photo = await add_item(client, packet["id"], "p1")
    note = await add_item(client, packet["id"], "n1")
    await attach(client, packet["id"], photo["id"], os.urandom(100_000), "photo.jpg", "image/jpeg")
    await attach(
        client, packet["id"], note["id"], b"plain words " * 10_000, "note.txt", "text/plain"
    )
    _, archive = await export(client, packet["id"])
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        kinds = {i.filename.rsplit("/", 1)[-1]: i.compress_type for i in bundle.infolist()}
    assert kinds["0001-photo.jpg"] == zipfile.ZIP_STORED  # items in their order
    assert kinds["0002-note.txt"] == zipfile.ZIP_DEFLATED


async def test_unknown_packet_and_format(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/packets/nope/export", json={"format": "zip"})
    assert missing.status_code == 404
    packet = await make_packet(client)
    wrong = await client.post(f"/api/packets/{packet['id']}/export", json={"format": "rar"})
    assert wrong.status_code == 422
    default = await client.post(f"/api/packets/{packet['id']}/export")
    assert default.status_code == 200
    assert default.json()["export_format"] == "zip"
    other = await client.get(f"/api/packets/{packet['id']}/exports/nope")
    assert other.status_code == 404


async def test_a_damaged_stored_file_fails_the_export(client: httpx.AsyncClient, app: Any) -> None:
    packet = await make_packet(client)
    entry = await add_item(client, packet["id"])
    item = (await attach(client, packet["id"], entry["id"], b"original bytes")).json()
    await client.post(f"/api/packets/{packet['id']}/finalize")
    digest = item["file"]["sha256"]
    await overwrite(app, f"files/{digest[:2]}/{digest}", b"tampered bytes")
    response = await client.post(f"/api/packets/{packet['id']}/export", json={"format": "zip"})
    assert response.status_code == 409
    assert "damaged" in response.json()["detail"]
    assert await stored_keys(app, "exports/") == []


async def test_export_memory_does_not_grow_with_the_packet(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    packet = await make_packet(client)
    for number in range(3):
        entry = await add_item(client, packet["id"], f"d{number}")
        big = tmp_path / f"big{number}.bin"
        with big.open("wb") as handle:
            for _ in range(8):
                handle.write(os.urandom(1024 * 1024))
        with big.open("rb") as handle:
            response = await client.put(
                f"/api/packets/{packet['id']}/contents/{entry['id']}/file",
                files={"file": (big.name, handle, "application/octet-stream")},
            )
        assert response.status_code == 200
    for fmt in ("zip", "tar.gz", "json"):
        tracemalloc.start()
        try:
            response = await client.post(
                f"/api/packets/{packet['id']}/export", json={"format": fmt}
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 200
        assert response.json()["file_size_bytes"] > 24 * 1024 * 1024
        assert peak < 8 * 1024 * 1024, f"{fmt}: peak {peak} bytes for a 24 MiB packet"


async def test_a_sealed_packet_changed_behind_our_back_is_not_exported(
    client: httpx.AsyncClient, engine: Any
) -> None:
    from sqlalchemy import update

    from arkham_shard_packets.db.tables import packets

    packet = await packet_with_files(client)
    await client.post(f"/api/packets/{packet['id']}/finalize")
    async with engine.begin() as conn:
        await conn.execute(
            update(packets).where(packets.c.id == packet["id"]).values(name="Rewritten")
        )
    response = await client.post(f"/api/packets/{packet['id']}/export", json={"format": "zip"})
    assert response.status_code == 409
    assert "no longer matches its sealed checksum" in response.json()["detail"]


async def test_large_mixed_payloads_keep_their_bytes_in_both_archives(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Text over many deflate blocks (compressed on several threads) beside random bytes
    (stored): the bag validates, the files come back whole, gzip's own tool reads the
    tar.gz's members as one stream, and a re-export of the sealed packet is the same bytes."""
    packet = await make_packet(client)
    words = b" ".join(b"word%d" % (n * 7919 % 1000) for n in range(250_000))
    payloads = {"notes.txt": words[: 3 * 1024 * 1024 + 17], "scan.jpg": os.urandom(700_000)}
    for order, (name, content) in enumerate(payloads.items()):
        entry = await add_item(client, packet["id"], f"d{order}", order=order)
        assert (await attach(client, packet["id"], entry["id"], content, name)).status_code == 200
    assert (await client.post(f"/api/packets/{packet['id']}/finalize")).status_code == 200
    for fmt in ("zip", "tar.gz"):
        _, archive = await export(client, packet["id"], fmt)
        assert len(archive) < len(payloads["notes.txt"])  # the text was deflated
        root = unpack(archive, fmt, tmp_path / fmt.replace(".", "-"))
        bagit.Bag(str(root)).validate()
        for name, content in payloads.items():
            (found,) = root.glob(f"data/files/*-{name}")
            assert found.read_bytes() == content
        if fmt == "tar.gz":
            (tmp_path / "bag.tar.gz").write_bytes(archive)
            check = await asyncio.create_subprocess_exec("gzip", "-t", str(tmp_path / "bag.tar.gz"))
            assert await check.wait() == 0
        assert_same_but_custody(archive, (await export(client, packet["id"], fmt))[1], fmt)
