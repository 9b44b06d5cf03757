"""One sequential client writing: creates and content adds, against the floor insert.

Each round sends the floor insert (benchmarks/app.py: one packet row in one transaction) and the
shard's writes of one new packet, in alternating order: its create, then three content adds (the
held-out probe's pattern). Reported per kind: median and p99; for all the shard's writes: their
median and how many one client gets done per second.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from .app import FLOOR_INSERT_PATH
from .stats import Sample, timed

API = "/api/packets"
CONTENT_ADDS = 3
WARMUP_ROUNDS = 10


@dataclass
class WriteSamples:
    floor: Sample = field(default_factory=Sample)
    create: Sample = field(default_factory=Sample)
    add: Sample = field(default_factory=Sample)

    @property
    def writes(self) -> Sample:
        """Every write of the shard: the creates and the content adds."""
        return Sample(self.create.durations + self.add.durations)

    @property
    def writes_per_second(self) -> float:
        writes = self.writes
        return writes.count / sum(writes.durations) if writes.count else 0.0


async def post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Any:
    response = await client.post(url, json=body)
    if response.status_code != 201:
        raise RuntimeError(f"POST {url}: {response.status_code} {response.text}")
    return response.json()


async def shard_writes(client: httpx.AsyncClient, samples: WriteSamples | None) -> None:
    create = post(client, f"{API}/", {"name": "Sequential packet"})
    packet = await (create if samples is None else timed(samples.create, create))
    for n in range(CONTENT_ADDS):
        body = {"content_type": "document", "content_id": f"seq-{n}-{uuid.uuid4()}"}
        add = post(client, f"{API}/{packet['id']}/contents", body)
        await (add if samples is None else timed(samples.add, add))


async def floor_write(client: httpx.AsyncClient, samples: WriteSamples | None) -> None:
    insert = post(client, FLOOR_INSERT_PATH, {})
    await (insert if samples is None else timed(samples.floor, insert))


async def sequential_writes(client: httpx.AsyncClient, rounds: int) -> WriteSamples:
    samples = WriteSamples()
    for round_number in range(WARMUP_ROUNDS + rounds):
        recorded = samples if round_number >= WARMUP_ROUNDS else None
        # Alternate which goes first, so neither always follows the other's commit.
        if round_number % 2 == 0:
            await floor_write(client, recorded)
            await shard_writes(client, recorded)
        else:
            await shard_writes(client, recorded)
            await floor_write(client, recorded)
    return samples
