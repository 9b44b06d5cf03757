"""Section 11, transfer: an attached file uploaded and downloaded through the shard, on the local
store and on the s3 store (a moto_server on 127.0.0.1), beside two floors measured in the same
run, and the server's peak resident memory meanwhile.

Each store gets a fresh live uvicorn process on a database of its own. A run attaches a file of
`transfer_mib` MiB to a new item (`PUT /{id}/contents/{entry_id}/file`, streamed from disk), then
downloads it (`GET`, written to a file), then removes the item (its file released). The file's
first bytes differ each run: the store keeps a file once by its digest and never sends bytes it
holds already. The floors, the same bytes: the same request to a bare route of the same server
(benchmarks/app.py: the body written to a file, then sent back), what the web stack costs; and
the store alone, a plain copy of the file on local, the shard's own S3 store called in this
process on s3 (the same client, settings and parts), what the store costs. Peak: the server's
VmHWM over the runs' uploads and over their downloads, reset before each (Linux's
`clear_refs`); target: at most 32 MB above idle, whatever the size. Throughput has no target
(the issue sets none): the ratios show what the shard adds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from arkham_shard_packets.core.store import blob_key
from arkham_shard_packets.stores.s3 import S3Store

from ..app import FLOOR_FILE_PATH
from ..bucket import Bucket, moto_bucket
from ..bulkops import remove
from ..payloads import live_client
from ..stats import Sample, SectionResult, Target, timed, verdict
from ..workbench import Workbench
from .memory import memory_of

NAME = "transfer"
TITLE = "Transfer: an attached file up and down through the shard, on the local and the s3 store"
MB = 1_000_000
MIB = 1024 * 1024
API = "/api/packets"
PREFIX = "transfer/"
DIRECTIONS = ("upload", "download")
KINDS = ("shard", "route", "store")
STORE_FLOORS = {
    "local": {"upload": "copy + fsync", "download": "copy"},
    "s3": {"upload": "put", "download": "get"},
}
# What an upload or a download may hold above the idle server, whatever the file's size: the
# hostile section's bound on the server's growth.
WORK_LIMIT_MB = 32.0


class Floor(Protocol):
    async def put(self, source: Path) -> None: ...

    async def get(self, sha256: str, target: Path) -> None: ...

    async def clean(self) -> None: ...


class CopyFloor:
    """A plain copy of a file, in a thread."""

    def __init__(self, data_dir: Path, scratch: Path) -> None:
        self.data_dir = data_dir
        self.copied = scratch / "floor-copy"

    async def put(self, source: Path) -> None:
        await asyncio.to_thread(copy_synced, source, self.copied)

    async def get(self, sha256: str, target: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self.data_dir / blob_key(sha256), target)

    async def clean(self) -> None:
        await asyncio.to_thread(self.copied.unlink, missing_ok=True)


class StoreFloor:
    """The shard's S3 store alone: no HTTP, no spool, no hashing, no database."""

    def __init__(self, store: S3Store) -> None:
        self.store = store

    async def put(self, source: Path) -> None:
        await self.store.put("floor", source)

    async def get(self, sha256: str, target: Path) -> None:
        reader = await self.store.open(blob_key(sha256))
        out = await asyncio.to_thread(open, target, "wb")
        try:
            async for chunk in reader.chunks():
                await asyncio.to_thread(out.write, chunk)
        finally:
            await asyncio.to_thread(out.close)

    async def clean(self) -> None:
        await self.store.delete("floor")


@dataclass
class Measured:
    """Durations by what was timed (`shard`, `route`, `store`) and direction, the server's
    peaks by direction, its memory at idle."""

    samples: dict[str, dict[str, Sample]] = field(
        default_factory=lambda: {kind: {d: Sample() for d in DIRECTIONS} for kind in KINDS}
    )
    peak_mb: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIRECTIONS, 0.0))
    idle: dict[str, float] = field(default_factory=dict)
    peak_reset: bool = True

    def timed(self, kind: str, direction: str, work: Awaitable[Any]) -> Awaitable[Any]:
        return timed(self.samples[kind][direction], work)

    def reset_peak(self, pid: int) -> None:
        self.peak_reset &= reset_peak(pid)

    def note_peak(self, direction: str, pid: int) -> None:
        self.peak_mb[direction] = max(self.peak_mb[direction], memory_of(pid)["peak_mb"])


def copy_synced(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with open(target, "rb+") as copied:
        os.fsync(copied.fileno())


def write_payload(path: Path, mib: int) -> None:
    with open(path, "wb") as out:
        for _ in range(mib):
            out.write(os.urandom(MIB))


def stamp(path: Path, run: int) -> None:
    """The payload's first bytes made this run's own."""
    with open(path, "rb+") as payload:
        payload.write(f"transfer run {run:06d}\n".encode())


def reset_peak(pid: int) -> bool:
    """The process's peak resident memory set back to what it holds now (Linux 4.0 on)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def upload(client: httpx.AsyncClient, path: str, payload: Path) -> httpx.Response:
    """The file sent as the attach route takes it: multipart form data, streamed from disk."""
    handle = await asyncio.to_thread(open, payload, "rb")
    try:
        files = {"file": (payload.name, handle, "application/octet-stream")}
        answer = await client.put(path, files=files)
    finally:
        await asyncio.to_thread(handle.close)
    return answer.raise_for_status()


async def download(client: httpx.AsyncClient, path: str, target: Path) -> None:
    out = await asyncio.to_thread(open, target, "wb")
    try:
        async with client.stream("GET", path) as answer:
            answer.raise_for_status()
            async for chunk in answer.aiter_raw(MIB):
                await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)


@dataclass
class Run:
    """One run on a live server: its client and pid, the store's floor, the files."""

    client: httpx.AsyncClient
    pid: int
    floor: Floor
    scratch: Path
    measured: Measured

    @property
    def payload(self) -> Path:
        return self.scratch / "payload.bin"

    @property
    def target(self) -> Path:
        return self.scratch / "downloaded.bin"

    async def uploads(self, file: str) -> str:
        """Through the shard, the bare route and the store alone; the shard's digest."""
        self.measured.reset_peak(self.pid)
        answer = await self.measured.timed(
            "shard", "upload", upload(self.client, file, self.payload)
        )
        self.measured.note_peak("upload", self.pid)
        await self.measured.timed(
            "route", "upload", upload(self.client, FLOOR_FILE_PATH, self.payload)
        )
        await self.measured.timed("store", "upload", self.floor.put(self.payload))
        await self.floor.clean()
        sha256: str = answer.json()["file"]["sha256"]
        return sha256

    async def downloads(self, file: str, sha256: str) -> None:
        self.measured.reset_peak(self.pid)
        await self.measured.timed("shard", "download", download(self.client, file, self.target))
        self.measured.note_peak("download", self.pid)
        sizes = {(await asyncio.to_thread(p.stat)).st_size for p in (self.payload, self.target)}
        if len(sizes) != 1:
            raise RuntimeError(f"transfer: downloaded {sizes} bytes of a file")
        await self.measured.timed(
            "route", "download", download(self.client, FLOOR_FILE_PATH, self.target)
        )
        await self.measured.timed("store", "download", self.floor.get(sha256, self.target))

    async def on_item(self, packet_id: str, number: int) -> None:
        """A new item's file up and down; the item removed after (its file released)."""
        await asyncio.to_thread(stamp, self.payload, number)
        body = {"content_type": "document", "content_id": f"transfer-{number}"}
        added = await self.client.post(f"{API}/{packet_id}/contents", json=body)
        item = f"{API}/{packet_id}/contents/{added.raise_for_status().json()['id']}"
        sha256 = await self.uploads(f"{item}/file")
        await self.downloads(f"{item}/file", sha256)
        (await self.client.delete(item)).raise_for_status()


@asynccontextmanager
async def s3_floor(bucket: Bucket, scratch: Path) -> AsyncIterator[StoreFloor]:
    with bucket.store(PREFIX, scratch / "floor-staging") as store:
        try:
            yield StoreFloor(store)
        finally:
            await store.close()


async def on_store(
    bench: Workbench,
    store: str,
    floor_for: Callable[[Path], Floor],
    scratch: Path,
    settings: dict[str, str],
) -> Measured:
    """The runs on one store; `floor_for` the store's floor, given the data directory."""
    database = await bench.database(f"transfer_{store}")
    measured = Measured()
    async with database.process(settings) as server, live_client(server.base_url) as client:
        measured.idle = memory_of(server.pid)
        made = await client.post(f"{API}/", json={"name": f"transfer on {store}"})
        packet_id = made.raise_for_status().json()["id"]
        run = Run(client, server.pid, floor_for(database.data_dir), scratch, measured)
        for number in range(bench.plan.transfer_runs):
            await run.on_item(packet_id, number)
    await asyncio.to_thread(remove, database.data_dir)
    return measured


async def measure(bench: Workbench, scratch: Path) -> dict[str, Measured]:
    await asyncio.to_thread(write_payload, scratch / "payload.bin", bench.plan.transfer_mib)
    local = await on_store(
        bench, "local", lambda data_dir: CopyFloor(data_dir, scratch), scratch, {}
    )
    async with moto_bucket() as bucket, s3_floor(bucket, scratch) as floor:
        s3 = await on_store(bench, "s3", lambda _: floor, scratch, bucket.settings(PREFIX))
    return {"local": local, "s3": s3}


def mb_s(size: int, sample: Sample) -> float:
    return size / (sample.median_ms / 1000) / MB


def figures_of(size: int, measured: Measured) -> dict[str, Any]:
    shown: dict[str, Any] = {"idle": measured.idle, "peak_reset": measured.peak_reset}
    for direction in DIRECTIONS:
        rates = {kind: mb_s(size, measured.samples[kind][direction]) for kind in KINDS}
        shown[direction] = {
            **{kind: measured.samples[kind][direction].summary() for kind in KINDS},
            **{f"{kind}_mb_s": round(rate, 1) for kind, rate in rates.items()},
            "shard_per_route": round(rates["shard"] / rates["route"], 3),
            "shard_per_store": round(rates["shard"] / rates["store"], 3),
            "peak_mb": measured.peak_mb[direction],
            "work_mb": round(measured.peak_mb[direction] - measured.idle["rss_mb"], 1),
        }
    return shown


def row_of(store: str, direction: str, shown: dict[str, Any]) -> tuple[list[str], Target]:
    figures = shown[direction]
    work = Target(
        f"{NAME}: {store} {direction} work", figures["work_mb"], WORK_LIMIT_MB, unit=" MB"
    )
    row = [
        f"{store}: {direction}",
        f"{figures['shard_mb_s']:.0f}",
        f"{figures['route_mb_s']:.0f}",
        f"{figures['store_mb_s']:.0f} ({STORE_FLOORS[store][direction]})",
        f"{figures['shard_per_route']:.2f}x",
        f"{figures['shard_per_store']:.2f}x",
        f"{shown['idle']['rss_mb']:.1f}",
        f"{figures['peak_mb']:.1f}",
        f"{figures['work_mb']:.1f}",
        verdict(work),
    ]
    return row, work


async def run(bench: Workbench) -> SectionResult:
    size = bench.plan.transfer_mib * MIB
    scratch = bench.workdir / "transfer-scratch"
    await asyncio.to_thread(remove, scratch)
    scratch.mkdir()
    try:
        measured = await measure(bench, scratch)
    finally:
        await asyncio.to_thread(remove, scratch)
    figures = {store: figures_of(size, m) for store, m in measured.items()}
    rows, targets = [], []
    for store, shown in figures.items():
        for direction in DIRECTIONS:
            row, target = row_of(store, direction, shown)
            rows.append(row)
            targets.append(target)
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=[
            f"{bench.plan.transfer_mib} MiB file",
            "shard MB/s",
            "bare route MB/s",
            "store alone MB/s",
            "shard / route",
            "shard / store",
            "server idle MB",
            "peak MB",
            "work MB",
            f"work <= {WORK_LIMIT_MB:g} MB",
        ],
        rows=rows,
        figures={"mib": bench.plan.transfer_mib, "runs": bench.plan.transfer_runs, **figures},
        targets=targets,
        notes=[
            f"Medians of {bench.plan.transfer_runs} run(s) on each store, MB = 10^6 bytes, "
            "ratios of MB/s. Shard: the attach route's answer (the file streamed from disk as "
            "multipart form data), and the file route's whole answer written to disk. Bare "
            "route: the same request to a bare route of the same server process that writes "
            "the body to a file (fsynced) and sends it back (FileResponse). Store alone: local, "
            "a plain copy of the file (fsynced on the way in, as the shard's spool is); s3, the "
            "shard's S3 store called in the benchmark's process (the same aiobotocore client, "
            "settings and 8 MiB parts; no HTTP, spool, hash or database), to the same "
            "moto_server on 127.0.0.1. Peak: the server's VmHWM during the shard's uploads, and "
            "during its downloads, reset before each; work: peak minus idle."
            + ("" if all(m.peak_reset for m in measured.values()) else " (peaks not reset)")
        ],
    )
