"""Section 2, overhead: the shard's reads and writes against the stack's floors.

The floors (benchmarks/app.py) are bare routes in the same app: one reads the same row with one
indexed SELECT, one inserts one packet row in one transaction. `GET /api/packets/{id}` and the
read floor are called alternately on the same ids; then one sequential client makes every kind
of write (create, content add, edit, removal, share; benchmarks/writes.py), each beside a floor
insert. Both in-process and over a live uvicorn server (one keep-alive connection). Targets:
`GET /{id}` within 1.5x the read floor; every write within 1.3x the insert floor, and the create
within 1.3x `GET /{id}`; on the live server, its CPU time per write of each kind within 1.3x its
CPU time per floor insert (batches of one kind at a time).
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from ..app import FLOOR_PATH
from ..stats import Sample, SectionResult, Target, ms, timed, verdict
from ..workbench import Workbench
from ..writes import CONTENT_ADDS, FLOOR, KINDS, WriteSamples, cpu_per_write, sequential_writes

NAME = "overhead"
TITLE = "Overhead: GET /api/packets/{id} against a bare route doing one indexed SELECT"
LIMIT = 1.5
WRITE_LIMIT = 1.3
# CPU time is read in clock ticks (10 ms): 400 requests of ~1.5 ms read to within 2% (a
# preset of fewer rounds, as the tests' tiny one, reads 100)
CPU_BATCH = 400
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
        f"{verdict(target)} (<= {target.limit:g}x)",
    ]


def compared(transport: str, reads: dict[str, Sample], writes: WriteSamples) -> list[Any]:
    """(label, sample, compared with, its sample, target) for each target of one transport."""
    shard_read, floor_read = reads["shard"], reads["floor"]
    pairs = [("GET /{id}", shard_read, "floor read", floor_read, LIMIT)]
    pairs += [(kind, writes.kinds[kind], FLOOR, writes.floor, WRITE_LIMIT) for kind in KINDS]
    pairs += [("POST /", writes.create, "GET /{id}", shard_read, WRITE_LIMIT)]
    return [
        (
            label,
            first,
            against,
            second,
            Target(
                f"overhead: {transport}: {label} / {against}",
                first.median_ms / second.median_ms,
                limit,
            ),
        )
        for label, first, against, second, limit in pairs
    ]


def floor_row(transport: str, floor_insert: Sample, shard_read: Sample) -> list[str]:
    """The floor insert against `GET /{id}`: what the create / `GET /{id}` target asks of a
    create, asked of the stack's own one-row insert (no target of its own)."""
    return [
        f"{transport}: {FLOOR} (the stack alone)",
        ms(floor_insert.median_ms),
        ms(floor_insert.p99_ms),
        "GET /{id}",
        ms(shard_read.median_ms),
        ms(shard_read.p99_ms),
        f"{floor_insert.median_ms / shard_read.median_ms:.2f}x",
        "(no target)",
    ]


def cpu_rows(cpu: dict[str, float]) -> tuple[list[list[str]], list[Target]]:
    rows, targets = [], []
    for kind in KINDS:
        target = Target(
            f"overhead: live uvicorn: server CPU per {kind} / per {FLOOR}",
            cpu[kind] / cpu[FLOOR],
            WRITE_LIMIT,
        )
        targets.append(target)
        rows.append(
            [
                f"live uvicorn: server CPU ms per {kind}",
                ms(cpu[kind] * 1000),
                "-",
                FLOOR,
                ms(cpu[FLOOR] * 1000),
                "-",
                f"{target.value:.2f}x",
                f"{verdict(target)} (<= {target.limit:g}x)",
            ]
        )
    return rows, targets


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
    cpu_batch = max(write_rounds, min(CPU_BATCH, max(100, rounds)))
    async with (
        database.process() as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        transport = "live uvicorn (loopback HTTP)"
        reads[transport] = await compare(client, ids, rounds)
        writes[transport] = await sequential_writes(client, write_rounds)
        cpu = await cpu_per_write(client, server.pid, cpu_batch)

    rows, figures, targets, per_second = [], {}, [], []
    for transport, samples in reads.items():
        written = writes[transport]
        for label, first, against, second, target in compared(transport, samples, written):
            targets.append(target)
            rows.append(row(f"{transport}: {label}", first, against, second, target))
        rows.append(floor_row(transport, written.floor, samples["shard"]))
        figures[transport] = {
            "shard": samples["shard"].summary(),
            "floor": samples["floor"].summary(),
            "floor insert": written.floor.summary(),
            **{kind: written.kinds[kind].summary() for kind in KINDS},
            "all writes": written.writes.summary(),
            "writes_per_second": round(written.writes_per_second, 1),
            "floor_insert_per_get": round(written.floor.median_ms / samples["shard"].median_ms, 4),
        }
        per_second.append(f"{written.writes_per_second:.0f} writes/s {transport}")
    more_rows, cpu_targets = cpu_rows(cpu)
    rows += more_rows
    targets += cpu_targets
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
            "target met",
        ],
        rows=rows,
        figures={
            "packets": packets,
            "rounds": rounds,
            "write_rounds": write_rounds,
            "transports": figures,
            "cpu_batch": cpu_batch,
            "server_cpu_ms_per_request": {k: round(v * 1000, 4) for k, v in cpu.items()},
        },
        targets=targets,
        notes=[
            f"{rounds} alternating calls of each read on {packets:,} packets; {write_rounds} "
            f"rounds of one create, {CONTENT_ADDS} content adds, an edit, a removal and a share, "
            "each beside a floor insert.",
            f"Server CPU: {cpu_batch} requests of one kind at a time on the live server "
            f"(the floor insert's in two batches, first and last); /proc/<pid>/stat.",
            "One sequential client: " + "; ".join(per_second) + ".",
        ],
    )
