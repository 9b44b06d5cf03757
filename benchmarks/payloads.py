"""Bulk payloads for the export, import and memory sections: files like an investigation's
evidence, generated deterministically, written to a folder once and attached through the
attachment route to a packet on a live server.

Half of the bytes are random (incompressible, like PDFs and images), half are text (logs and
notes made of words). Each half is a few large files and many small ones of varied sizes.
One text file, a sixteenth of the payload (at least 2 MiB), is a single line repeated, as a
heartbeat log is: it compresses a thousandfold.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import httpx

from .workbench import BenchDatabase, Workbench

MIB = 1024 * 1024
CHUNK = MIB
LARGE_SHARES = (0.35, 0.25, 0.15)  # of each half; the rest is spread over the small files
SMALL_FILES = 24
WORDS = " ".join(
    [
        "the of and to in is was for on that with as by at from witness report account",
        "transfer invoice meeting call email vessel cargo port company director payment",
        "record ledger date amount source claim evidence statement interview address",
        "phone bank shell offshore contract signed received sent approved denied notes",
    ]
).split(" ")
BINARY_KINDS = (("scan-{:02d}.jpg", "image/jpeg"), ("filing-{:02d}.pdf", "application/pdf"))
TEXT_KINDS = (("log-{:02d}.txt", "text/plain"), ("ledger-{:02d}.csv", "text/csv"))
REPEATED_LINE = b"2026-11-26 06:45:46 INFO heartbeat ok\n"
REPEATED_NAME = "heartbeat.log"


@dataclass(frozen=True)
class PayloadSpec:
    name: str
    size: int
    media_type: str
    text: bool


def layout(total: int, seed: int) -> list[PayloadSpec]:
    """The files of a `total`-byte payload: the same sizes and names for the same arguments."""
    rng = random.Random(seed)
    specs: list[PayloadSpec] = []
    for text, kinds, half in (
        (False, BINARY_KINDS, total // 2),
        (True, TEXT_KINDS, total - total // 2),
    ):
        sizes = [int(half * share) for share in LARGE_SHARES]
        weights = [rng.uniform(0.2, 3.0) for _ in range(SMALL_FILES)]
        rest = half - sum(sizes)
        small = [int(rest * weight / sum(weights)) for weight in weights]
        small[-1] += rest - sum(small)
        if text:
            repeated = min(max(2 * MIB, total // 16), sizes[0] // 2)
            sizes[0] -= repeated
            specs.append(PayloadSpec(REPEATED_NAME, repeated, "text/plain", True))
        for number, size in enumerate([*sizes, *small], start=1):
            pattern, media_type = kinds[number % len(kinds)]
            specs.append(PayloadSpec(pattern.format(number), size, media_type, text))
    return specs


def _text_pool(rng: random.Random, size: int) -> bytes:
    lines: list[str] = []
    length = 0
    while length < size:
        words = rng.choices(WORDS, k=rng.randint(6, 18))
        line = f"{rng.randint(1, 99_999):05d} {' '.join(words)} {rng.random():.6f}\n"
        lines.append(line)
        length += len(line)
    return "".join(lines).encode()


def write_files(directory: Path, specs: list[PayloadSpec], seed: int) -> None:
    """Writes the files of `specs` into `directory` (created), in 1 MiB pieces."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = _text_pool(rng, 4 * CHUNK)
    for spec in specs:
        remaining = spec.size
        with open(directory / spec.name, "wb") as out:
            while remaining:
                size = min(remaining, CHUNK)
                if spec.name == REPEATED_NAME:
                    out.write((REPEATED_LINE * (size // len(REPEATED_LINE) + 1))[:size])
                elif spec.text:
                    start = rng.randrange(len(pool) - size)
                    out.write(pool[start : start + size])
                else:
                    out.write(rng.randbytes(size))
                remaining -= size


def live_client(base_url: str) -> httpx.AsyncClient:
    """A client for a live server with no time limit: bulk transfers take what they take."""
    return httpx.AsyncClient(base_url=base_url, timeout=None)


async def create_packet(
    client: httpx.AsyncClient, specs: list[PayloadSpec], directory: Path, name: str
) -> str:
    """A draft packet with one document item per file, each file attached by upload."""
    response = await client.post("/api/packets/", json={"name": name})
    response.raise_for_status()
    packet_id: str = response.json()["id"]
    for order, spec in enumerate(specs):
        response = await client.post(
            f"/api/packets/{packet_id}/contents",
            json={
                "content_type": "document",
                "content_id": f"evidence-{order:03d}",
                "content_title": spec.name,
                "order": order,
            },
        )
        response.raise_for_status()
        entry_id = response.json()["id"]
        handle = await asyncio.to_thread(open, directory / spec.name, "rb")
        try:
            response = await client.put(
                f"/api/packets/{packet_id}/contents/{entry_id}/file",
                files={"file": (spec.name, handle, spec.media_type)},
            )
        finally:
            await asyncio.to_thread(handle.close)
        response.raise_for_status()
    return packet_id


@dataclass
class BulkPacket:
    """A packet of `size` payload bytes on a database of its own, its files also in `files`."""

    database: BenchDatabase
    packet_id: str
    files: Path
    specs: list[PayloadSpec]

    @property
    def size(self) -> int:
        return sum(spec.size for spec in self.specs)


_PREPARED: weakref.WeakKeyDictionary[Workbench, dict[int, BulkPacket]] = weakref.WeakKeyDictionary()


async def bulk_packet(bench: Workbench, mib: int) -> BulkPacket:
    """The packet of `mib` MiB, made on first use in a run and shared by later sections."""
    prepared = _PREPARED.setdefault(bench, {})
    if mib not in prepared:
        start = time.perf_counter()
        specs = layout(mib * MIB, bench.plan.seed)
        files = bench.workdir / f"bulk-files-{mib}mib"
        await asyncio.to_thread(write_files, files, specs, bench.plan.seed)
        database = await bench.database(f"bulk_{mib}mib")
        async with database.server() as base_url, live_client(base_url) as client:
            packet_id = await create_packet(client, specs, files, f"bulk {mib} MiB")
        database.seconds_seeding += time.perf_counter() - start
        prepared[mib] = BulkPacket(database, packet_id, files, specs)
    return prepared[mib]
