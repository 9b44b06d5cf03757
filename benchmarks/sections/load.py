"""Section 6, load: a live uvicorn server under concurrent clients for a fixed time.

Each client has its own keep-alive connection and sends one request after another, drawn at
random: 70% reads (a packet, the first page of the list, a packet's contents), 20% content
adds to a draft, 10% creates. Reported: throughput, p50 and p99 per kind and overall, errors
(any unexpected status or transport failure). Target: zero errors.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from ..stats import Sample, SectionResult, Target, ms
from ..workbench import Workbench

NAME = "load"
TITLE = "Load: a live uvicorn server under concurrent clients"
API = "/api/packets"
TIMEOUT_S = 60.0

MIX = [
    ("read GET /{id}", 40),
    ("read GET /?page=1", 15),
    ("read GET /{id}/contents", 15),
    ("write POST /{id}/contents", 20),
    ("write POST /", 10),
]


@dataclass
class Shared:
    ids: list[str]
    drafts: list[str]
    deadline: float
    samples: dict[str, Sample] = field(default_factory=lambda: {kind: Sample() for kind, _ in MIX})
    errors: Counter[str] = field(default_factory=Counter)


async def one_request(
    client: httpx.AsyncClient, kind: str, shared: Shared, rng: random.Random
) -> None:
    start = time.perf_counter()
    try:
        if kind == "read GET /{id}":
            response, expect = await client.get(f"{API}/{rng.choice(shared.ids)}"), 200
        elif kind == "read GET /?page=1":
            response, expect = await client.get(f"{API}/", params={"page": 1}), 200
        elif kind == "read GET /{id}/contents":
            response, expect = await client.get(f"{API}/{rng.choice(shared.ids)}/contents"), 200
        elif kind == "write POST /{id}/contents":
            body = {"content_type": "entity", "content_id": f"load-{uuid.uuid4()}"}
            response = await client.post(f"{API}/{rng.choice(shared.drafts)}/contents", json=body)
            expect = 201
        else:
            response, expect = await client.post(f"{API}/", json={"name": "Load packet"}), 201
            if response.status_code == expect:
                created = response.json()["id"]
                shared.ids.append(created)
                shared.drafts.append(created)
    except httpx.HTTPError as error:
        shared.errors[f"{kind}: {type(error).__name__}"] += 1
        return
    if response.status_code != expect:
        shared.errors[f"{kind}: HTTP {response.status_code}"] += 1
        return
    shared.samples[kind].add(time.perf_counter() - start)


async def client_loop(base_url: str, number: int, shared: Shared) -> None:
    rng = random.Random(number)
    kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT_S) as client:
        while time.monotonic() < shared.deadline:
            await one_request(client, rng.choices(kinds, weights)[0], shared, rng)


async def run(bench: Workbench) -> SectionResult:
    plan = bench.plan
    database = bench.main
    await database.grow_to(max(plan.small, await database.packet_count()))
    packets = await database.packet_count()
    ids, drafts = await database.sample_ids(5_000), await database.sample_ids(5_000, status="draft")
    async with database.server() as base_url:
        shared = Shared(ids, drafts, deadline=0.0)
        shared.deadline = time.monotonic() + plan.load_seconds
        started = time.monotonic()
        await asyncio.gather(*(client_loop(base_url, n, shared) for n in range(plan.clients)))
        elapsed = time.monotonic() - started

    overall = Sample([d for sample in shared.samples.values() for d in sample.durations])
    errors = sum(shared.errors.values())
    rows = []
    for kind, sample in [*shared.samples.items(), ("all", overall)]:
        rows.append(
            [
                kind,
                f"{sample.count:,}",
                f"{sample.count / elapsed:.1f}",
                ms(sample.median_ms),
                ms(sample.p99_ms),
            ]
        )
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=["requests", "ok", "per second", "p50 ms", "p99 ms"],
        rows=rows,
        figures={
            "packets": packets,
            "clients": plan.clients,
            "seconds": round(elapsed, 3),
            "throughput_per_s": round(overall.count / elapsed, 2),
            "errors": errors,
            "error_kinds": dict(shared.errors),
            "kinds": {kind: s.summary() for kind, s in shared.samples.items()},
            "all": overall.summary(),
        },
        targets=[Target("load: errors", errors, 0, unit="")],
        notes=[
            f"{plan.clients} clients for {elapsed:.0f} s on {packets:,} packets; "
            f"{errors} errors{': ' + str(dict(shared.errors)) if errors else ''}."
        ],
    )
