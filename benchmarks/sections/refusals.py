"""Section 8, refusals: what crafted bundles cost the server that refuses them.

Each bundle is uploaded to a fresh live uvicorn process (so its peak memory is the refusal's
alone): a zip whose end record declares 1 entry while its central directory holds 1,000,000
(before the hardening: refused after 21.6 s, the peak up from 152 to 658 MB), a zip whose one
file expands 1 GiB of zeros against a Payload-Oxum of 1 byte, a json bundle with 50,000 items
(five times the item limit; before: 70.7 s and other writers locked out) and a bag whose tag
manifest names a file of the server by its absolute path. Reported: the answer, the time to
it, and the server's peak memory before and after. Targets: every one a 4xx, each answered
within 5 s, the peak growing by at most 64 MB, except for the json bundle, which is parsed in
memory (without its inline files) and may grow it by at most 6 times its size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..bulkops import remove
from ..hostile_bundles import (
    absolute_tag_path_bundle,
    central_directory_bomb,
    expansion_bomb,
    many_items_bundle,
)
from ..payloads import live_client
from ..stats import SectionResult, Target, verdict
from ..workbench import Workbench
from .memory import memory_of

NAME = "refusals"
TITLE = "Refusals: time and memory of refusing crafted bundles"
TIME_LIMIT_S = 5.0
GROWTH_LIMIT_MB = 64.0
JSON_GROWTH_PER_MB = 6.0  # a json bundle's document is parsed whole (README: Import)
GIB = 1024**3


def crafted(scratch: Path, scale: float) -> dict[str, Callable[[], Path]]:
    def directory_bomb() -> Path:
        path = scratch / "directory-bomb.zip"
        path.write_bytes(central_directory_bomb(int(1_000_000 * scale), declared=1))
        return path

    def expanding() -> Path:
        path = scratch / "expansion-bomb.zip"
        expansion_bomb(path, int(GIB * scale))
        return path

    def items() -> Path:
        path = scratch / "items.json"
        many_items_bundle(path, max(int(50_000 * scale), 10_001))
        return path

    def outside() -> Path:
        path = scratch / "outside.zip"
        absolute_tag_path_bundle(path, "/etc/hostname")
        return path

    return {
        "central directory of 1,000,000 entries, 1 declared": directory_bomb,
        "1 GiB of zeros against a Payload-Oxum of 1 byte": expanding,
        "json bundle of 50,000 items": items,
        "tag manifest naming /etc/hostname": outside,
    }


@dataclass(frozen=True)
class Refusal:
    status: int
    detail: str
    seconds: float
    bundle_bytes: int
    peak_before_mb: float
    peak_after_mb: float

    @property
    def growth_mb(self) -> float:
        return self.peak_after_mb - self.peak_before_mb


async def refuse(bench: Workbench, name: str, bundle: Path) -> Refusal:
    database = await bench.database(f"refusals_{name}")
    async with database.process() as server:
        idle = memory_of(server.pid)
        started = time.perf_counter()
        async with live_client(server.base_url) as client:
            handle = await asyncio.to_thread(open, bundle, "rb")
            try:
                response = await client.post(
                    "/api/packets/import",
                    files={"file": (bundle.name, handle, "application/octet-stream")},
                )
            finally:
                await asyncio.to_thread(handle.close)
        elapsed = time.perf_counter() - started
        after = memory_of(server.pid)
    await asyncio.to_thread(remove, database.data_dir)
    size = (await asyncio.to_thread(bundle.stat)).st_size
    detail = response.json().get("detail") if response.content else None
    return Refusal(
        status=response.status_code,
        detail=str(detail)[:160],
        seconds=round(elapsed, 2),
        bundle_bytes=size,
        peak_before_mb=idle["peak_mb"],
        peak_after_mb=after["peak_mb"],
    )


async def run(bench: Workbench) -> SectionResult:
    scale = bench.plan.refusal_scale
    scratch = bench.workdir / "refusals-scratch"
    await asyncio.to_thread(remove, scratch)
    scratch.mkdir()
    measured: dict[str, Refusal] = {}
    try:
        for index, (label, build) in enumerate(crafted(scratch, scale).items()):
            bundle = await asyncio.to_thread(build)
            measured[label] = await refuse(bench, str(index), bundle)
            await asyncio.to_thread(bundle.unlink)
    finally:
        await asyncio.to_thread(remove, scratch)
    rows, targets = [], []
    for label, refusal in measured.items():
        limit = GROWTH_LIMIT_MB
        if label.startswith("json"):
            limit = JSON_GROWTH_PER_MB * refusal.bundle_bytes / 1_000_000
        answered = 1.0 if 400 <= refusal.status < 500 else 0.0
        checks = [
            Target(f"{label}: answered 4xx", answered, 1.0, False, ""),
            Target(f"{label}: time", refusal.seconds, TIME_LIMIT_S, unit=" s"),
            Target(f"{label}: peak growth", refusal.growth_mb, round(limit, 1), unit=" MB"),
        ]
        targets += checks
        rows.append(
            [
                label,
                f"{refusal.bundle_bytes / 1024**2:,.1f}",
                str(refusal.status),
                f"{refusal.seconds:.2f}",
                f"{refusal.peak_before_mb} → {refusal.peak_after_mb}",
                verdict(*checks),
            ]
        )
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=["bundle", "MiB sent", "answer", "seconds", "peak MB", "targets met"],
        rows=rows,
        figures={"scale": scale, "bundles": {k: asdict(v) for k, v in measured.items()}},
        targets=targets,
        notes=[f"{label}: {refusal.detail}" for label, refusal in measured.items()],
    )
