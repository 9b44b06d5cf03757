"""Write throughput of one server process, and of two on the same database.

`clients` sequential clients send creates and content adds (one to two, the load mix's share
of writes) for a fixed time; with two servers, the clients alternate between them. Reported:
writes per second each time and their ratio.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx

from .stats import Sample
from .workbench import BenchDatabase

API = "/api/packets"
TIMEOUT_S = 60.0
FAILURES_KEPT = 20


@dataclass
class Throughput:
    servers: int
    seconds: float = 0.0
    writes: Sample = field(default_factory=Sample)
    errors: int = 0
    failures: list[str] = field(default_factory=list)  # the first FAILURES_KEPT, named

    def failed(self, what: str) -> None:
        self.errors += 1
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(what)

    @property
    def per_second(self) -> float:
        return self.writes.count / self.seconds if self.seconds else 0.0


async def writer(
    base_url: str, number: int, drafts: list[str], deadline: float, result: Throughput
) -> None:
    rng = random.Random(number)
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT_S) as client:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            creating = rng.random() < 1 / 3
            route = "POST /" if creating else "POST /{id}/contents"
            try:
                if creating:
                    response = await client.post(f"{API}/", json={"name": "Throughput packet"})
                    if response.status_code == 201:
                        drafts.append(response.json()["id"])
                else:
                    body = {"content_type": "claim", "content_id": f"tp-{uuid.uuid4()}"}
                    response = await client.post(f"{API}/{rng.choice(drafts)}/contents", json=body)
            except httpx.HTTPError as error:
                result.failed(f"{route}: {type(error).__name__}: {error!r}")
                continue
            if response.status_code != 201:
                result.failed(
                    f"{route} {response.url}: HTTP {response.status_code}: {response.text[:300]}"
                )
                continue
            result.writes.add(time.perf_counter() - start)


async def write_throughput(
    database: BenchDatabase, servers: int, clients: int, seconds: float
) -> Throughput:
    drafts = await database.sample_ids(5_000, status="draft")
    result = Throughput(servers)
    async with AsyncExitStack() as stack:
        urls = [await stack.enter_async_context(database.server()) for _ in range(servers)]
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        await asyncio.gather(
            *(writer(urls[n % servers], n, drafts, deadline, result) for n in range(clients))
        )
        result.seconds = time.monotonic() - started
    return result
