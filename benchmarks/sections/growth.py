"""Section 1, growth: the same requests on a small, a middle and a large database, side by side.

Target: each request's median at the middle and at the large size within 1.2x of its median at
the small size. The three databases are served at once (three apps in this process); every
round sends each request to all three, in an order that rotates from round to round, so a noisy
neighbour slows every size alike.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..seed import ITEM_NEEDLE, NEEDLE
from ..stats import Sample, SectionResult, Target, ms, timed, verdict
from ..workbench import BenchDatabase, Workbench

NAME = "growth"
TITLE = "Growth: each request at the small, the middle and the large size"
SIZES = ("small", "middle", "large")
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
    databases: dict[str, BenchDatabase], probe_list: list[Probe], rounds: int
) -> dict[str, dict[str, Sample]]:
    pools = {size: await pools_of(database) for size, database in databases.items()}
    samples = {size: {probe.label: Sample() for probe in probe_list} for size in pools}
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            size: await stack.enter_async_context(database.client())
            for size, database in databases.items()
        }
        for client in clients.values():
            await check_found(client)
        sizes = list(databases)
        for round_number in range(WARMUP_ROUNDS + rounds):
            turn = round_number % len(sizes)
            order = sizes[turn:] + sizes[:turn]
            if round_number // len(sizes) % 2:
                order.reverse()
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
    databases = {
        "small": await bench.database("small"),
        "middle": await bench.database("middle"),
        "large": bench.main,
    }
    await databases["small"].grow_to(plan.small)
    await databases["middle"].grow_to(plan.middle)
    await bench.main.grow_to(max(plan.large, await bench.main.packet_count()))
    counts = {size: await database.packet_count() for size, database in databases.items()}
    measured = await measure(databases, probe_list, plan.rounds)

    rows, figures, targets = [], {}, []
    for probe in probe_list:
        at = {size: measured[size][probe.label] for size in SIZES}
        ratios = {}
        for size in ("middle", "large"):
            ratio = at[size].median_ms / at["small"].median_ms
            target = Target(f"growth: {probe.label} @{counts[size]:,}", ratio, LIMIT)
            targets.append(target)
            ratios[size] = target
        figures[probe.label] = {
            **{size: at[size].summary() for size in SIZES},
            "ratios": {size: round(target.value, 4) for size, target in ratios.items()},
        }
        rows.append(
            [
                probe.label,
                *(cell for size in SIZES for cell in (ms(at[size].median_ms), ms(at[size].p99_ms))),
                *(f"{ratios[size].value:.2f}x {verdict(ratios[size])}" for size in ratios),
            ]
        )
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=[
            "request",
            *(cell for size in SIZES for cell in (f"median ms @{counts[size]:,}", "p99")),
            f"@{counts['middle']:,} / @{counts['small']:,} (<= {LIMIT}x)",
            f"@{counts['large']:,} / @{counts['small']:,} (<= {LIMIT}x)",
        ],
        rows=rows,
        figures={
            "packets": counts,
            "items_per_packet": plan.items,
            "rounds": plan.rounds,
            "requests": figures,
        },
        targets=targets,
        notes=[
            f"{plan.rounds} rounds of every request on the three sizes, in rotating order, "
            f"in-process (httpx over ASGI); the deep page is page {deep_page(plan.small)} of "
            f"{PAGE_SIZE} at every size."
        ],
    )
