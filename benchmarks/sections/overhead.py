"""Section 2, overhead: the shard's reads and writes against the stack's floors.

The floors (benchmarks/app.py) are bare routes in the same app: one reads the same row with one
indexed SELECT, one inserts one packet row in one transaction. `GET /api/packets/{id}` and the
read floor are called alternately on the same ids; then one sequential client creates packets
and adds three items to each (benchmarks/writes.py), alternating with the insert floor. Both
in-process and over a live uvicorn server (one keep-alive connection). Targets, each within
1.5x: `GET /{id}` of the read floor; `POST /` and `POST /{id}/contents` of the insert floor; the
median write of the median `GET /{id}`.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from ..app import FLOOR_PATH
from ..stats import Sample, SectionResult, Target, ms, timed, verdict
from ..workbench import Workbench
from ..writes import CONTENT_ADDS, WriteSamples, sequential_writes

NAME = "overhead"
TITLE = "Overhead: GET /api/packets/{id} against a bare route doing one indexed SELECT"
LIMIT = 1.5
WARMUP_ROUNDS = 50


async def get(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.text}")


async def compare(client: httpx.AsyncClient, ids: list[str], rounds: int) -> dict[str, Sample]:
    samples = {"shard": Sample(), "floor": Sample()}
    cycle = itertools.cycle(ids)
    for round_number in range(WARMUP_ROUNDS + rounds):
        packet_id = next(cycle)
        urls = {
            "shard": f"/api/packets/{packet_id}",
            "floor": FLOOR_PATH.format(packet_id=packet_id),
        }
        # Alternate which goes first, so neither always gets the warmer cache.
        order = ["shard", "floor"] if round_number % 2 == 0 else ["floor", "shard"]
        for name in order:
            if round_number < WARMUP_ROUNDS:
                await get(client, urls[name])
            else:
                await timed(samples[name], get(client, urls[name]))
    return samples


def row(label: str, first: Sample, against: str, second: Sample, target: Target) -> list[str]:
    return [
        label,
        ms(first.median_ms),
        ms(first.p99_ms),
        against,
        ms(second.median_ms),
        ms(second.p99_ms),
        f"{target.value:.2f}x",
        verdict(target),
    ]


def compared(transport: str, reads: dict[str, Sample], writes: WriteSamples) -> list[Any]:
    """(label, sample, compared with, its sample, target) for each target of one transport."""
    shard_read, floor_read = reads["shard"], reads["floor"]
    all_writes = writes.writes
    pairs = [
        ("GET /{id}", shard_read, "floor read", floor_read, f"overhead: {transport}"),
        ("POST /", writes.create, "floor insert", writes.floor, None),
        ("POST /{id}/contents", writes.add, "floor insert", writes.floor, None),
        ("all writes", all_writes, "GET /{id}", shard_read, None),
    ]
    return [
        (
            label,
            first,
            against,
            second,
            Target(
                name or f"overhead: {transport}: {label} / {against}",
                first.median_ms / second.median_ms,
                LIMIT,
            ),
        )
        for label, first, against, second, name in pairs
    ]


async def run(bench: Workbench) -> SectionResult:
    database = bench.main
    await database.grow_to(max(bench.plan.small, await database.packet_count()))
    packets = await database.packet_count()
    ids = await database.sample_ids(500)
    rounds = bench.plan.overhead_rounds
    write_rounds = max(5, rounds // 4)
    reads: dict[str, dict[str, Sample]] = {}
    writes: dict[str, WriteSamples] = {}
    async with database.client() as client:
        transport = "in-process (httpx ASGI)"
        reads[transport] = await compare(client, ids, rounds)
        writes[transport] = await sequential_writes(client, write_rounds)
    async with database.server() as base_url, httpx.AsyncClient(base_url=base_url) as client:
        transport = "live uvicorn (loopback HTTP)"
        reads[transport] = await compare(client, ids, rounds)
        writes[transport] = await sequential_writes(client, write_rounds)

    rows, figures, targets, per_second = [], {}, [], []
    for transport, samples in reads.items():
        written = writes[transport]
        for label, first, against, second, target in compared(transport, samples, written):
            targets.append(target)
            rows.append(row(f"{transport}: {label}", first, against, second, target))
        figures[transport] = {
            "shard": samples["shard"].summary(),
            "floor": samples["floor"].summary(),
            "floor insert": written.floor.summary(),
            "POST /": written.create.summary(),
            "POST /{id}/contents": written.add.summary(),
            "all writes": written.writes.summary(),
            "writes_per_second": round(written.writes_per_second, 1),
        }
        per_second.append(f"{written.writes_per_second:.0f} writes/s {transport}")
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=[
            "transport: request",
            "median ms",
            "p99",
            "compared with",
            "median ms",
            "p99",
            "ratio",
            f"<= {LIMIT}x",
        ],
        rows=rows,
        figures={
            "packets": packets,
            "rounds": rounds,
            "write_rounds": write_rounds,
            "transports": figures,
        },
        targets=targets,
        notes=[
            f"{rounds} alternating calls of each read on {packets:,} packets; {write_rounds} "
            f"rounds of one create and {CONTENT_ADDS} content adds against one floor insert.",
            "One sequential client: " + "; ".join(per_second) + ".",
        ],
    )
