"""Section 6, load: a live uvicorn server under concurrent clients for a fixed time.

Each client has its own keep-alive connection and sends one request after another, drawn at
random: 70% reads (a packet, the first page of the list, a packet's contents), 20% content
adds to a draft, 10% creates. Reported: throughput, p50 and p99 per kind, for all reads, all
writes and overall, failed requests (any unexpected status or transport failure, each named by
its route, status and detail), and how long the events of those writes took from their commit
to the bus (benchmarks/delivery.py). Beside them, the same clients for a third of the time
against the stack's floors (the bare read and insert routes of benchmarks/app.py, the same
70/30 mix): what any route of this stack answers in at best, at this load, on this machine.
Then the same clients only write, to one server process and to two on the same database
(benchmarks/processes.py).

Targets, ratios of figures of this run: write p50 at most 1.2x the read p50 and 1.3x the floor
insert's p50 under the same clients; no failed request; commit to bus p99 no higher than the
write p99 (the deliverer keeps pace with the writers); two processes at least 1.5x the writes
per second of one (PostgreSQL only: SQLite takes one writer at a time however many processes).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx

from arkham_shard_packets.core.clock import now_text

from ..app import FLOOR_INSERT_PATH, FLOOR_PATH
from ..delivery import delivery_since
from ..machine import cpu_seconds, cpu_seconds_named
from ..processes import write_throughput
from ..stats import Sample, SectionResult, Target, ms
from ..workbench import Workbench

NAME = "load"
TITLE = "Load: a live uvicorn server under concurrent clients"
API = "/api/packets"
TIMEOUT_S = 60.0
WRITE_VS_READ_LIMIT = 1.2
WRITE_VS_FLOOR_LIMIT = 1.3
BUS_VS_WRITE_LIMIT = 1.0
PROCESSES_LIMIT = 1.5
FAILURES_KEPT = 50  # failed requests named one by one; all are counted
DETAIL_CHARS = 300

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
    failures: list[dict[str, Any]] = field(default_factory=list)

    def failed(self, label: str, url: str, status: int | str, detail: str) -> None:
        """Counts a failed request by route and status, and names the first ones in full."""
        self.errors[f"{label}: {status}"] += 1
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(
                {"route": label, "url": url, "status": status, "detail": detail[:DETAIL_CHARS]}
            )


def detail_of(response: httpx.Response) -> str:
    """The answer's `detail`, or its text when it has none."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail) if detail is not None else response.text


async def one_request(
    client: httpx.AsyncClient, kind: str, shared: Shared, rng: random.Random
) -> None:
    start = time.perf_counter()
    if kind == "read GET /{id}":
        request, expect = client.get(f"{API}/{rng.choice(shared.ids)}"), 200
    elif kind == "read GET /?page=1":
        request, expect = client.get(f"{API}/", params={"page": 1}), 200
    elif kind == "read GET /{id}/contents":
        request, expect = client.get(f"{API}/{rng.choice(shared.ids)}/contents"), 200
    elif kind == "write POST /{id}/contents":
        body = {"content_type": "entity", "content_id": f"load-{uuid.uuid4()}"}
        request = client.post(f"{API}/{rng.choice(shared.drafts)}/contents", json=body)
        expect = 201
    else:
        request, expect = client.post(f"{API}/", json={"name": "Load packet"}), 201
    response = await answered(request, expect, kind, shared)
    if response is None:
        return
    if kind == "write POST /":
        created = response.json()["id"]
        shared.ids.append(created)
        shared.drafts.append(created)
    shared.samples[kind].add(time.perf_counter() - start)


async def answered(
    request: Awaitable[httpx.Response], expect: int, label: str, shared: Shared
) -> httpx.Response | None:
    """The answer, or None once a transport failure or another status is counted as an error."""
    try:
        response = await request
    except httpx.HTTPError as error:
        url = str(error.request.url) if error._request is not None else ""
        shared.failed(label, url, type(error).__name__, str(error) or repr(error))
        return None
    if response.status_code != expect:
        shared.failed(label, str(response.url), response.status_code, detail_of(response))
        return None
    return response


async def client_loop(base_url: str, number: int, shared: Shared) -> None:
    rng = random.Random(number)
    kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT_S) as client:
        while time.monotonic() < shared.deadline:
            await one_request(client, rng.choices(kinds, weights)[0], shared, rng)


async def floor_loop(base_url: str, number: int, shared: Shared) -> None:
    """The load mix's share of reads and writes, sent to the floor routes instead."""
    rng = random.Random(number)
    reads = sum(weight for kind, weight in MIX if kind.startswith("read"))
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT_S) as client:
        while time.monotonic() < shared.deadline:
            start = time.perf_counter()
            if rng.randrange(100) < reads:
                kind, expect = "read", 200
                request = client.get(FLOOR_PATH.format(packet_id=rng.choice(shared.ids)))
            else:
                kind, expect = "write", 201
                request = client.post(FLOOR_INSERT_PATH)
            if await answered(request, expect, f"floor {kind}", shared) is not None:
                shared.samples[kind].add(time.perf_counter() - start)


async def floor_siege(base_url: str, clients: int, ids: list[str], seconds: float) -> Shared:
    shared = Shared(ids, [], deadline=time.monotonic() + seconds)
    shared.samples = {"read": Sample(), "write": Sample()}
    await asyncio.gather(*(floor_loop(base_url, n, shared) for n in range(clients)))
    return shared


def of_kind(shared: Shared, prefix: str) -> Sample:
    return Sample(
        [
            d
            for kind, sample in shared.samples.items()
            if kind.startswith(prefix)
            for d in sample.durations
        ]
    )


def ratio(value: float, floor: float) -> float:
    return value / floor if floor else float("inf")


def rate_row(label: str, sample: Sample, elapsed: float) -> list[str]:
    per_second = f"{sample.count / elapsed:.1f}" if elapsed else "-"
    return [label, f"{sample.count:,}", per_second, ms(sample.median_ms), ms(sample.p99_ms)]


def failure_notes(failures: list[dict[str, Any]]) -> list[str]:
    return [f"Failed: {f['route']} ({f['url']}): {f['status']}: {f['detail']}" for f in failures]


async def run(bench: Workbench) -> SectionResult:
    plan = bench.plan
    database = bench.main
    await database.grow_to(max(plan.small, await database.packet_count()))
    packets = await database.packet_count()
    ids, drafts = await database.sample_ids(5_000), await database.sample_ids(5_000, status="draft")
    since = now_text()
    async with database.process() as server:
        shared = Shared(ids, drafts, deadline=0.0)
        shared.deadline = time.monotonic() + plan.load_seconds
        started = time.monotonic()
        server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
        database_cpu = cpu_seconds_named("postgres")
        clients = (client_loop(server.base_url, n, shared) for n in range(plan.clients))
        await asyncio.gather(*clients)
        elapsed = time.monotonic() - started
        server_cpu = (cpu_seconds(server.pid) - server_cpu) / elapsed
        client_cpu = (time.process_time() - client_cpu) / elapsed
        database_cpu = (cpu_seconds_named("postgres") - database_cpu) / elapsed
        delivery = await delivery_since(database.engine, since)
        phase_seconds = max(1.0, plan.load_seconds / 3)
        floor = await floor_siege(server.base_url, plan.clients, ids, phase_seconds)
    alone = await write_throughput(database, 1, plan.clients, phase_seconds)
    paired = await write_throughput(database, 2, plan.clients, phase_seconds)
    scaling = paired.per_second / alone.per_second if alone.per_second else 0.0

    reads, writes = of_kind(shared, "read"), of_kind(shared, "write")
    overall = Sample(reads.durations + writes.durations)
    floor_reads, floor_writes = floor.samples["read"], floor.samples["write"]
    errors = sum(shared.errors.values()) + sum(floor.errors.values())
    writes_only_errors = alone.errors + paired.errors
    errors += writes_only_errors
    rows = [rate_row(kind, sample, elapsed) for kind, sample in shared.samples.items()]
    rows += [
        rate_row("all reads", reads, elapsed),
        rate_row("all writes", writes, elapsed),
        rate_row("all", overall, elapsed),
        rate_row("events: commit to bus", delivery.lags, elapsed),
        rate_row("floor reads, same mix and clients", floor_reads, phase_seconds),
        rate_row("floor inserts, same mix and clients", floor_writes, phase_seconds),
        rate_row("writes only, 1 server process", alone.writes, alone.seconds),
        rate_row("writes only, 2 server processes", paired.writes, paired.seconds),
    ]
    backend = bench.backend
    targets = [
        Target("load: failed requests", errors, 0, unit=""),
        Target(
            "load: write p50 / read p50",
            ratio(writes.median_ms, reads.median_ms),
            WRITE_VS_READ_LIMIT,
        ),
        Target(
            "load: write p50 / floor insert p50",
            ratio(writes.median_ms, floor_writes.median_ms),
            WRITE_VS_FLOOR_LIMIT,
        ),
        Target(
            "load: commit to bus p99 / write p99",
            ratio(delivery.lags.p99_ms, writes.p99_ms),
            BUS_VS_WRITE_LIMIT,
        ),
        Target("load: undelivered events", delivery.undelivered, 0, unit=""),
    ]
    if backend == "postgresql":
        targets.append(
            Target("load: 2 processes / 1 (writes/s)", scaling, PROCESSES_LIMIT, at_most=False)
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
            "failures": shared.failures + floor.failures,
            "kinds": {kind: s.summary() for kind, s in shared.samples.items()},
            "reads": reads.summary(),
            "writes": writes.summary(),
            "all": overall.summary(),
            "floor": {
                "seconds": round(phase_seconds, 3),
                "error_kinds": dict(floor.errors),
                "reads": floor_reads.summary(),
                "writes": floor_writes.summary(),
            },
            "commit_to_bus": {**delivery.lags.summary(), "undelivered": delivery.undelivered},
            "processes": {
                str(result.servers): {
                    "seconds": round(result.seconds, 3),
                    "writes_per_s": round(result.per_second, 2),
                    "errors": result.errors,
                    "failures": result.failures,
                    **result.writes.summary(),
                }
                for result in (alone, paired)
            },
            "processes_ratio": round(scaling, 3),
            "cpu_cores_busy": {
                "server": round(server_cpu, 3),
                "clients": round(client_cpu, 3),
                "postgresql": round(database_cpu, 3),
            },
        },
        targets=targets,
        notes=[
            f"{plan.clients} clients for {elapsed:.0f} s on {packets:,} packets; "
            f"{errors} failed requests"
            f"{': ' + str(dict(shared.errors + floor.errors)) if errors else ''}"
            f"{'; writes only: ' + str(writes_only_errors) if writes_only_errors else ''}.",
            *failure_notes(shared.failures + floor.failures),
            *(f"Failed (writes only): {what}" for what in alone.failures + paired.failures),
            f"CPU, in cores kept busy (of {os.cpu_count()}): the server process {server_cpu:.2f}, "
            f"the clients' process {client_cpu:.2f}, PostgreSQL's processes {database_cpu:.2f}.",
            f"Commit to bus: {delivery.lags.count:,} events, from `created_at` to "
            f"`delivered_at` in the outbox; {delivery.undelivered} undelivered.",
            f"The floors under the same {plan.clients} clients and mix: insert p50 "
            f"{ms(floor_writes.median_ms)} ms, read p50 {ms(floor_reads.median_ms)} ms, "
            f"{(floor_reads.count + floor_writes.count) / phase_seconds:.0f} requests/s "
            f"(the shard: write p50 {ms(writes.median_ms)} ms, read p50 "
            f"{ms(reads.median_ms)} ms, {overall.count / elapsed:.0f} requests/s).",
            *(f"Target {t.name}: {t.describe()}, {'met' if t.met else 'missed'}." for t in targets),
            f"Writes only, {plan.clients} clients for {phase_seconds:.0f} s each: "
            f"{alone.per_second:.1f} writes/s on one server process, {paired.per_second:.1f} "
            f"on two ({scaling:.2f}x).",
        ],
    )
