"""The sweep of a shared store: incomplete multipart uploads a killed server left in the bucket
are aborted by another server's sweep once the grace period has passed, never sooner and never
outside the store's own keys.

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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.core.store import blob_key
from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.recovery import Recovery

from .conftest import POSTGRES_URL, reset_postgres
from .s3_bucket import Bucket
from .test_crash_recovery import Server, kill_when

API = "/api/packets"
MIB = 1024 * 1024


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
        tmp_dir=recovery.tmp_dir,
        exports_dir=recovery.exports_dir,
        grace_seconds=seconds,
    )


@pytest.fixture
async def database(database_url: str) -> str:
    if POSTGRES_URL:
        await reset_postgres(database_url)
    return database_url


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
    tmp_path: Path, database: str, s3_store: str, s3_bucket: Bucket
) -> None:
    left = s3_store + blob_key("ab" * 32)
    await leave_upload(s3_bucket, left, parts=1)
    await leave_upload(s3_bucket, s3_store + "elsewhere/notes.bin", parts=0)  # not the shard's
    other_store = s3_bucket.new_prefix()
    await leave_upload(s3_bucket, other_store + blob_key("cd" * 32), parts=0)
    async with server(tmp_path / "one", database) as app:
        swept = await recovery_of(app).sweep()  # an hour's grace: its part arrived just now
        assert swept.uploads == 0
        assert await uploads(s3_bucket, s3_store) == {
            blob_key("ab" * 32): 1,
            "elsewhere/notes.bin": 0,
        }

        await leave_upload(s3_bucket, s3_store + "exports/packet-x.zip", parts=0)
        await asyncio.sleep(1.1)  # S3 dates a part to the second
        swept = await with_grace(recovery_of(app), 1.0).sweep()
        assert (swept.uploads, swept.total) == (2, 2)
        assert await uploads(s3_bucket, s3_store) == {"elsewhere/notes.bin": 0}
        assert await uploads(s3_bucket, other_store) == {blob_key("cd" * 32): 0}
        assert (await with_grace(recovery_of(app), 0).sweep()).uploads == 0


async def parts_sent(bucket: Bucket, prefix: str) -> bool:
    """Whether an upload under `prefix` has a part in the bucket."""
    return any(parts >= 1 for parts in (await uploads(bucket, prefix + "files/")).values())


async def test_a_server_killed_mid_upload_leaves_nothing_after_another_sweeps(
    tmp_path: Path,
    database: str,
    s3_store: str,
    s3_bucket: Bucket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    killed = Server(
        tmp_path / "killed", database, tmp_path / "killed.log", s3_bucket.settings(s3_store)
    )
    data = os.urandom(64 * MIB)  # eight parts of 8 MiB
    try:
        await killed.start()
        async with killed.client() as http:
            packet = (await http.post("/", json={"name": "Footage"})).json()
            item = await http.post(
                f"/{packet['id']}/contents", json={"content_type": "document", "content_id": "v"}
            )
            upload = http.put(
                f"/{packet['id']}/contents/{item.json()['id']}/file",
                files={"file": ("film.bin", data, "video/mp4")},
            )
            await kill_when(killed, upload, lambda: parts_sent(s3_bucket, s3_store))
    finally:
        killed.stop()
    left = await uploads(s3_bucket, s3_store)
    digest = hashlib.sha256(data).hexdigest()
    assert list(left) == [blob_key(digest)] and left[blob_key(digest)] >= 1
    assert blob_key(digest) not in await s3_bucket.keys(s3_store)

    async with server(tmp_path / "other", database) as app:  # its start-up sweep: an hour's grace
        assert await uploads(s3_bucket, s3_store) == left
        await asyncio.sleep(1.1)
        with caplog.at_level(logging.WARNING, logger="arkham_shard_packets.recovery"):
            swept = await with_grace(recovery_of(app), 1.0).sweep()
        assert swept.uploads == 1
        assert "1 incomplete upload(s)" in caplog.text
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://other"
        ) as http:
            (entry,) = (await http.get(f"{API}/{packet['id']}/contents")).json()
            assert entry["file"] is None
    assert await uploads(s3_bucket, s3_store) == {}
    assert [key for key in await s3_bucket.keys(s3_store) if key.startswith("files/")] == []
