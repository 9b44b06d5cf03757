"""One sequential client writing: every kind of write, against the floor insert.

Each round writes one new packet as the held-out probe does (its create, then three content
adds) and then edits it, removes one of its items and shares it; each of those writes is paired
with a floor insert (benchmarks/app.py: one packet row in one transaction), sent just before it
in one round and just after it in the next, so neither always follows the other's commit.
Reported per kind: median and p99; for all the shard's writes: how many one client gets done per
second. `cpu_per_write` measures the server's CPU instead: batches of one kind at a time.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .app import FLOOR_INSERT_PATH
from .stats import Sample, timed

API = "/api/packets"
CONTENT_ADDS = 3
WARMUP_ROUNDS = 10
KINDS = (
    "POST /",
    "POST /{id}/contents",
    "PUT /{id}",
    "DELETE /{id}/contents/{id}",
    "POST /{id}/share",
)
FLOOR = "floor insert"


@dataclass
class WriteSamples:
    floor: Sample = field(default_factory=Sample)
    kinds: dict[str, Sample] = field(default_factory=lambda: {kind: Sample() for kind in KINDS})

    @property
    def create(self) -> Sample:
        return self.kinds["POST /"]

    @property
    def add(self) -> Sample:
        return self.kinds["POST /{id}/contents"]

    @property
    def writes(self) -> Sample:
        """Every write of the shard."""
        return Sample([d for sample in self.kinds.values() for d in sample.durations])

    @property
    def writes_per_second(self) -> float:
        writes = self.writes
        return writes.count / sum(writes.durations) if writes.count else 0.0


async def send(client: httpx.AsyncClient, method: str, url: str, body: Any, expected: int) -> Any:
    response = await client.request(method, url, json=body)
    if response.status_code != expected:
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text}")
    return response.json() if response.content else None


def create(client: httpx.AsyncClient) -> Awaitable[Any]:
    return send(client, "POST", f"{API}/", {"name": "Sequential packet"}, 201)


def add(client: httpx.AsyncClient, packet_id: str) -> Awaitable[Any]:
    body = {"content_type": "document", "content_id": f"seq-{uuid.uuid4()}"}
    return send(client, "POST", f"{API}/{packet_id}/contents", body, 201)


def edit(client: httpx.AsyncClient, packet_id: str) -> Awaitable[Any]:
    body = {"description": f"Edited {uuid.uuid4()}"}
    return send(client, "PUT", f"{API}/{packet_id}", body, 200)


def remove(client: httpx.AsyncClient, packet_id: str, entry_id: str) -> Awaitable[Any]:
    return send(client, "DELETE", f"{API}/{packet_id}/contents/{entry_id}", None, 204)


def share(client: httpx.AsyncClient, packet_id: str) -> Awaitable[Any]:
    return send(client, "POST", f"{API}/{packet_id}/share", {"shared_with": "public"}, 201)


def floor_insert(client: httpx.AsyncClient) -> Awaitable[Any]:
    return send(client, "POST", FLOOR_INSERT_PATH, {}, 201)


class Round:
    """One round's writes, each beside a floor insert, recorded in `samples` (None: warm-up)."""

    def __init__(self, client: httpx.AsyncClient, samples: WriteSamples | None, floor_first: bool):
        self.client = client
        self.samples = samples
        self.floor_first = floor_first

    async def floor(self) -> None:
        work = floor_insert(self.client)
        await (work if self.samples is None else timed(self.samples.floor, work))

    async def write(self, kind: str, work: Awaitable[Any]) -> Any:
        if self.floor_first:
            await self.floor()
        result = await (work if self.samples is None else timed(self.samples.kinds[kind], work))
        if not self.floor_first:
            await self.floor()
        return result

    async def run(self) -> None:
        packet = await self.write("POST /", create(self.client))
        items = [
            await self.write("POST /{id}/contents", add(self.client, packet["id"]))
            for _ in range(CONTENT_ADDS)
        ]
        await self.write("PUT /{id}", edit(self.client, packet["id"]))
        await self.write(
            "DELETE /{id}/contents/{id}", remove(self.client, packet["id"], items[0]["id"])
        )
        await self.write("POST /{id}/share", share(self.client, packet["id"]))


async def sequential_writes(client: httpx.AsyncClient, rounds: int) -> WriteSamples:
    samples = WriteSamples()
    for round_number in range(WARMUP_ROUNDS + rounds):
        recorded = samples if round_number >= WARMUP_ROUNDS else None
        await Round(client, recorded, floor_first=round_number % 2 == 0).run()
    return samples


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux: /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


async def cpu_per_write(client: httpx.AsyncClient, pid: int, count: int) -> dict[str, float]:
    """Server CPU seconds per request of each kind: `count` requests of one kind at a time
    (the floor insert's split in two batches, first and last), CPU read before and after each."""
    packets: list[str] = []
    entries: list[tuple[str, str]] = []

    async def creates() -> None:
        packets.extend([(await create(client))["id"] for _ in range(count)])

    async def adds() -> None:
        entries.extend([(p, (await add(client, p))["id"]) for p in packets])

    async def floors() -> None:
        for _ in range(count // 2):
            await floor_insert(client)

    async def many(each: Callable[[str], Awaitable[Any]]) -> None:
        for packet_id in packets:
            await each(packet_id)

    async def removes() -> None:
        for packet_id, entry_id in entries:
            await remove(client, packet_id, entry_id)

    batches: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        (FLOOR, floors),
        ("POST /", creates),
        ("POST /{id}/contents", adds),
        ("PUT /{id}", lambda: many(lambda p: edit(client, p))),
        ("DELETE /{id}/contents/{id}", removes),
        ("POST /{id}/share", lambda: many(lambda p: share(client, p))),
        (FLOOR, floors),
    ]
    seconds = dict.fromkeys([FLOOR, *KINDS], 0.0)
    done = dict.fromkeys([FLOOR, *KINDS], 0)
    for kind, batch in batches:
        before = process_cpu_seconds(pid)
        await batch()
        seconds[kind] += process_cpu_seconds(pid) - before
        done[kind] += count // 2 if kind == FLOOR else count
    return {kind: seconds[kind] / done[kind] for kind in seconds}
