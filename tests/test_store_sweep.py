"""The sweep of a shared store: incomplete multipart uploads a killed server left in the bucket
are aborted by another server's sweep once the grace period has passed, never sooner and never
outside the store's own keys; and servers sharing a database sweep the store one at a time,
through a lease that a killed holder doesn't keep.

Real servers on the suite's database (SQLite, or PostgreSQL with PACKETS_TEST_DATABASE_URL):
in process, and `arkham-packets serve` in a subprocess where a server is killed. The bucket is
moto_server's (or PACKETS_TEST_S3_URL's), reached by the tests' own client to leave uploads as a
killed server would and to see what stays.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from subprocess import PIPE

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.core.store import blob_key
from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.recovery import Recovery, Swept

from .byte_gate import bytes_then_hold
from .s3_bucket import Bucket
from .test_crash_recovery import Server, kill_when

API = "/api/packets"
MIB = 1024 * 1024
GRACE = "ARKHAM_PACKETS_RECOVERY_GRACE_SECONDS"
HOLD_LEASE = """
import asyncio, sys
from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.lease import Lease
from arkham_shard_packets.db.session import Database

async def hold(url, name):
    async with Lease(Database(create_engine(url)), name).held() as mine:
        print("held" if mine else "not held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(hold(*sys.argv[1:]))
"""


@asynccontextmanager
async def server(data_dir: Path, database_url: str) -> AsyncIterator[FastAPI]:
    """A server in process (the store the environment names) on the shared database."""
    app = create_app(HostConfig(data_dir=data_dir, database_url=database_url))
    async with app.router.lifespan_context(app):
        yield app


def recovery_of(app: FastAPI) -> Recovery:
    recovery: Recovery = app.state.packets_shard.services.recovery
    return recovery


def with_grace(recovery: Recovery, seconds: float) -> Recovery:
    """The same server's sweep, with another grace period."""
    return Recovery(
        recovery.tx,
        recovery.store,
        recovery.lease,
        tmp_dir=recovery.tmp_dir,
        exports_dir=recovery.exports_dir,
        grace_seconds=seconds,
    )


@pytest.fixture(params=["local", "s3"])
def either_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The servers this test starts keep their files in the data directory, or in the bucket
    under a prefix of the test's own, whatever PACKETS_TEST_STORE says."""
    if request.param == "s3":
        request.getfixturevalue("s3_store")
    else:
        monkeypatch.setenv("ARKHAM_PACKETS_STORE", "local")
    return str(request.param)


async def uploads(bucket: Bucket, prefix: str) -> dict[str, int]:
    """The incomplete multipart uploads under `prefix`: each key (under it) with its parts."""
    found: dict[str, int] = {}
    async with bucket.client() as s3:
        listed = await s3.list_multipart_uploads(Bucket=bucket.name, Prefix=prefix)
        for upload in listed.get("Uploads", []):
            parts = await s3.list_parts(
                Bucket=bucket.name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
            found[upload["Key"][len(prefix) :]] = len(parts.get("Parts", []))
    return found


async def leave_upload(bucket: Bucket, key: str, parts: int) -> None:
    """A multipart upload begun and never completed, as a server killed mid-put leaves it."""
    async with bucket.client() as s3:
        begun = await s3.create_multipart_upload(Bucket=bucket.name, Key=key)
        for number in range(1, parts + 1):
            await s3.upload_part(
                Bucket=bucket.name,
                Key=key,
                UploadId=begun["UploadId"],
                PartNumber=number,
                Body=os.urandom(64 * 1024),
            )


async def test_a_left_upload_is_aborted_after_the_grace_and_a_fresh_one_is_not(
    tmp_path: Path, database_url: str, s3_store: str, s3_bucket: Bucket
) -> None:
    left = s3_store + blob_key("ab" * 32)
    await leave_upload(s3_bucket, left, parts=1)
    await leave_upload(s3_bucket, s3_store + "elsewhere/notes.bin", parts=0)  # not the shard's
    other_store = s3_bucket.new_prefix()
    await leave_upload(s3_bucket, other_store + blob_key("cd" * 32), parts=0)
    async with server(tmp_path / "one", database_url) as app:
        swept = await recovery_of(app).sweep()  # an hour's grace: its part arrived just now
        assert (swept.store_swept, swept.uploads) == (True, 0)
        assert await uploads(s3_bucket, s3_store) == {
            blob_key("ab" * 32): 1,
            "elsewhere/notes.bin": 0,
        }

        await leave_upload(s3_bucket, s3_store + "exports/packet-x.zip", parts=0)
        # Without parts, an upload counts as begun when a sweep first saw it so (a service may
        # date it wrongly, as moto_server does: 2010): its first part may be on its way.
        first = await with_grace(recovery_of(app), 1.0).sweep()
        assert "exports/packet-x.zip" in await uploads(s3_bucket, s3_store)
        await asyncio.sleep(1.1)  # S3 dates a part to the second
        swept = await with_grace(recovery_of(app), 1.0).sweep()
        assert (first.uploads + swept.uploads, first.total + swept.total) == (2, 2)
        assert await uploads(s3_bucket, s3_store) == {"elsewhere/notes.bin": 0}
        assert await uploads(s3_bucket, other_store) == {blob_key("cd" * 32): 0}
        assert (await with_grace(recovery_of(app), 0).sweep()).uploads == 0


async def test_a_server_moving_into_the_bucket_aborts_its_left_uploads(
    tmp_path: Path,
    database_url: str,
    s3_store: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While an installation moves (the bucket, reads falling back to the data directory), the
    bucket's left uploads are swept as on the s3 store alone."""
    monkeypatch.setenv("ARKHAM_PACKETS_STORE_FALLBACK", "local")
    await leave_upload(s3_bucket, s3_store + blob_key("ef" * 32), parts=1)
    async with server(tmp_path / "moving", database_url) as app:
        assert type(recovery_of(app).store).__name__ == "FallbackStore"
        await asyncio.sleep(1.1)  # S3 dates a part to the second
        swept = await with_grace(recovery_of(app), 1.0).sweep()
        assert swept.uploads == 1
        assert await uploads(s3_bucket, s3_store) == {}


async def parts_sent(bucket: Bucket, prefix: str) -> bool:
    """Whether an upload under `prefix` has a part in the bucket."""
    return any(parts >= 1 for parts in (await uploads(bucket, prefix + "files/")).values())


async def kill_mid_upload(
    killed: Server, data: bytes, bucket: Bucket, prefix: str
) -> dict[str, str]:
    """The packet `killed` was uploading `data` to when it was killed, once a part was sent."""
    try:
        await killed.start()
        async with killed.client() as http:
            packet: dict[str, str] = (await http.post("/", json={"name": "Footage"})).json()
            item = await http.post(
                f"/{packet['id']}/contents", json={"content_type": "document", "content_id": "v"}
            )
            upload = http.put(
                f"/{packet['id']}/contents/{item.json()['id']}/file",
                files={"file": ("film.bin", data, "video/mp4")},
            )
            await kill_when(killed, upload, lambda: parts_sent(bucket, prefix))
    finally:
        killed.stop()
    return packet


async def test_a_server_killed_mid_upload_leaves_nothing_after_another_sweeps(
    tmp_path: Path,
    database_url: str,
    s3_store: str,
    s3_bucket: Bucket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = os.urandom(64 * MIB)  # eight parts of 8 MiB
    async with bytes_then_hold(s3_bucket.endpoint_url, 12 * MIB) as gate:
        # the first part reaches the bucket whole, the second is held half-way
        settings = {**s3_bucket.settings(s3_store), "ARKHAM_PACKETS_S3_ENDPOINT_URL": gate}
        killed = Server(tmp_path / "killed", database_url, tmp_path / "killed.log", settings)
        packet = await kill_mid_upload(killed, data, s3_bucket, s3_store)
    left = await uploads(s3_bucket, s3_store)
    digest = hashlib.sha256(data).hexdigest()
    assert list(left) == [blob_key(digest)] and left[blob_key(digest)] >= 1
    assert blob_key(digest) not in await s3_bucket.keys(s3_store)

    # its start-up sweep: an hour's grace
    async with server(tmp_path / "other", database_url) as app:
        assert await uploads(s3_bucket, s3_store) == left
        await asyncio.sleep(1.1)
        with caplog.at_level(logging.WARNING, logger="arkham_shard_packets.recovery"):
            swept = await with_grace(recovery_of(app), 1.0).sweep()
        assert (swept.store_swept, swept.uploads) == (True, 1)
        assert "1 incomplete upload(s)" in caplog.text
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://other"
        ) as http:
            (entry,) = (await http.get(f"{API}/{packet['id']}/contents")).json()
            assert entry["file"] is None
    assert await uploads(s3_bucket, s3_store) == {}
    assert [key for key in await s3_bucket.keys(s3_store) if key.startswith("files/")] == []


async def leave_strays(app: FastAPI, tmp_path: Path) -> list[str]:
    """An unreferenced blob and an unrecorded export, put in the store as a killed server
    would have left them: their keys."""
    store = app.state.packets_shard.services.files
    source = tmp_path / "stray.bin"
    await asyncio.to_thread(source.write_bytes, b"nobody names me")
    keys = [blob_key(hashlib.sha256(b"nobody names me").hexdigest()), "exports/packet-k.zip"]
    for key in keys:
        await store.put(key, source)
    return keys


async def present(app: FastAPI, keys: list[str]) -> list[str]:
    store = app.state.packets_shard.services.files
    return [key for key in keys if await store.size(key) is not None]


def store_work(swept: Swept) -> tuple[bool, int]:
    return swept.store_swept, swept.blobs + swept.exports + swept.uploads


async def test_two_servers_sharing_a_store_sweep_it_one_at_a_time(
    tmp_path: Path,
    database_url: str,
    either_store: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(GRACE, "0")
    shared = tmp_path / "data"  # the same store, local or in the bucket: the same lease
    async with server(shared, database_url) as one, server(shared, database_url) as two:
        first, second = recovery_of(one), recovery_of(two)
        assert first.lease.name == second.lease.name
        strays = await leave_strays(one, tmp_path)
        async with first.lease.held() as mine:
            assert mine
            with caplog.at_level(logging.DEBUG, logger="arkham_shard_packets.recovery"):
                skipped = await second.sweep()
        assert store_work(skipped) == (False, 0)
        assert "another server is sweeping the store" in caplog.text
        assert await present(one, strays) == strays

        both = await asyncio.gather(first.sweep(), second.sweep())
        assert sorted(store_work(swept) for swept in both) == [(False, 0), (True, 2)]
        assert await present(one, strays) == []
        assert store_work(await second.sweep()) == (True, 0)  # the lease was given back


async def test_a_lease_whose_holder_was_killed_is_taken(
    tmp_path: Path, database_url: str, either_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GRACE, "0")
    async with server(tmp_path / "data", database_url) as app:
        recovery = recovery_of(app)
        strays = await leave_strays(app, tmp_path)
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HOLD_LEASE, database_url, recovery.lease.name, stdout=PIPE
        )
        try:
            assert holder.stdout is not None
            assert await holder.stdout.readline() == b"held\n"
            assert store_work(await recovery.sweep()) == (False, 0)
            assert await present(app, strays) == strays
        finally:
            holder.send_signal(signal.SIGKILL)
            await holder.wait()
        swept = await recovery.sweep()
        deadline = time.monotonic() + 30
        while not swept.store_swept and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # PostgreSQL ends the dead holder's session
            swept = await recovery.sweep()
        assert store_work(swept) == (True, 2)
        assert await present(app, strays) == []
