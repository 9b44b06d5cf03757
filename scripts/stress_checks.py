"""What must hold after the stress run, checked through the API and in SQL. Each function
returns the violations it found, one line each."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from arkham_shard_packets.core.canonical import canonical_json
from arkham_shard_packets.core.store import blob_digest
from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.tables import (
    outbox,
    packet_contents,
    packet_files,
    packet_versions,
    packets,
)
from arkham_shard_packets.records.packets import stored_size

SEALED = {"finalized", "shared"}
DELIVERY_PATIENCE = 20.0


@dataclass
class Rows:
    packets: list[Any]
    contents: list[Any]
    versions: list[Any]
    registered: set[str]
    outbox_sequences: list[int]
    outbox_positions: list[int | None]
    pending: int


async def load_rows(database_url: str) -> Rows:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return Rows(
                packets=list((await conn.execute(select(packets))).mappings()),
                contents=list((await conn.execute(select(packet_contents))).mappings()),
                versions=list((await conn.execute(select(packet_versions))).mappings()),
                registered=set((await conn.scalars(select(packet_files.c.sha256))).all()),
                outbox_sequences=list((await conn.scalars(select(outbox.c.sequence))).all()),
                outbox_positions=list((await conn.scalars(select(outbox.c.position))).all()),
                pending=int(
                    await conn.scalar(select(func.count()).where(outbox.c.delivered_at.is_(None)))
                    or 0
                ),
            )
    finally:
        await engine.dispose()


async def drained_rows(database_url: str) -> tuple[Rows, list[str]]:
    """The rows once every event has been delivered (the servers' retry loops finish what
    a commit's own delivery left pending); a violation if some never are."""
    deadline = time.monotonic() + DELIVERY_PATIENCE
    while True:
        rows = await load_rows(database_url)
        if rows.pending == 0:
            return rows, []
        if time.monotonic() > deadline:
            return rows, [f"{rows.pending} events still undelivered after {DELIVERY_PATIENCE}s"]
        await asyncio.sleep(0.5)


def local_blobs(data_dir: Path) -> set[str]:
    """The digests of the attached files in a local store (`files/<aa>/<sha256>`)."""
    found = (
        blob_digest(path.relative_to(data_dir).as_posix()) for path in data_dir.glob("files/*/*")
    )
    return {digest for digest in found if digest is not None}


def sql_violations(rows: Rows, stored: set[str]) -> list[str]:
    problems: list[str] = []
    contents_of: dict[str, list[Any]] = {}
    for item in rows.contents:
        contents_of.setdefault(item["packet_id"], []).append(item)
    versions_of: dict[str, list[Any]] = {}
    for version in rows.versions:
        versions_of.setdefault(version["packet_id"], []).append(version)
    for packet in rows.packets:
        pid, items = packet["id"], contents_of.get(packet["id"], [])
        if packet["contents_count"] != len(items):
            problems.append(f"{pid}: contents_count {packet['contents_count']}, rows {len(items)}")
        if packet["size_bytes"] != sum(stored_size(item) for item in items):
            problems.append(f"{pid}: size_bytes {packet['size_bytes']} is not the items' sum")
        numbers = sorted(v["version_number"] for v in versions_of.get(pid, []))
        if numbers != list(range(1, packet["version"] + 1)):
            problems.append(f"{pid}: versions {numbers} for version {packet['version']}")
        sealed = [v for v in versions_of.get(pid, []) if v["kind"] == "finalized"]
        if len(sealed) != (1 if packet["status"] in SEALED else 0):
            problems.append(f"{pid}: {len(sealed)} finalized versions while {packet['status']}")
        keys = Counter((item["content_type"], item["content_id"]) for item in items)
        problems += [f"{pid}: {key} is in it {n} times" for key, n in keys.items() if n > 1]
    for item in rows.contents:
        sha256 = item["file_sha256"]
        if sha256 is None:
            continue
        if sha256 not in rows.registered:
            problems.append(f"blob {sha256} is attached but not registered")
        if sha256 not in stored:
            problems.append(f"blob {sha256} is attached but not stored")
    if len(set(rows.outbox_sequences)) != len(rows.outbox_sequences):
        problems.append("the outbox has duplicate sequence numbers")
    if sorted(p or 0 for p in rows.outbox_positions) != list(
        range(1, len(rows.outbox_positions) + 1)
    ):
        problems.append("the outbox's feed positions are not 1..n, each once")
    return problems


def item_size(item: dict[str, Any]) -> int:
    data = 0 if item["data"] is None else len(canonical_json(item["data"]).encode("utf-8"))
    return data + (item["file"]["size"] if item["file"] else 0)


async def api_violations(client: httpx.AsyncClient, rows: Rows) -> list[str]:
    problems: list[str] = []
    for row in rows.packets:
        pid = row["id"]
        packet = (await client.get(f"/{pid}")).json()
        answer = await client.get(f"/{pid}/contents")
        listed, total = answer.json(), int(answer.headers["x-total-count"])
        if packet["contents_count"] != total or total != len(listed):
            problems.append(f"{pid}: API contents_count {packet['contents_count']}, listed {total}")
        if packet["size_bytes"] != sum(item_size(item) for item in listed):
            problems.append(f"{pid}: API size_bytes is not the sum of its items")
        if packet["status"] in SEALED:
            verified = (await client.get(f"/{pid}/verify")).json()
            if not verified["valid"]:
                problems.append(f"{pid}: does not verify: {verified['problems']}")
        for item in listed:
            if item["file"] is None:
                continue
            got = await client.get(f"/{pid}/contents/{item['id']}/file")
            if (
                got.status_code != 200
                or hashlib.sha256(got.content).hexdigest() != item["file"]["sha256"]
            ):
                problems.append(f"{pid}: the file of {item['id']} is not served intact")
    return problems


async def feed_violations(client: httpx.AsyncClient, rows: Rows) -> list[str]:
    """The durable feed serves every event once, in the order of its positions."""
    positions: list[int] = []  # each event's `sequence` field: its position in the feed
    after = 0
    while True:
        page = (await client.get("/events", params={"after": after, "limit": 1000})).json()
        positions += [event["sequence"] for event in page["events"]]
        if not page["events"]:
            break
        after = page["next_after"]
    problems = []
    if positions != sorted(set(positions)):
        problems.append("the feed repeats or reorders positions")
    if positions != sorted(p for p in rows.outbox_positions if p is not None):
        problems.append(f"the feed served {len(positions)} of {len(rows.outbox_positions)} events")
    return problems


async def check_everything(
    client: httpx.AsyncClient, database_url: str, stored_blobs: Callable[[], Awaitable[set[str]]]
) -> list[str]:
    """`stored_blobs`: the digests of the attached files the store holds."""
    rows, problems = await drained_rows(database_url)
    problems += sql_violations(rows, await stored_blobs())
    problems += await api_violations(client, rows)
    problems += await feed_violations(client, rows)
    sealed = sum(row["status"] in SEALED for row in rows.packets)
    print(
        f"stress: checked {len(rows.packets)} packets ({sealed} sealed), "
        f"{len(rows.contents)} items, {len(rows.versions)} versions, "
        f"{len(rows.outbox_sequences)} events"
    )
    return problems
