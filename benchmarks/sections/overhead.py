"""Section 2, overhead: `GET /api/packets/{id}` against the stack's floor.

The floor (benchmarks/app.py) is a bare route in the same app that reads the same row with one
indexed SELECT. Both are called alternately on the same ids, in-process and over a live uvicorn
server (one keep-alive connection). Target: the shard's route within 1.5x of the floor.
"""

from __future__ import annotations

import itertools

import httpx

from ..app import FLOOR_PATH
from ..stats import Sample, SectionResult, Target, compared_row, timed
from ..workbench import Workbench

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


async def run(bench: Workbench) -> SectionResult:
    database = bench.main
    await database.grow_to(max(bench.plan.small, await database.packet_count()))
    packets = await database.packet_count()
    ids = await database.sample_ids(500)
    rounds = bench.plan.overhead_rounds
    results: dict[str, dict[str, Sample]] = {}
    async with database.client() as client:
        results["in-process (httpx ASGI)"] = await compare(client, ids, rounds)
    async with database.server() as base_url, httpx.AsyncClient(base_url=base_url) as client:
        results["live uvicorn (loopback HTTP)"] = await compare(client, ids, rounds)

    rows, figures, targets = [], {}, []
    for transport, samples in results.items():
        shard, floor = samples["shard"], samples["floor"]
        target = Target(f"overhead: {transport}", shard.median_ms / floor.median_ms, LIMIT)
        targets.append(target)
        figures[transport] = {"shard": shard.summary(), "floor": floor.summary()}
        rows.append(compared_row(transport, shard, floor, target))
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=[
            "transport",
            "shard median ms",
            "p99",
            "floor median ms",
            "p99",
            "ratio",
            f"<= {LIMIT}x",
        ],
        rows=rows,
        figures={"packets": packets, "rounds": rounds, "transports": figures},
        targets=targets,
        notes=[f"{rounds} alternating calls of each on {packets:,} packets."],
    )
