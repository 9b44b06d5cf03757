"""The hostile-bundle corpus of issue 14 (and the import half of issue 13), built here, nothing
binary committed: each bundle is refused with a 4xx that names the problem, and the database,
the file store and the temporary folders stay exactly as they were."""

from __future__ import annotations

import base64
import dataclasses
import functools
import gzip
import hashlib
import json
import operator
import struct
import tarfile
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import bagit
import httpx
import pytest
from fastapi import FastAPI

from benchmarks.hostile_bundles import central_directory_bomb

from .bundle_helpers import attach, database_rows, export, leftover_files, packet_with_files
from .conftest import add_item, make_packet
from .custody_helpers import Files, bag_files, jsonl, rechain, rewrite
from .frame_users import Users
from .test_custody_bundles import sealed_and_shared
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
        "added_by": ["system"],
        "added_by_accounts": 1,
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
    assert "<dt>Shared with</dt>" in page
    assert "as the bundle claims" not in page and "<dt>Imported</dt>" not in page


# issue 25: the custody log and the seal a bundle carries are held to the bounds of all JSON,
# refused (422, nothing written) also when the caller accepts an unverified bundle

HOSTILE = "@@hostile@@"  # stands in the JSON text for a value json.dumps can't or won't write


def deep_json(depth: int) -> str:
    return '{"d":' * depth + "1" + "}" * depth


# name: the value's JSON text, and what the refusal says of it
HOSTILE_VALUES = {
    "nested 900 deep": (deep_json(900), "nested more than 32 levels deep"),
    "nested 33 deep": (deep_json(33), "nested more than 32 levels deep"),
    "NaN": ("NaN", "must be a finite number"),
    "-Infinity": ("-Infinity", "must be a finite number"),
    "1e999": ("1e999", "must be a finite number"),
    "a lone surrogate": ('"\\ud800"', "must not contain lone surrogates"),
    "NUL": ('"a\\u0000b"', "must not contain NUL characters"),
}


def with_hostile(value: Any, raw: str) -> bytes:
    return json.dumps(value).replace(json.dumps(HOSTILE), raw).encode()


def hostile_at(value: Any, where: str, raw: str) -> bytes:
    """`value` as JSON text, with `raw` at `where` (keys joined by dots)."""
    *parents, field = where.split(".")
    functools.reduce(operator.getitem, parents, value)[field] = HOSTILE
    return with_hostile(value, raw)


def replacing(name: str, data: bytes) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        files[name] = data

    return change


async def refused_even_unverified(
    client: httpx.AsyncClient, app: FastAPI, bundle: bytes, *said: str
) -> None:
    engine = app.state.packets_shard.services.database.engine
    before = await database_rows(engine)
    for fields in ({}, {"allow_unverified": "true"}):
        response = await client.post(
            "/api/packets/import", files={"file": ("b", bundle)}, data=fields
        )
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert all(part in detail for part in said), (said, detail)
    assert await database_rows(engine) == before
    assert leftover_files(Path(app.state.packets_shard.services.data_dir) / "tmp") == []


async def sealed_export(client: httpx.AsyncClient, app: FastAPI, fmt: str) -> bytes:
    """A sealed and shared packet's bundle: its last custody entry (`shared`) comes after the
    seal, so a change to it alone leaves the seal and the chain checking."""
    pid = await sealed_and_shared(client)
    _, archive = await export(client, pid, fmt)
    await forget(client, app, pid)
    return archive


def bag_with_last_entry(archive: bytes, raw: str) -> bytes:
    def change(files: Files) -> None:
        lines = files["custody.jsonl"].splitlines(keepends=True)
        entry = json.loads(lines[-1])
        entry["details"]["x"] = HOSTILE
        lines[-1] = with_hostile(entry, raw) + b"\n"
        files["custody.jsonl"] = b"".join(lines)

    return rewrite(archive, "zip", change)


def json_with_last_entry(archive: bytes, raw: str) -> bytes:
    document = json.loads(archive)
    document["custody"][-1]["details"]["x"] = HOSTILE
    return with_hostile(document, raw)


async def test_a_carried_custody_entry_is_held_to_the_bounds(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Issue 25, 7, 8 and 10: nested 900 deep it was imported as verified, then GET /custody
    answered 500 for good; NaN, Infinity, 1e999 or a lone surrogate were a 500; NUL, with
    allow_unverified, a 500 on PostgreSQL."""
    zipped = await sealed_export(client, app, "zip")
    assert (await upload(client, zipped)).status_code == 201  # as exported, it is fine
    await forget(client, app, (await client.get("/api/packets/")).json()["items"][0]["id"])
    for raw, message in HOSTILE_VALUES.values():
        bad = bag_with_last_entry(zipped, raw)
        await refused_even_unverified(
            client, app, bad, "custody.jsonl line 5: at details.x", message
        )
    too_big = bag_with_last_entry(zipped, json.dumps("x" * 300_000))
    await refused_even_unverified(
        client, app, too_big, "custody.jsonl line 5: larger than 262144 bytes"
    )

    def not_json_with_nul(files: Files) -> None:  # a damaged entry, but one that can't be stored
        files["custody.jsonl"] = files["custody.jsonl"].rstrip(b"\n") + b"\x00\n"

    await refused_even_unverified(
        client,
        app,
        rewrite(zipped, "zip", not_json_with_nul),
        "custody.jsonl line 5: must not contain NUL characters",
    )


async def test_a_json_bundles_custody_entry_is_held_to_the_bounds(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    document = await sealed_export(client, app, "json")
    for name, (raw, message) in HOSTILE_VALUES.items():
        if name == "nested 900 deep":  # deeper than any document may nest, entry or not
            message = "nested more than 200 levels deep"
        bad = json_with_last_entry(document, raw)
        await refused_even_unverified(client, app, bad, "at custody.4.details.x", message)
    too_big = json_with_last_entry(document, json.dumps("x" * 300_000))
    await refused_even_unverified(
        client, app, too_big, "the json bundle: at custody.4: larger than 262144 bytes"
    )


SEAL_FIELDS = {  # where in the seal, which hostile value
    "statement.version": "NaN",
    "statement.finalized_by": "nested 900 deep",
    "signature": "NUL",
    "key_fingerprint": "a lone surrogate",
}


@pytest.mark.parametrize("fmt", ["zip", "json"])
async def test_a_carried_seal_is_held_to_the_bounds(
    client: httpx.AsyncClient, app: FastAPI, fmt: str
) -> None:
    """Issue 25, 7 and 10: a seal the shard could not store was stored with allow_unverified
    (a 500 for NaN, and for NUL on PostgreSQL)."""
    archive = await sealed_export(client, app, fmt)
    for where, name in SEAL_FIELDS.items():
        raw, message = HOSTILE_VALUES[name]
        if fmt == "zip":
            seal = json.loads(bag_files(archive, "zip")[1]["packet-seal.json"])
            changed = replacing("packet-seal.json", hostile_at(seal, where, raw))
            bad, said = rewrite(archive, "zip", changed), f"packet-seal.json: at {where}"
        else:
            document = json.loads(archive)
            bad, said = hostile_at(document, f"seal.{where}", raw), f"at seal.{where}"
            if name == "nested 900 deep":
                message = "nested more than 200 levels deep"
        await refused_even_unverified(client, app, bad, said, message)


async def test_content_base64_nested_deeply_in_a_json_bundle(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Issue 25, 9: 600 deep, putting the key's value back raised RecursionError (500)."""
    document = await draft_document(client, app)
    for depth, said in (
        (150, ("packet.json's packet.metadata: at a.a.a", "nested more than 32 levels deep")),
        (600, ("the json bundle: at packet.metadata.a.a.a", "nested more than 200 levels deep")),
    ):
        value: Any = {"content_base64": base64.b64encode(b"not a file").decode()}
        for _ in range(depth):
            value = {"a": value}
        document["packet"]["metadata"] = value
        await refused_even_unverified(client, app, json.dumps(document).encode(), *said)


async def test_what_an_unverified_import_records_stays_within_the_bounds(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The import entry names the problems of a bundle accepted unverified, each cut short: a
    log claiming three unverified imports, each 100 kB long, is recorded in an entry that the
    shard's own import takes back."""
    packet = await make_packet(client)
    _, archive = await export(client, packet["id"], "zip")
    await forget(client, app, packet["id"])

    def claims(files: Files) -> None:
        entries = [json.loads(line) for line in files["custody.jsonl"].splitlines()]
        claim = {"event": "imported", "at": "x" * 100_000, "details": {"unverified": True}}
        files["custody.jsonl"] = jsonl(rechain(entries + [{**entries[-1], **claim}] * 3))

    unverified = {"allow_unverified": "true"}
    bundle = rewrite(archive, "zip", claims)
    for _ in range(2):
        response = await client.post(
            "/api/packets/import", files={"file": ("b.zip", bundle)}, data=unverified
        )
        assert response.status_code == 201, response.text
        _, bundle = await export(client, packet["id"], "zip")
        await forget(client, app, packet["id"])
