"""The stress run's load: concurrent requests at a few shared packets, each sent to a server
picked at random, and finalize racing edits on packets made for the race."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from stress_cluster import API, Cluster, Tally

CONTENT_TYPES = ("document", "entity", "claim")
POOL = 24  # content ids per hot packet: small, so adds collide (409) and removes find work


class Hammer:
    """The load: each worker picks an operation and a server at random, until time is up."""

    def __init__(self, cluster: Cluster, tally: Tally, hot: list[str]) -> None:
        self.cluster = cluster
        self.tally = tally
        self.hot = hot
        self.blobs = [os.urandom(size) for size in (512, 4096, 40_000, 150_000)]
        self.races = 0
        self.ops: list[tuple[Callable[[], Awaitable[None]], int]] = [
            (self.add, 30),
            (self.remove, 14),
            (self.attach, 10),
            (self.version, 10),
            (self.share, 8),
            (self.edit, 7),
            (self.export, 5),
            (self.read, 12),
            (self.race, 4),
        ]

    async def send(self, op: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        client = kwargs.pop("client", None) or self.cluster.any()
        try:
            response = await client.request(method, path, **kwargs)
        except httpx.TransportError as error:
            self.tally.record(op, 599, f"transport error: {error!r}")
            return None
        self.tally.record(op, response.status_code, response.text)
        return response

    async def worker(self, deadline: float, budget: list[int]) -> None:
        functions = [op for op, _ in self.ops]
        weights = [weight for _, weight in self.ops]
        while time.monotonic() < deadline and budget[0] > 0:
            budget[0] -= 1
            await random.choices(functions, weights)[0]()

    def item(self) -> dict[str, Any]:
        return {
            "content_type": random.choice(CONTENT_TYPES),
            "content_id": f"c{random.randrange(POOL)}",
            "data": {"n": random.randrange(1000), "note": "x" * random.randrange(64)},
        }

    async def entries(self, packet_id: str) -> list[dict[str, Any]]:
        listed = await self.send("list-contents", "GET", f"/{packet_id}/contents")
        return listed.json() if listed is not None and listed.status_code == 200 else []

    async def add(self, packet_id: str | None = None, **kwargs: Any) -> None:
        target = packet_id or random.choice(self.hot)
        await self.send("add", "POST", f"/{target}/contents", json=self.item(), **kwargs)

    async def remove(self) -> None:
        packet_id = random.choice(self.hot)
        entries = await self.entries(packet_id)
        if entries:
            entry = random.choice(entries)["id"]
            await self.send("remove", "DELETE", f"/{packet_id}/contents/{entry}")

    async def attach(self, packet_id: str | None = None) -> None:
        target = packet_id or random.choice(self.hot)
        entries = await self.entries(target)
        if entries:
            entry = random.choice(entries)["id"]
            upload = {"file": ("evidence.bin", random.choice(self.blobs))}
            await self.send("attach", "PUT", f"/{target}/contents/{entry}/file", files=upload)

    async def version(self, packet_id: str | None = None) -> None:
        target = packet_id or random.choice(self.hot)
        body = {"changes_summary": "stress"}
        await self.send("version", "POST", f"/{target}/versions", json=body)

    async def share(self, packet_id: str | None = None) -> None:
        packet_id = packet_id or random.choice(self.hot)
        made = await self.send(
            "share", "POST", f"/{packet_id}/share", json={"shared_with": "x@example.org"}
        )
        if made is not None and made.status_code == 201 and random.random() < 0.5:
            share_id = made.json()["id"]
            await self.send("revoke", "DELETE", f"/{packet_id}/shares/{share_id}")

    async def edit(self, packet_id: str | None = None) -> None:
        target = packet_id or random.choice(self.hot)
        body = {"name": f"Packet {random.randrange(100)}", "metadata": {"r": random.random()}}
        headers = {}
        if random.random() < 0.3:
            read = await self.send("read", "GET", f"/{target}")
            if read is not None and read.status_code == 200:
                headers["if-match"] = read.headers["etag"]
        await self.send("edit", "PUT", f"/{target}", json=body, headers=headers)

    async def export(self, packet_id: str | None = None) -> None:
        target = packet_id or random.choice(self.hot)
        body = {"format": random.choice(("json", "json", "zip"))}
        made = await self.send("export", "POST", f"/{target}/export", json=body)
        if made is not None and made.status_code == 200:
            path = made.json()["download_url"].removeprefix(API)
            await self.send("download", "GET", path)

    async def read(self) -> None:
        packet_id = random.choice(self.hot)
        path = random.choice((f"/{packet_id}", "/", "/stats/overview", f"/{packet_id}/versions"))
        await self.send("read", "GET", path)

    async def race(self) -> None:
        """A new packet finalized from two servers while the others edit it: exactly one
        finalize wins, and the sealed packet still verifies and exports."""
        self.races += 1
        made = await self.send("create", "POST", "/", json={"name": f"Race {self.races}"})
        if made is None or made.status_code != 201:
            return
        packet_id = made.json()["id"]
        for _ in range(3):
            await self.add(packet_id)
        first, second = random.sample(self.cluster.clients, 2)
        finals = [
            self.send("finalize", "POST", f"/{packet_id}/finalize", client=client)
            for client in (first, second)
        ]
        edits = [self.add(packet_id) for _ in range(3)]
        edits += [self.edit(packet_id), self.version(packet_id), self.attach(packet_id)]
        answers = await asyncio.gather(*finals, *edits)
        codes = sorted(a.status_code for a in answers[:2] if a is not None)
        if codes != [200, 409]:
            self.tally.violations.append(f"race on {packet_id}: finalize answered {codes}")
        await asyncio.gather(self.export(packet_id), self.share(packet_id), self.share(packet_id))


async def hammer(cluster: Cluster, tally: Tally, args: argparse.Namespace) -> Hammer:
    hot = []
    for index in range(args.packets):
        made = await cluster.any().post("/", json={"name": f"Hot {index}"})
        made.raise_for_status()
        hot.append(made.json()["id"])
    load = Hammer(cluster, tally, hot)
    deadline = time.monotonic() + args.seconds
    budget = [args.max_requests]
    await asyncio.gather(*(load.worker(deadline, budget) for _ in range(args.workers)))
    # the shared packets themselves are finalized at last, racing one more round of edits
    for packet_id in hot:
        finals = [
            load.send("finalize", "POST", f"/{packet_id}/finalize", client=c)
            for c in random.sample(cluster.clients, 2)
        ]
        answers = await asyncio.gather(*finals, load.add(packet_id), load.remove())
        codes = sorted(a.status_code for a in answers[:2] if a is not None)
        if codes != [200, 409]:
            tally.violations.append(f"final race on {packet_id}: finalize answered {codes}")
    return load
