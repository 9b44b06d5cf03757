"""Malicious and damaged bundles: each is refused with a 4xx that names the problem, and
leaves the database, the file store and the temporary folders exactly as they were."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import tarfile
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import bagit
import httpx
import pytest
from fastapi import FastAPI

from .bundle_helpers import database_rows, export, leftover_files, packet_with_files
from .test_export import unpack
from .test_import import forget, upload


def pack_zip(root: Path, extra: Callable[[zipfile.ZipFile], None] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, f"{root.name}/{path.relative_to(root).as_posix()}")
        if extra is not None:
            extra(archive)
    return buffer.getvalue()


def pack_tar(root: Path, extra: Callable[[tarfile.TarFile], None] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(root, root.name)
        if extra is not None:
            extra(archive)
    return buffer.getvalue()


def add_tar_entry(archive: tarfile.TarFile, name: str, kind: bytes, target: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    archive.addfile(info)


class Scene:
    """A packet exported, unpacked for tampering, then removed from the database, so that
    importing a good bundle would create it: a refused import must create nothing."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI, root: Path) -> None:
        self.client = client
        self.app = app
        self.root = root

    @property
    def data_dir(self) -> Path:
        return Path(self.app.state.packets_shard.services.data_dir)

    async def refused(self, archive: bytes, expected: str, status: int = 422) -> None:
        engine = self.app.state.packets_shard.services.database.engine
        before = await database_rows(engine)
        blobs_before = leftover_files(self.data_dir / "files")
        response = await upload(self.client, archive)
        assert response.status_code == status, response.text
        assert expected in response.json()["detail"], response.json()["detail"]
        assert await database_rows(engine) == before
        assert leftover_files(self.data_dir / "files") == blobs_before
        assert leftover_files(self.data_dir / "tmp") == []


async def make_scene(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, finalize: bool = False
) -> Scene:
    packet = await packet_with_files(client)
    if finalize:
        await client.post(f"/api/packets/{packet['id']}/finalize")
    _, archive = await export(client, packet["id"], "zip")
    root = unpack(archive, "zip", tmp_path / "bag")
    await forget(client, app, packet["id"])
    # the blobs stay in the store (as on a machine that never had them they would not);
    # what matters is that a refused import adds or removes none
    return Scene(client, app, root)


@pytest.fixture
async def scene(client: httpx.AsyncClient, app: FastAPI, tmp_path: Path) -> AsyncIterator[Scene]:
    yield await make_scene(client, app, tmp_path)


async def test_the_untampered_bag_is_accepted(scene: Scene) -> None:
    """The control: the repacked bag imports, so each refusal below is about its one flaw."""
    response = await upload(scene.client, pack_zip(scene.root))
    assert response.status_code == 201, response.text
    assert (await upload(scene.client, pack_tar(scene.root), "skip")).status_code == 201


async def test_zip_slip(scene: Scene) -> None:
    archive = pack_zip(scene.root, lambda z: z.writestr(f"{scene.root.name}/../../evil.txt", "x"))
    await scene.refused(archive, "escaping the bag with '..'")


async def test_absolute_path(scene: Scene) -> None:
    archive = pack_zip(scene.root, lambda z: z.writestr("/tmp/evil.txt", "x"))
    await scene.refused(archive, "absolute path")


async def test_tar_absolute_path_and_slip(scene: Scene) -> None:
    def absolute(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("/etc/cron.d/evil")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))

    await scene.refused(pack_tar(scene.root, absolute), "absolute path")

    def slip(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(f"{scene.root.name}/data/../../../evil")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))

    await scene.refused(pack_tar(scene.root, slip), "'..'")


async def test_tar_symlink(scene: Scene) -> None:
    archive = pack_tar(
        scene.root,
        lambda t: add_tar_entry(
            t, f"{scene.root.name}/data/passwd", tarfile.SYMTYPE, "/etc/passwd"
        ),
    )
    await scene.refused(archive, "link in the archive")


async def test_tar_hardlink(scene: Scene) -> None:
    archive = pack_tar(
        scene.root,
        lambda t: add_tar_entry(
            t, f"{scene.root.name}/data/shadow", tarfile.LNKTYPE, "/etc/shadow"
        ),
    )
    await scene.refused(archive, "link in the archive")


async def test_tar_device(scene: Scene) -> None:
    archive = pack_tar(
        scene.root, lambda t: add_tar_entry(t, f"{scene.root.name}/data/zero", tarfile.CHRTYPE)
    )
    await scene.refused(archive, "device or special file")


async def test_zip_symlink(scene: Scene) -> None:
    def link(archive: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo(f"{scene.root.name}/data/passwd")
        info.create_system = 3
        info.external_attr = (0o120777) << 16
        archive.writestr(info, "/etc/passwd")

    await scene.refused(pack_zip(scene.root, link), "link in the archive")


async def test_duplicate_names(scene: Scene) -> None:
    def duplicate(archive: zipfile.ZipFile) -> None:
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr(f"{scene.root.name}/data/packet.json", "{}")

    await scene.refused(pack_zip(scene.root, duplicate), "duplicate entry")
    case_twin = pack_zip(
        scene.root, lambda z: z.writestr(f"{scene.root.name}/DATA/packet.json", "{}")
    )
    await scene.refused(case_twin, "duplicate entry")


async def test_zip_bomb(scene: Scene) -> None:
    """64 MiB of zeros in a bag whose Payload-Oxum declares a few KiB: refused as soon as the
    payload written passes the Oxum, whatever the compression ratio."""

    def bomb(archive: zipfile.ZipFile) -> None:
        with archive.open(f"{scene.root.name}/data/zeros.bin", "w") as entry:
            for _ in range(64):
                entry.write(bytes(1024 * 1024))

    archive = pack_zip(scene.root, bomb)
    assert len(archive) < 1024 * 1024
    await scene.refused(archive, "larger than the bag's Payload-Oxum")


async def test_truncated_archives(scene: Scene) -> None:
    zipped = pack_zip(scene.root)
    await scene.refused(zipped[: len(zipped) // 2], "truncated or corrupt zip")
    tarred = pack_tar(scene.root)
    await scene.refused(tarred[: len(tarred) // 2], "truncated or corrupt tar.gz")
    await scene.refused(b"", "empty")
    await scene.refused(b"MZ\x90\x00 not a bundle", "unrecognized")


async def test_tampered_payload(scene: Scene) -> None:
    item = scene.root / "data" / "items" / "0001-document.json"
    item.write_text(item.read_text().replace("harbour master", "harbour thief"))
    await scene.refused(pack_zip(scene.root), "data/items/0001-document.json does not match")


async def test_tampered_attachment(scene: Scene) -> None:
    (target,) = (scene.root / "data" / "files").glob("0001-*")
    target.write_bytes(target.read_bytes().replace(b"scanned", b"forged!"))
    await scene.refused(pack_zip(scene.root), "does not match its sha256")


async def test_payload_oxum_and_unlisted_files(scene: Scene) -> None:
    smuggled = "not in any manifest"
    (scene.root / "data" / "smuggled.txt").write_text(smuggled)
    # more payload than the bag declares: refused while extracting
    await scene.refused(pack_zip(scene.root), "larger than the bag's Payload-Oxum")
    info = scene.root / "bag-info.txt"
    octets, streams = re.search(r"Payload-Oxum: (\d+)\.(\d+)", info.read_text()).groups()  # type: ignore[union-attr]
    declared = f"Payload-Oxum: {int(octets) + len(smuggled)}.{int(streams) + 1}"
    info.write_text(re.sub(r"Payload-Oxum: \S+", declared, info.read_text()))
    await scene.refused(pack_zip(scene.root), "data/smuggled.txt is not listed")


async def test_invalid_packet_json(scene: Scene) -> None:
    path = scene.root / "data" / "packet.json"
    document = json.loads(path.read_text())
    document["packet"]["status"] = "exploded"
    path.write_text(json.dumps(document))
    bagit.Bag(str(scene.root)).save(manifests=True)  # a valid bag with an invalid document
    await scene.refused(pack_zip(scene.root), "packet.json does not match the schema")


async def test_too_many_entries(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = await make_scene(client, app, tmp_path)
    limits = app.state.packets_shard.services.imports.limits
    monkeypatch.setattr(
        app.state.packets_shard.services.imports,
        "limits",
        dataclasses.replace(limits, max_entries=5),
    )
    await scene.refused(pack_zip(scene.root), "more than 5 entries")


async def test_too_many_bytes(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = await make_scene(client, app, tmp_path)
    service = app.state.packets_shard.services.imports
    monkeypatch.setattr(service, "limits", type(service.limits)(max_total_bytes=2000))
    await scene.refused(pack_zip(scene.root), "more than 2000 expanded bytes")


@pytest.fixture
def tiny_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_IMPORT_MAX_ARCHIVE_BYTES", "1000")


async def test_an_oversized_upload_is_413(
    tiny_uploads: None, client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    scene = await make_scene(client, app, tmp_path)
    await scene.refused(pack_zip(scene.root), "larger than the limit", status=413)


async def test_tampered_checksum(client: httpx.AsyncClient, app: FastAPI, tmp_path: Path) -> None:
    scene = await make_scene(client, app, tmp_path, finalize=True)
    path = scene.root / "data" / "packet.json"
    document = json.loads(path.read_text())
    document["packet"]["checksum"] = "0" * 64
    path.write_text(json.dumps(document, indent=2))
    bagit.Bag(str(scene.root)).save(manifests=True)  # fixity holds; the seal does not
    await scene.refused(pack_zip(scene.root), "declared checksum 0000")


async def test_sealed_content_changed_with_consistent_manifests(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    scene = await make_scene(client, app, tmp_path, finalize=True)
    path = scene.root / "data" / "packet.json"
    document = json.loads(path.read_text())
    document["packet"]["name"] = "A different story"
    path.write_text(json.dumps(document, indent=2))
    bagit.Bag(str(scene.root)).save(manifests=True)
    await scene.refused(pack_zip(scene.root), "does not match the recomputed")


async def test_tampered_json_bundle(client: httpx.AsyncClient, app: FastAPI) -> None:
    packet = await packet_with_files(client)
    await client.post(f"/api/packets/{packet['id']}/finalize")
    _, raw = await export(client, packet["id"], "json")
    await forget(client, app, packet["id"])
    scene = Scene(client, app, Path("."))
    document: dict[str, Any] = json.loads(raw)
    document["contents"][0]["data"]["pages"] = 3
    await scene.refused(json.dumps(document).encode(), "does not match its data_sha256")
    document = json.loads(raw)
    document["contents"][1]["file"]["content_base64"] = "aGVsbG8="
    await scene.refused(json.dumps(document).encode(), "does not match its size or sha256")
    await scene.refused(raw[:-200], "not valid JSON")


async def test_oversized_tar_metadata_header(scene: Scene) -> None:
    """tarfile reads a long-name header whole into memory: it is bounded before tarfile runs."""

    def long_name(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(f"{scene.root.name}/data/" + "n" * 100_000)
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as archive:
        archive.add(scene.root, scene.root.name)
        long_name(archive)
    await scene.refused(buffer.getvalue(), "larger than 64 KiB")
