"""Nobody but the data directory's owner reads it: after a workout that writes every kind of
file (the database and its -wal/-shm, stored files, exports, an import, the signing key, the
host's storage), no folder or file in it, nor a SQLite database elsewhere, grants anything to
group or others; ARKHAM_PACKETS_DATA_DIR_MODE widens that when asked, an existing wider data
directory is narrowed, and inside the Frame the shard's folder under the storage base is
private too."""

from __future__ import annotations

import io
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.cli import main
from arkham_shard_packets.host.app import HostConfig, create_app

from .bundle_helpers import export, packet_with_files
from .conftest import POSTGRES_URL, reset_postgres, settle
from .test_shard import ContractBus, ContractDatabase, ContractFrame, load_like_the_frame, plain_url


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """Here the engine makes the database file, as for a new installation: the file's mode is
    what is tested (not the suite's migrated copy's, conftest.py)."""
    return empty_database_url


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def modes_under(root: Path) -> dict[str, int]:
    """Every folder and file under `root` (itself included) by its place there."""
    found = {".": mode_of(root)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = mode_of(path)
    return found


def blobs_in(root: Path) -> list[Path]:
    return [p for p in (root / "files").glob("??/*") if p.is_file()]


def sqlite_files(database_url: str) -> list[Path]:
    """The database's files, the sweep's lease file beside it (db/lease.py) included."""
    if POSTGRES_URL:
        return []
    database = Path(database_url.removeprefix("sqlite:///"))
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    return [p for p in files if p.exists()] + sorted(
        database.parent.glob(f"{database.name}-lease-*")
    )


async def workout(client: httpx.AsyncClient) -> None:
    """Writes every kind of file the shard keeps: stored files, a seal (the signing key), an
    export, an import by upload, and a file in the host's storage."""
    packet = await packet_with_files(client)
    sealed = await client.post(f"/api/packets/{packet['id']}/finalize")
    assert sealed.status_code == 200, sealed.text
    share = {"shared_with": "public", "password": "correct horse battery"}
    assert (await client.post(f"/api/packets/{packet['id']}/share", json=share)).is_success
    _, archive = await export(client, packet["id"])
    imported = await client.post(
        "/api/packets/import",
        files={"file": ("again.zip", io.BytesIO(archive))},
        data={"merge_mode": "skip"},
    )
    assert imported.status_code == 201, imported.text
    app: Any = client._transport.app  # type: ignore[attr-defined]
    await app.state.frame.get_service("storage").store("scan.pdf", b"%PDF-1.4", category="temp")
    await settle(client)


async def test_the_data_directory_is_its_owners_alone(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, database_url: str
) -> None:
    await workout(client)
    data_dir = tmp_path / "data"
    found = modes_under(data_dir)
    assert {"files", "exports", "keys", "storage", "tmp", "imports"} <= set(found)
    wide = {place: f"{mode:04o}" for place, mode in found.items() if mode & 0o077}
    assert wide == {}
    assert found["."] == 0o700
    assert all(mode == 0o700 for place, mode in found.items() if (data_dir / place).is_dir()), found
    blobs = blobs_in(data_dir)
    assert len(blobs) == 2 and all(mode_of(blob) == 0o400 for blob in blobs)
    exports = list((data_dir / "exports").iterdir())
    assert exports and all(mode_of(path) == 0o600 for path in exports)
    stored = list((data_dir / "storage" / "temp").iterdir())
    assert len(stored) == 2 and all(mode_of(path) == 0o600 for path in stored)
    # the test's SQLite database is outside the data directory: private all the same
    database = sqlite_files(database_url)
    assert len(database) == (0 if POSTGRES_URL else 4)
    assert {path.name: f"{mode_of(path):04o}" for path in database} == {
        path.name: "0600" for path in database
    }


@pytest.fixture
async def shared_host(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    """ARKHAM_PACKETS_DATA_DIR_MODE=0750: a group (a backup job, say) may read."""
    monkeypatch.setenv("ARKHAM_PACKETS_DATA_DIR_MODE", "0750")
    if POSTGRES_URL:
        await reset_postgres(database_url)
    app = create_app(HostConfig(tmp_path / "data", database_url))
    async with app.router.lifespan_context(app):
        yield app


async def test_the_setting_lets_a_group_read(
    shared_host: FastAPI, tmp_path: Path, database_url: str
) -> None:
    transport = httpx.ASGITransport(app=shared_host)
    async with httpx.AsyncClient(transport=transport, base_url="http://h") as client:
        await workout(client)
    data_dir = tmp_path / "data"
    for place, mode in modes_under(data_dir).items():
        path = data_dir / place
        if place.startswith("keys"):  # the signing key is never anyone else's
            assert mode & 0o077 == 0, place
        elif path.is_dir():
            assert mode == 0o750, (place, f"{mode:04o}")
        elif path.parent.parent.name == "files" and path.parent.name != ".staging":
            assert mode == 0o440, (place, f"{mode:04o}")
        else:
            assert mode == 0o640, (place, f"{mode:04o}")
    database = sqlite_files(database_url)
    assert len(database) == (0 if POSTGRES_URL else 4)
    assert all(mode_of(path) == 0o640 for path in database)


async def test_an_existing_wider_data_directory_is_narrowed(
    tmp_path: Path, database_url: str
) -> None:
    """Made before this setting, world-readable: narrowed at the next start."""
    if POSTGRES_URL:
        await reset_postgres(database_url)
    data_dir = tmp_path / "old"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    database = data_dir / "packets.db"
    database.touch()
    database.chmod(0o644)
    app = create_app(HostConfig(data_dir))
    async with app.router.lifespan_context(app):
        assert mode_of(data_dir) == 0o700
        assert mode_of(database) == 0o600
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as client:
            assert (await client.post("/api/packets/", json={"name": "x"})).status_code == 201
    assert all(mode_of(path) == 0o600 for path in sqlite_files(f"sqlite:///{database}"))


async def test_inside_the_frame_the_shards_folder_is_private(tmp_path: Path) -> None:
    """The Frame's storage base path is the Frame's; `packets/` in it, and everything the
    shard writes there, is the shard's, and private."""
    url = plain_url(tmp_path)
    if POSTGRES_URL:
        await reset_postgres(url)
    silo = tmp_path / "data_silo"
    silo.mkdir(mode=0o755)
    storage = SimpleNamespace(base_path=str(silo))
    frame = ContractFrame(
        {"database": ContractDatabase(url), "events": ContractBus(), "storage": storage}
    )
    await load_like_the_frame(frame)
    try:
        transport = httpx.ASGITransport(app=frame.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://frame") as client:
            packet = await packet_with_files(client)
            assert (await client.post(f"/api/packets/{packet['id']}/finalize")).is_success
            await export(client, packet["id"])
    finally:
        for shard in frame.shards.values():
            await shard.shutdown()
    found = modes_under(silo / "packets")
    assert {"files", "exports", "keys", "tmp", "imports"} <= set(found)
    assert {place: f"{mode:04o}" for place, mode in found.items() if mode & 0o077} == {}
    assert mode_of(silo) == 0o755  # the Frame's own folder is left as the Frame made it


def test_the_command_line_makes_its_data_directory_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ARKHAM_PACKETS_DATABASE_URL", raising=False)
    data_dir = tmp_path / "deep" / "cli-data"
    assert main(["init", "--data-dir", str(data_dir)]) == 0
    assert mode_of(data_dir) == 0o700 and mode_of(data_dir.parent) == 0o700
    assert mode_of(data_dir / "packets.db") == 0o600
    for wrong, said in [
        ("0777", "others may not write"),
        ("0600", "must give its owner rwx"),
        ("rwx", "not an octal mode"),
    ]:
        monkeypatch.setenv("ARKHAM_PACKETS_DATA_DIR_MODE", wrong)
        assert main(["init", "--data-dir", str(tmp_path / "other")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("arkham-packets: error: data_dir_mode (ARKHAM_PACKETS_DATA_DIR_MODE)")
        assert said in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "other").exists()
