"""A server killed with SIGKILL in the middle of an import, an export and a finalize: after the
next start there is no partial packet, no orphaned version, no count that disagrees with its
rows, and no stray file in tmp/, exports/ or the file store.

The server is the real one (`python -m arkham_shard_packets.cli serve`, a subprocess) on the
suite's database. Each kill is timed by watching for the work's own traces: the imported
blob entering the store, the export's `.part` file, the packet's row lock held by finalize.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.tables import (
    outbox,
    packet_contents,
    packet_exports,
    packet_files,
    packet_versions,
    packets,
    snapshot_files,
)
from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.records.packets import stored_size
from arkham_shard_packets.sealing.checksum import data_sha256

from .conftest import POSTGRES_URL, reset_postgres
from .live_host import free_port

API = "/api/packets"
ITEMS = 800
FILE_BYTES = 24 * 1024 * 1024
PATIENCE = 120.0


@dataclass
class Source:
    """A packet built on another machine (its own SQLite host), exported twice."""

    packet_id: str
    file_sha256: str
    draft_bundle: bytes
    sealed_bundle: bytes


def with_claims(bundle: dict[str, Any], count: int) -> dict[str, Any]:
    """A json bundle whose packet holds `count` claims with data (and nothing else)."""
    (template,) = bundle["contents"]
    claims = []
    for i in range(count):
        data = {"n": i, "t": "x" * 64}
        claim = {**template, "content_id": f"c{i}", "data": data, "data_sha256": data_sha256(data)}
        claims.append({**claim, "resolution": {"source": "stored", "path": None, "data": data}})
    return {**bundle, "contents": claims, "packet": {**bundle["packet"], "contents_count": count}}


async def build_source(data_dir: Path) -> Source:
    evidence = os.urandom(FILE_BYTES // 2).hex().encode()  # deflates, slowly: a long export
    app = create_app(HostConfig(data_dir=data_dir))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://src") as src,
    ):
        packet = (await src.post(f"{API}/", json={"name": "Ledger of the harbour"})).json()
        url = f"{API}/{packet['id']}"
        await src.post(f"{url}/contents", json={"content_type": "claim", "content_id": "c0"})
        # The other items arrive as one import of the packet's own json bundle, grown to
        # ITEMS claims: a request each would make this setup most of the test's time.
        exported = (await src.post(f"{url}/export", json={"format": "json"})).json()
        grown = with_claims((await src.get(exported["download_url"])).json(), ITEMS)
        upload = {"file": ("grown.json", json.dumps(grown).encode(), "application/json")}
        imported = await src.post(f"{API}/import", files=upload)
        assert imported.status_code == 201, imported.text
        assert imported.json()["contents_imported"] == ITEMS
        item = (await src.get(f"{url}/contents")).json()[0]
        attached = await src.put(
            f"{url}/contents/{item['id']}/file",
            files={"file": ("ledger.txt", evidence, "text/plain")},
        )
        assert attached.status_code == 200, attached.text
        bundles = []
        for step in ("draft", "sealed"):
            if step == "sealed":
                assert (await src.post(f"{url}/finalize")).status_code == 200
            exported = (await src.post(f"{url}/export", json={"format": "zip"})).json()
            bundles.append((await src.get(exported["download_url"])).content)
    return Source(packet["id"], attached.json()["file"]["sha256"], *bundles)


class Server:
    """`arkham-packets serve` in a subprocess; each start is a new process on a new port."""

    def __init__(
        self, data_dir: Path, database_url: str, log: Path, settings: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.log = log
        self.settings = settings or {}  # the environment's ARKHAM_PACKETS_… (the store's)
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""

    def _spawn(self) -> subprocess.Popen[bytes]:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
        env["ARKHAM_PACKETS_RECOVERY_GRACE_SECONDS"] = "0"
        env["ARKHAM_PACKETS_OUTBOX_RETRY_SECONDS"] = "3600"  # no background writer
        env.update(self.settings)
        command = [sys.executable, "-m", "arkham_shard_packets.cli", "serve", "--port", str(port)]
        command += ["--data-dir", str(self.data_dir), "--database-url", self.database_url]
        self.base = f"http://127.0.0.1:{port}"
        with open(self.log, "ab") as log:
            return subprocess.Popen(command, env=env, stdout=log, stderr=log)

    async def start(self) -> None:
        self.process = await asyncio.to_thread(self._spawn)
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"{self.base}{API}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not start:\n{self.log.read_text()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base + API, timeout=PATIENCE)


async def kill_when(
    server: Server, request: Awaitable[httpx.Response], ready: Callable[[], Awaitable[bool]]
) -> None:
    """Send the request, SIGKILL the server as soon as `ready` sees the work in progress,
    and make sure the answer never came."""
    task = asyncio.ensure_future(request)
    deadline = time.monotonic() + PATIENCE
    while not await ready():
        if task.done():
            pytest.fail(f"the request ended before it could be interrupted: {task.result()}")
        assert time.monotonic() < deadline, "the work never showed up"
        await asyncio.sleep(0.002)
    server.kill()
    with pytest.raises(httpx.TransportError):
        await task


def _exists(path: Path) -> bool:
    return path.exists()


def _part_files(folder: Path) -> list[Path]:
    """Files being written in `folder` or in a folder of its own there."""
    return [*folder.glob(".*.part"), *folder.glob("*/.*.part")] if folder.is_dir() else []


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _blobs(root: Path) -> dict[str, Path]:
    return {p.name: p for p in root.glob("??/*") if p.is_file()} if root.is_dir() else {}


@asynccontextmanager
async def row_lock_probe(database_url: str) -> AsyncIterator[Callable[[str], Awaitable[bool]]]:
    """Whether some transaction holds the packet's row lock (on SQLite: the write lock)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":

        def sqlite_locked() -> bool:
            probe = sqlite3.connect(str(url.database), timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError as error:
                assert "locked" in str(error)
                return True
            finally:
                probe.close()

        async def probe_sqlite(_packet_id: str) -> bool:
            return await asyncio.to_thread(sqlite_locked)

        yield probe_sqlite
        return
    connection = await asyncpg.connect(database_url)

    async def probe_postgres(packet_id: str) -> bool:
        try:
            async with connection.transaction():
                await connection.execute(
                    "SELECT 1 FROM arkham_packets WHERE id = $1 FOR UPDATE NOWAIT", packet_id
                )
        except asyncpg.LockNotAvailableError:
            return True
        return False

    try:
        yield probe_postgres
    finally:
        await connection.close()


async def leftovers(data_dir: Path, database_url: str) -> list[str]:
    """Everything a crash may have left that the start-up sweep should have removed, and
    every row that disagrees with the rows it counts."""
    problems: list[str] = []
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(packets))).mappings().all()
            contents = (await conn.execute(select(packet_contents))).mappings().all()
            versions = (await conn.execute(select(packet_versions))).mappings().all()
            exported = set((await conn.scalars(select(packet_exports.c.file_path))).all())
            registered = set((await conn.scalars(select(packet_files.c.sha256))).all())
            named = {c["file_sha256"] for c in contents if c["file_sha256"]}
            named |= set((await conn.scalars(select(snapshot_files.c.file_sha256))).all())
            sequences = (
                await conn.execute(select(func.count(), func.count(outbox.c.sequence.distinct())))
            ).one()
    finally:
        await engine.dispose()
    ids = {row["id"] for row in rows}
    for row in rows:
        mine = [c for c in contents if c["packet_id"] == row["id"]]
        if row["contents_count"] != len(mine):
            problems.append(
                f"{row['id']}: contents_count {row['contents_count']}, rows {len(mine)}"
            )
        if row["size_bytes"] != sum(stored_size(c) for c in mine):
            problems.append(f"{row['id']}: size_bytes disagrees with its items")
        numbers = sorted(v["version_number"] for v in versions if v["packet_id"] == row["id"])
        # An imported packet's history starts at its bundle's version, then runs on gapless.
        if numbers and numbers != list(range(numbers[0], row["version"] + 1)):
            problems.append(f"{row['id']}: versions {numbers}, packet at {row['version']}")
        sealed = [v for v in versions if v["packet_id"] == row["id"] and v["kind"] == "finalized"]
        if sealed and row["checksum"] is None:
            problems.append(f"{row['id']}: a finalized version of an unsealed packet")
    problems += [
        f"version of a missing packet {v['packet_id']}"
        for v in versions
        if v["packet_id"] not in ids
    ]
    if sequences[0] != sequences[1]:
        problems.append("duplicate outbox sequence numbers")

    on_disk = await asyncio.to_thread(stray_files, data_dir, exported, named & registered)
    return problems + on_disk


def stray_files(data_dir: Path, exported: set[str], kept_blobs: set[str]) -> list[str]:
    problems = [f"left in tmp/: {name}" for name in _entries(data_dir / "tmp")]
    staging = data_dir / "files" / ".staging"
    problems += [f"left in files/.staging: {name}" for name in _entries(staging)]
    recorded = {(data_dir / path).resolve() for path in exported}  # a place, or a path
    exports = data_dir / "exports"
    if exports.is_dir():
        problems += [
            f"unrecorded export file {path.name}"
            for path in exports.iterdir()
            if path.resolve() not in recorded
        ]
    problems += [
        f"unreferenced blob {sha256}"
        for sha256 in _blobs(data_dir / "files")
        if sha256 not in kept_blobs
    ]
    return problems


@pytest.fixture
async def server(tmp_path: Path, database_url: str) -> AsyncIterator[Server]:
    if POSTGRES_URL:
        await reset_postgres(database_url)
    running = Server(tmp_path / "data", database_url, tmp_path / "server.log")
    try:
        yield running
    finally:
        running.stop()


async def test_a_killed_server_leaves_nothing_half_done(
    server: Server, tmp_path: Path, database_url: str
) -> None:
    source = await build_source(tmp_path / "source")
    data_dir = server.data_dir
    blob = data_dir / "files" / source.file_sha256[:2] / source.file_sha256
    await server.start()

    # 1. An import, killed once its attachment has entered the store, before it commits.
    async with server.client() as http:
        upload = http.post("/import", files={"file": ("sealed.zip", source.sealed_bundle)})
        await kill_when(server, upload, lambda: asyncio.to_thread(_exists, blob))
    await server.start()
    assert await leftovers(data_dir, database_url) == []
    assert not blob.exists()
    async with server.client() as http:
        assert (await http.get(f"/{source.packet_id}")).status_code == 404
        feed = (await http.get("/events", params={"limit": 1000})).json()["events"]
        assert not [e for e in feed if e["payload"].get("packet_id") == source.packet_id]

        # 2. An export, killed while it writes its archive; an earlier export is kept.
        imported = await http.post("/import", files={"file": ("draft.zip", source.draft_bundle)})
        assert imported.status_code == 201, imported.text
        packet_url = f"/{source.packet_id}"
        kept = (await http.post(f"{packet_url}/export", json={"format": "json"})).json()
        exports = data_dir / "exports"
        export = http.post(f"{packet_url}/export", json={"format": "zip"})
        # assembled in a scratch folder of its own under tmp/, then put in the store
        assembling = data_dir / "tmp"
        await kill_when(
            server, export, lambda: asyncio.to_thread(lambda: bool(_part_files(assembling)))
        )
    await server.start()
    assert await leftovers(data_dir, database_url) == []
    async with server.client() as http:
        again = await http.get(f"{packet_url}/exports/{kept['export_id']}")
        assert again.status_code == 200
        assert len(again.content) == kept["file_size_bytes"]
        assert len(_entries(exports)) == 1

        # 3. A finalize, killed while it holds the packet's lock.
        async with row_lock_probe(database_url) as locked:
            finalize = http.post(f"{packet_url}/finalize")
            await kill_when(server, finalize, lambda: locked(source.packet_id))
    await server.start()
    assert await leftovers(data_dir, database_url) == []
    async with server.client() as http:
        packet = (await http.get(packet_url)).json()
        assert packet["status"] == "draft" and packet["checksum"] is None
        assert packet["contents_count"] == ITEMS
        versions = (await http.get(f"{packet_url}/versions")).json()
        assert "finalized" not in {v["kind"] for v in versions}
        entry = with_file(await http.get(f"{packet_url}/contents"))
        file = await http.get(f"{packet_url}/contents/{entry}/file")
        assert file.status_code == 200 and len(file.content) == FILE_BYTES
        sealed = await http.post(f"{packet_url}/finalize")
        assert sealed.status_code == 200, sealed.text
        assert (await http.get(f"{packet_url}/verify")).json()["valid"] is True
    assert await leftovers(data_dir, database_url) == []


def with_file(listing: httpx.Response) -> str:
    (entry,) = [item["id"] for item in listing.json() if item["file"] is not None]
    return str(entry)


def _age(path: Path, seconds: float) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


async def test_the_sweep_spares_young_files_and_everything_still_named(
    app: Any, client: httpx.AsyncClient
) -> None:
    services = app.state.packets_shard.services
    data_dir: Path = services.data_dir
    packet = (await client.post(f"{API}/", json={"name": "kept"})).json()
    item = (
        await client.post(
            f"{API}/{packet['id']}/contents", json={"content_type": "document", "content_id": "d"}
        )
    ).json()
    attached = await client.put(
        f"{API}/{packet['id']}/contents/{item['id']}/file", files={"file": ("a.txt", b"kept")}
    )
    kept_blob = services.files.path_of(attached.json()["file"]["sha256"])
    export = (await client.post(f"{API}/{packet['id']}/export", json={"format": "json"})).json()
    old_stray = services.files.path_of("ab" * 32)
    young_stray = services.files.path_of("cd" * 32)
    strays = {
        "old tmp folder": data_dir / "tmp" / "tmpabc" / "item.json",
        "young tmp file": data_dir / "tmp" / ".spool-young",
        "old spool": data_dir / "files" / ".staging" / ".spool-old",
        "old unrecorded export": data_dir / "exports" / "packet-x.zip",
        "young half-written export": data_dir / "exports" / ".packet-y.zip.1.part",
        "old blob": old_stray,
        "young blob": young_stray,
    }
    for path in strays.values():
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, b"left behind")
    for path in (
        strays["old tmp folder"],
        strays["old tmp folder"].parent,
        strays["old spool"],
        strays["old unrecorded export"],
        old_stray,
        kept_blob,
        data_dir / export["file_path"],
    ):
        await asyncio.to_thread(_age, path, 7200)

    swept = await services.recovery.sweep()  # the default grace: an hour

    assert (swept.temporary, swept.exports, swept.blobs) == (2, 1, 1)
    remaining = {name for name, path in strays.items() if await asyncio.to_thread(_exists, path)}
    assert remaining == {"young tmp file", "young half-written export", "young blob"}
    for kept in (kept_blob, data_dir / export["file_path"]):
        assert await asyncio.to_thread(_exists, kept)
    got = await client.get(f"{API}/{packet['id']}/contents/{item['id']}/file")
    assert got.content == b"kept"
