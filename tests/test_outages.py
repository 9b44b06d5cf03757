"""A lost database connection answers 503 with Retry-After (a read is tried once more on a fresh
connection first) and a full disk answers 507; neither leaves anything half-written
(issue 13, findings 8 and 9)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.host.app import HostConfig, create_app

from .bundle_helpers import leftover_files
from .conftest import POSTGRES_URL, add_item, make_packet, reset_postgres

API = "/api/packets"
postgres_only = pytest.mark.skipif(not POSTGRES_URL, reason="terminates PostgreSQL backends")


def outage_answer(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert "database" in response.json()["detail"]


# -- finding 8: the database connection is lost ------------------------------------------------


async def killer() -> Any:
    import asyncpg

    assert POSTGRES_URL is not None
    return await asyncpg.connect(POSTGRES_URL)


async def terminate_waiting(conn: Any, request: asyncio.Task[httpx.Response]) -> int:
    """Terminate the app's backend that waits for our table lock, once it waits (a loaded
    machine can take seconds to bring the request that far). Read from `pg_locks`, which is
    live: `pg_stat_activity` is read once a transaction, and ours holds the lock, so a backend
    the app connects after our first look would never show there."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not request.done():
        pids = await conn.fetch(
            "SELECT DISTINCT pid FROM pg_locks WHERE NOT granted "
            "AND relation = 'arkham_packets'::regclass AND pid <> pg_backend_pid()"
        )
        if pids:
            for row in pids:
                await conn.execute("SELECT pg_terminate_backend($1)", row["pid"])
            return len(pids)
        await asyncio.sleep(0.02)
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    sessions = await conn.fetch(
        "SELECT state, wait_event_type, wait_event, left(query, 120) AS query "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    answered = (request.exception() or request.result().text) if request.done() else "still running"
    raise AssertionError(
        f"no request came to wait for the lock; the request: {answered!r}; "
        f"sessions: {[dict(row) for row in sessions]}"
    )


@postgres_only
async def test_a_read_whose_connection_dies_is_tried_again(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client, "survivor")
    conn = await killer()
    try:
        lock = conn.transaction()
        await lock.start()
        await conn.execute("LOCK TABLE arkham_packets IN ACCESS EXCLUSIVE MODE")
        read = asyncio.create_task(client.get(f"{API}/{packet['id']}"))
        assert await terminate_waiting(conn, read) == 1
        await lock.rollback()
        response = await read
    finally:
        await conn.close()
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "survivor"


@postgres_only
async def test_a_write_whose_connection_dies_is_503_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    packet = await make_packet(client)
    conn = await killer()
    try:
        lock = conn.transaction()
        await lock.start()
        await conn.execute("LOCK TABLE arkham_packets IN ACCESS EXCLUSIVE MODE")
        write = asyncio.create_task(
            client.post(
                f"{API}/{packet['id']}/contents",
                json={"content_type": "document", "content_id": "lost"},
            )
        )
        assert await terminate_waiting(conn, write) == 1
        await lock.rollback()
        response = await write
    finally:
        await conn.close()
    outage_answer(response)
    assert (await client.get(f"{API}/{packet['id']}")).json()["contents_count"] == 0
    assert (await client.get(f"{API}/{packet['id']}/contents")).json() == []
    # the next request finds a fresh connection
    await add_item(client, packet["id"], "after")


@postgres_only
async def test_backends_terminated_during_traffic(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    answers: list[httpx.Response] = []
    done = asyncio.Event()

    async def traffic(worker: int) -> None:
        number = 0
        while not done.is_set():
            number += 1
            if worker % 2:
                answers.append(await client.get(f"{API}/{packet['id']}"))
            else:
                answers.append(
                    await client.post(
                        f"{API}/{packet['id']}/contents",
                        json={"content_type": "claim", "content_id": f"c{worker}-{number}"},
                    )
                )

    workers = [asyncio.create_task(traffic(worker)) for worker in range(8)]
    conn = await killer()
    try:
        for _ in range(6):
            await asyncio.sleep(0.25)
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    finally:
        await conn.close()
        await asyncio.sleep(0.25)
        done.set()
        await asyncio.gather(*workers)
    statuses = sorted({response.status_code for response in answers})
    assert set(statuses) <= {200, 201, 503}, statuses
    for response in answers:
        if response.status_code == 503:
            outage_answer(response)
    # nothing half-written: the count is the rows, every 201 is there
    listed = (await client.get(f"{API}/{packet['id']}/contents")).json()
    counted = (await client.get(f"{API}/{packet['id']}")).json()["contents_count"]
    assert counted == len(listed)
    created = {r.json()["id"] for r in answers if r.status_code == 201}
    assert created <= {item["id"] for item in listed}


# -- finding 9: the disk is full ---------------------------------------------------------------

DISK_BYTES = 12 * 1024 * 1024


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[Path]:
    """A real filesystem of DISK_BYTES (tmpfs); mounting needs root."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            raise AssertionError(f"can't mount a small filesystem: {mounted.stderr}")
        pytest.skip(f"can't mount a small filesystem here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk; the file's removal gives them back."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        for size in (65536, 4096, 512, 1):  # the last blocks, when a chunk no longer fits
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    return filler


@pytest.fixture
async def full_disk_app(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, Path]]:
    with small_disk(tmp_path / "disk") as disk:
        if POSTGRES_URL:
            await reset_postgres(POSTGRES_URL)
        app = create_app(HostConfig(data_dir=disk / "data", database_url=POSTGRES_URL))
        async with app.router.lifespan_context(app):
            yield app, disk


async def test_a_full_disk_is_507_and_the_data_stays_consistent(
    full_disk_app: tuple[FastAPI, Path],
) -> None:
    app, disk = full_disk_app
    data_dir = app.state.packets_shard.services.data_dir
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        packet = await make_packet(client)
        item = await add_item(client, packet["id"])
        file_url = f"{API}/{packet['id']}/contents/{item['id']}/file"
        kept = await client.put(file_url, files={"file": ("kept.bin", os.urandom(100_000))})
        assert kept.status_code == 200, kept.text
        before_full = (await client.get(f"{API}/{packet['id']}")).json()

        filler = fill(disk)
        answers = {
            "upload": await client.put(
                file_url, files={"file": ("big.bin", os.urandom(2 * 1024 * 1024))}
            ),
            "export": await client.post(f"{API}/{packet['id']}/export", json={"format": "zip"}),
        }
        if not POSTGRES_URL:  # the database lives on the full disk too
            answers["create"] = await client.post(f"{API}/", json={"name": "no room"})
            answers["share"] = await client.post(
                f"{API}/{packet['id']}/share", json={"shared_with": "public"}
            )
            answers["finalize"] = await client.post(f"{API}/{packet['id']}/finalize")
        for action, response in answers.items():
            assert response.status_code == 507, (action, response.text)
            assert "full" in response.json()["detail"], action
        assert (await client.get(f"{API}/{packet['id']}")).json() == before_full

        filler.unlink()
        assert leftover_files(data_dir / "tmp") == []
        assert leftover_files(data_dir / "files" / ".staging") == []
        assert leftover_files(data_dir / "exports") == []
        got = await client.get(file_url)
        assert got.status_code == 200 and len(got.content) == 100_000
        finalized = await client.post(f"{API}/{packet['id']}/finalize")
        assert finalized.status_code == 200, finalized.text
        verified = (await client.get(f"{API}/{packet['id']}/verify")).json()
        assert verified["valid"] is True, verified["problems"]
        exported = await client.post(f"{API}/{packet['id']}/export", json={"format": "zip"})
        assert exported.status_code == 200, exported.text
        counted = await client.get(f"{API}/count")
        assert counted.json() == {"count": 1}
