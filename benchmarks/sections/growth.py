"""Section 1, growth: the same requests on a small and on a large database, side by side.

Target: each request's median at the large size within 1.2x of its median at the small size.
Both databases are served at once (two apps in this process); every round sends each request
to both, in alternating order, so a noisy neighbour slows both sizes alike.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..seed import ITEM_NEEDLE, NEEDLE
from ..stats import Sample, SectionResult, Target, compared_row, timed
from ..workbench import BenchDatabase, Workbench

NAME = "growth"
TITLE = "Growth: each request at the small and at the large size"
LIMIT = 1.2
WARMUP_ROUNDS = 5
PAGE_SIZE = 20
API = "/api/packets"


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    expect: int = 200


@dataclass
class Pools:
    """Packets the probes pick from, cycled so each call reads or writes a different one."""

    ids: itertools.cycle[str]
    drafts: itertools.cycle[str]


@dataclass(frozen=True)
class Probe:
    label: str
    call: Callable[[Pools], Call]


def deep_page(small: int) -> int:
    """A page near the end of the small database; the same page number at the large size."""
    return max(1, (small * 9 // 10) // PAGE_SIZE + 1)


def probes(small: int) -> list[Probe]:
    deep = deep_page(small)
    return [
        Probe("GET /?page=1", lambda _: Call("GET", f"{API}/", {"page": 1})),
        Probe(
            f"GET /?page={deep} (deep)",
            lambda _: Call("GET", f"{API}/", {"page": deep, "page_size": PAGE_SIZE}),
        ),
        Probe(
            "GET /?status&visibility&sort (filtered)",
            lambda _: Call(
                "GET",
                f"{API}/",
                {"status": "finalized", "visibility": "team", "sort": "updated_at"},
            ),
        ),
        Probe(f"GET /?search={NEEDLE}", lambda _: Call("GET", f"{API}/", {"search": NEEDLE})),
        Probe(
            f"GET /?search={ITEM_NEEDLE} (items)",
            lambda _: Call("GET", f"{API}/", {"search": ITEM_NEEDLE}),
        ),
        Probe("GET /{id}", lambda pools: Call("GET", f"{API}/{next(pools.ids)}")),
        Probe(
            "POST /",
            lambda _: Call("POST", f"{API}/", body={"name": "Bench packet"}, expect=201),
        ),
        Probe(
            "POST /{id}/contents",
            lambda pools: Call(
                "POST",
                f"{API}/{next(pools.drafts)}/contents",
                body={"content_type": "document", "content_id": f"bench-{uuid.uuid4()}"},
                expect=201,
            ),
        ),
        Probe("GET /count", lambda _: Call("GET", f"{API}/count")),
        Probe("GET /stats/overview", lambda _: Call("GET", f"{API}/stats/overview")),
    ]


async def send(client: httpx.AsyncClient, call: Call) -> None:
    response = await client.request(call.method, call.url, params=call.params, json=call.body)
    if response.status_code != call.expect:
        raise RuntimeError(f"{call.method} {call.url}: {response.status_code} {response.text}")


async def check_found(client: httpx.AsyncClient) -> None:
    """The item search finds packets by their items, naming them: a search that finds nothing
    would be flat for the wrong reason."""
    response = await client.get(f"{API}/", params={"search": ITEM_NEEDLE})
    found = response.json()["items"] if response.status_code == 200 else []
    if not found or not all(packet["matched_items"] for packet in found):
        raise RuntimeError(f"search={ITEM_NEEDLE} found no packet by its items: {response.text}")


async def pools_of(database: BenchDatabase) -> Pools:
    return Pools(
        itertools.cycle(await database.sample_ids(500)),
        itertools.cycle(await database.sample_ids(500, status="draft")),
    )


async def measure(
    small: BenchDatabase, large: BenchDatabase, probe_list: list[Probe], rounds: int
) -> dict[str, dict[str, Sample]]:
    pools = {"small": await pools_of(small), "large": await pools_of(large)}
    samples = {size: {probe.label: Sample() for probe in probe_list} for size in pools}
    async with small.client() as small_client, large.client() as large_client:
        clients = {"small": small_client, "large": large_client}
        for client in clients.values():
            await check_found(client)
        for round_number in range(WARMUP_ROUNDS + rounds):
            order = ["small", "large"] if round_number % 2 == 0 else ["large", "small"]
            for probe in probe_list:
                for size in order:
                    call = probe.call(pools[size])
                    if round_number < WARMUP_ROUNDS:
                        await send(clients[size], call)
                    else:
                        await timed(samples[size][probe.label], send(clients[size], call))
    return samples


async def run(bench: Workbench) -> SectionResult:
    plan = bench.plan
    probe_list = probes(plan.small)
    small_db, large_db = await bench.database("small"), bench.main
    await small_db.grow_to(plan.small)
    await large_db.grow_to(max(plan.large, await large_db.packet_count()))
    small_count, large_count = await small_db.packet_count(), await large_db.packet_count()
    measured = await measure(small_db, large_db, probe_list, plan.rounds)
    at_small, at_large = measured["small"], measured["large"]

    rows, figures, targets = [], {}, []
    for probe in probe_list:
        small, large = at_small[probe.label], at_large[probe.label]
        target = Target(f"growth: {probe.label}", large.median_ms / small.median_ms, LIMIT)
        targets.append(target)
        figures[probe.label] = {"small": small.summary(), "large": large.summary()}
        rows.append(compared_row(probe.label, small, large, target))
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=[
            "request",
            f"median ms @{plan.small:,}",
            "p99",
            f"median ms @{plan.large:,}",
            "p99",
            "ratio",
            f"<= {LIMIT}x",
        ],
        rows=rows,
        figures={
            "packets": {"small": small_count, "large": large_count},
            "items_per_packet": plan.items,
            "rounds": plan.rounds,
            "requests": figures,
        },
        targets=targets,
        notes=[
            f"{plan.rounds} rounds of every request on both sizes, alternating, in-process "
            f"(httpx over ASGI); the deep page is page {deep_page(plan.small)} of {PAGE_SIZE} "
            "at both sizes."
        ],
    )
