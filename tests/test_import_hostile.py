"""The hostile-bundle corpus of issue 14 (and the import half of issue 13), built here, nothing
binary committed: each bundle is refused with a 4xx that names the problem, and the database,
the file store and the temporary folders stay exactly as they were."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import struct
import tarfile
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import bagit
import httpx
import pytest
from fastapi import FastAPI

from benchmarks.hostile_bundles import central_directory_bomb

from .bundle_helpers import attach, export, packet_with_files
from .conftest import add_item, make_packet
from .frame_users import Users
from .test_import import forget, upload
from .test_import_safety import Scene, make_scene, pack_tar, pack_zip

ZERO_DIGEST = "0" * 64


@pytest.fixture
async def scene(client: httpx.AsyncClient, app: FastAPI, tmp_path: Path) -> AsyncIterator[Scene]:
    yield await make_scene(client, app, tmp_path)


def limit(app: FastAPI, monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    service = app.state.packets_shard.services.imports
    monkeypatch.setattr(service, "limits", dataclasses.replace(service.limits, **changes))


# 1. the tag manifest names only files inside the bag


@pytest.mark.parametrize(
    "listed",
    [
        "/etc/hostname",
        "/nonexistent/file",
        "data/./packet.json",
        "./bag-info.txt",
        "data/../bag-info.txt",
        "bag-info.txt/",
    ],
)
async def test_the_tag_manifest_names_only_normalised_paths_inside_the_bag(
    scene: Scene, listed: str
) -> None:
    manifest = scene.root / "tagmanifest-sha256.txt"
    manifest.write_text(manifest.read_text() + f"{ZERO_DIGEST}  {listed}\n")
    await scene.refused(pack_zip(scene.root), f"tagmanifest-sha256.txt lists {listed!r}")


def digest_of_hostname() -> str:
    return hashlib.sha256(Path("/etc/hostname").read_bytes()).hexdigest()


async def test_a_server_file_is_neither_read_nor_confirmed(scene: Scene) -> None:
    """The answer is the same whether the named file exists and whatever its digest."""
    real = digest_of_hostname()
    manifest = scene.root / "tagmanifest-sha256.txt"
    original = manifest.read_text()
    details = []
    for line in (f"{real}  /etc/hostname", f"{ZERO_DIGEST}  /etc/hostname"):
        manifest.write_text(original + line + "\n")
        response = await upload(scene.client, pack_zip(scene.root))
        assert response.status_code == 422
        details.append(response.json()["detail"].replace(real, ZERO_DIGEST))
    assert details[0] == details[1]


# 2. every export of ours imports again, however well its files compress


async def test_a_highly_compressible_attachment_round_trips(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet = await make_packet(client, "Logs")
    item = await add_item(client, packet["id"], "log-1")
    log = b"2026-11-26 06:45:46 INFO heartbeat ok\n" * (5 * 1024 * 1024 // 38)
    assert (await attach(client, packet["id"], item["id"], log, "app.log", "text/plain")).is_success
    for fmt in ("zip", "tar.gz", "json"):
        _, archive = await export(client, packet["id"], fmt)
        await forget(client, app, packet["id"])
        response = await upload(client, archive)
        assert response.status_code == 201, (fmt, response.text)
        entry = (await client.get(f"/api/packets/{packet['id']}/contents")).json()[0]
        file = await client.get(f"/api/packets/{packet['id']}/contents/{entry['id']}/file")
        assert file.content == log


# 3. a zip's central directory is checked before zipfile reads it


async def test_an_end_record_that_hides_entries(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = await make_scene(client, app, tmp_path)
    limit(app, monkeypatch, max_entries=100)
    await scene.refused(central_directory_bomb(1_000, declared=1), "more than 100 entries")
    huge = central_directory_bomb(1, declared=1)
    huge = huge[:-10] + struct.pack("<LLH", 100 * 3000, 0, 0)  # a directory larger than 100 need
    await scene.refused(huge, "central directory")


async def test_an_unsupported_compression_method(scene: Scene) -> None:
    def imploded(archive: zipfile.ZipFile) -> None:
        archive.writestr(f"{scene.root.name}/data/old.txt", "x")

    raw = bytearray(pack_zip(scene.root, imploded))
    record = raw.rfind(b"PK\x01\x02")  # the last central directory record: old.txt
    raw[record + 10 : record + 12] = struct.pack("<H", 6)
    await scene.refused(bytes(raw), "uses compression method 6")


# 4. items per bundle


async def test_items_per_bundle_are_bounded(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    packet = await packet_with_files(client)
    _, raw = await export(client, packet["id"], "json")
    await forget(client, app, packet["id"])
    limit(app, monkeypatch, max_items=2)
    await Scene(client, app, Path(".")).refused(raw, "more than 2 items")


# 7. media types are cleaned as an upload's are


@pytest.mark.parametrize(
    ("claimed", "served"),
    [
        ("text/html\r\nX-Evil: 1", "application/octet-stream"),
        ("text/html\x00", "application/octet-stream"),
        ("text/html; charset=utf-7", "text/html"),
        ("IMAGE/PNG", "image/png"),
    ],
)
async def test_media_types_from_a_bundle_are_cleaned(
    client: httpx.AsyncClient, app: FastAPI, claimed: str, served: str
) -> None:
    packet = await packet_with_files(client)
    _, raw = await export(client, packet["id"], "json")
    await forget(client, app, packet["id"])
    document = json.loads(raw)
    document["contents"][0]["file"]["media_type"] = claimed
    response = await upload(client, json.dumps(document).encode())
    if "\x00" in claimed:  # not storable text at all: refused, naming the field
        assert response.status_code == 422
        assert "contents.0.file.media_type" in response.json()["detail"]
        return
    assert response.status_code == 201, response.text
    item = (await client.get(f"/api/packets/{packet['id']}/contents")).json()[0]
    assert item["file"]["media_type"] == served
    file = await client.get(f"/api/packets/{packet['id']}/contents/{item['id']}/file")
    assert file.status_code == 200
    assert file.headers["content-type"].split(";")[0] == served


# 8 and issue 13: values the shard could not store or serve back


async def draft_document(client: httpx.AsyncClient, app: FastAPI) -> dict[str, Any]:
    packet = await packet_with_files(client)
    _, raw = await export(client, packet["id"], "json")
    await forget(client, app, packet["id"])
    document: dict[str, Any] = json.loads(raw)
    return document


def nested(depth: int) -> Any:
    """`depth` objects, one inside the other."""
    value: Any = "bottom"
    for _ in range(depth):
        value = {"down": value}
    return value


CRAFTED = [
    ("packet", "version", 2**63, "packet.version"),
    ("packet", "version", 2**31, "packet.version"),
    ("item", "order", 2**63, "contents.0.order"),
    ("item", "order", 2**31, "contents.0.order"),
    ("item", "added_at", "9999-12-31T23:59:59-23:59", "contents.0.added_at"),
    ("packet", "created_at", "0001-01-01T00:00:00+23:59", "packet.created_at"),
    ("item", "content_id", "doc\x001", "contents.0.content_id"),
    ("packet", "name", "Harbor\x00leak", "packet.name"),
    ("item", "added_by", "mallory\ud800", "contents.0.added_by"),
    ("packet", "description", "\udfff", "packet.description"),
    ("item", "data", {"x": float("nan")}, "contents.0.data"),
    ("item", "data", {"x": float("inf")}, "contents.0.data"),
    ("item", "data", {"\ud800": 1}, "contents.0.data"),
    ("item", "data", nested(33), "contents.0.data"),
    ("packet", "metadata", nested(40), "packet.metadata"),
    ("packet", "metadata", {"blob": "x" * (1024 * 1024 + 1)}, "packet.metadata"),
]


@pytest.mark.parametrize(("where", "field", "value", "named"), CRAFTED)
async def test_values_that_could_not_be_stored_are_422(
    client: httpx.AsyncClient, app: FastAPI, where: str, field: str, value: Any, named: str
) -> None:
    document = await draft_document(client, app)
    target = document["packet"] if where == "packet" else document["contents"][0]
    target[field] = value
    if field == "data":
        target["data_sha256"] = None  # the value's own digest can't even be computed
    raw = json.dumps(document, allow_nan=True).encode()
    await Scene(client, app, Path(".")).refused(raw, named)


async def test_deep_data_is_refused_in_a_bag_too(scene: Scene) -> None:
    path = scene.root / "data" / "packet.json"
    document = json.loads(path.read_text())
    document["contents"][0]["data"] = nested(64)
    path.write_text(json.dumps(document))
    bagit.Bag(str(scene.root)).save(manifests=True)
    await scene.refused(pack_zip(scene.root), "nested more than 32 levels deep")


async def test_an_accepted_import_is_served_back(client: httpx.AsyncClient, app: FastAPI) -> None:
    """At the limits (depth 32, order and version at their maximum) everything reads back."""
    document = await draft_document(client, app)
    document["contents"][0]["data"] = nested(32)
    document["contents"][0]["data_sha256"] = hashlib.sha256(
        json.dumps(nested(32), sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    document["contents"][0]["order"] = 2**31 - 1
    document["packet"]["version"] = 1_000_000_000
    response = await upload(client, json.dumps(document).encode())
    assert response.status_code == 201, response.text
    packet_id = response.json()["packet_id"]
    for path in ("", "/contents", "/versions"):
        assert (await client.get(f"/api/packets/{packet_id}{path}")).status_code == 200
    assert (await client.get("/api/packets/")).status_code == 200
    recorded = await client.post(f"/api/packets/{packet_id}/versions", json={})
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["version_number"] == 1_000_000_001
    exported = await client.post(f"/api/packets/{packet_id}/export", json={"format": "json"})
    assert exported.status_code == 200, exported.text


# 9. a tar.gz is decompressed once


async def test_a_tar_gz_is_decompressed_once(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    packet = await packet_with_files(client)
    _, archive = await export(client, packet["id"], "tar.gz")
    await forget(client, app, packet["id"])
    expanded = len(gzip.decompress(archive))
    decompressed = 0
    read = gzip.GzipFile.read

    def counting(self: gzip.GzipFile, size: int = -1) -> bytes:
        nonlocal decompressed
        data = read(self, size)
        decompressed += len(data)
        return data

    monkeypatch.setattr(gzip.GzipFile, "read", counting)
    response = await upload(client, archive)
    assert response.status_code == 201, response.text
    assert decompressed <= expanded


# json bundles: files are decoded as they are read; the rest of the document is bounded


async def test_a_json_bundle_document_is_bounded_without_its_files(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    packet = await make_packet(client, "Big file")
    item = await add_item(client, packet["id"], "doc-1")
    content = bytes(range(256)) * 4096  # 1 MiB
    assert (await attach(client, packet["id"], item["id"], content)).is_success
    _, raw = await export(client, packet["id"], "json")
    await forget(client, app, packet["id"])
    limit(app, monkeypatch, max_json_bytes=64 * 1024)  # the 1.4 MB document holds 1 MiB inline
    response = await upload(client, raw)
    assert response.status_code == 201, response.text
    document = json.loads(raw)
    document["packet"]["metadata"] = {"padding": "x" * 70_000}
    await Scene(client, app, Path(".")).refused(
        json.dumps(document).encode(), "(without its files) is larger than 65536 bytes"
    )


async def test_a_content_base64_key_in_item_data_keeps_its_value(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Only an item's file and original_file are taken out of the text: the same key in item
    data, plain base64 or not, comes back exactly as it was."""
    packet = await make_packet(client, "Keys")
    data = {
        "content_base64": base64.b64encode(b"not a file").decode(),
        "nested": {"content_base64": 'not base64 at all \\ " /'},
    }
    await add_item(client, packet["id"], "doc-1", data=data)
    _, raw = await export(client, packet["id"], "json")
    await forget(client, app, packet["id"])
    assert (await upload(client, raw)).status_code == 201
    stored = (await client.get(f"/api/packets/{packet['id']}/contents")).json()[0]["data"]
    assert stored == data


async def test_escaped_slashes_in_base64_are_read(client: httpx.AsyncClient, app: FastAPI) -> None:
    packet = await make_packet(client, "Slashes")
    item = await add_item(client, packet["id"], "doc-1")
    content = b"\xff\xff\xfe" * 1000  # base64 "///+" repeated
    assert (await attach(client, packet["id"], item["id"], content)).is_success
    _, raw = await export(client, packet["id"], "json")
    await forget(client, app, packet["id"])
    assert b"///+" in raw
    response = await upload(client, raw.replace(b"/", b"\\/"))
    assert response.status_code == 201, response.text
    stored = (await client.get(f"/api/packets/{packet['id']}/contents")).json()[0]
    file = await client.get(f"/api/packets/{packet['id']}/contents/{stored['id']}/file")
    assert file.content == content


async def test_a_refused_tar_leaves_nothing(scene: Scene) -> None:
    """Extraction and checks share one pass: a flaw found late still leaves no file behind."""

    def late_link(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(f"{scene.root.name}/zz-link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        archive.addfile(info)

    await scene.refused(pack_tar(scene.root, late_link), "link in the archive")


# 6. a bundle's attribution is kept as a claim; the import records who made it


async def test_attribution_is_a_claim_and_the_importer_is_recorded(
    client: httpx.AsyncClient, app: FastAPI, users: Users
) -> None:
    tenant = "7c0f3a0e-0000-4000-8000-0000000000a1"
    alice = users.user(tenant, email="alice@example.org")
    as_alice = users.headers(tenant, email=alice.email)
    document = await draft_document(client, app)
    document["packet"]["created_by"] = "the-director"
    document["packet"]["created_at"] = "1999-01-01T00:00:00+00:00"
    document["packet"]["version"] = 7
    response = await client.post(
        "/api/packets/import",
        files={"file": ("b.json", json.dumps(document).encode())},
        headers=as_alice,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["imported_by"] == str(alice.id)
    assert body["claimed"] == {
        "created_by": "the-director",
        "created_at": "1999-01-01T00:00:00.000000+00:00",
        "finalized_at": None,
        "version": 7,
    }
    assert body["verified"] is False  # a draft: nothing sealed, nothing recomputed against
    versions = await client.get(f"/api/packets/{body['packet_id']}/versions", headers=as_alice)
    (version,) = versions.json()
    assert version["created_by"] == str(alice.id)
    assert f"by {alice.id}" in version["changes_summary"]
    assert (
        "as the bundle claims (not verified): created by the-director"
        in (version["changes_summary"])
    )
    # ... and the share viewer shows the bundle's account as a claim, beside the import
    shared = await client.post(
        f"/api/packets/{body['packet_id']}/share", json={"shared_with": "public"}, headers=as_alice
    )
    assert shared.status_code == 201, shared.text
    page = (await client.get(shared.json()["share_url"])).text
    assert "Created (as the bundle claims)" in page
    assert "the-director" in page and "not checked here" in page
    assert "from upload:b.json" in page and str(alice.id) not in page


async def test_a_packet_made_here_makes_no_claim(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    shared = await client.post(f"/api/packets/{packet['id']}/share", json={"shared_with": "public"})
    page = (await client.get(shared.json()["share_url"])).text
    assert "<dt>Shared by</dt>" in page
    assert "as the bundle claims" not in page and "<dt>Imported</dt>" not in page
