"""Section 5, memory: the peak resident memory (VmHWM) of the server process that exports and
imports the bulk packet, at `bulk_mib` and at `memory_mib`.

Each measurement is a fresh live uvicorn process: its idle figure is read once it answers, its
peak after the work. "Peak of export" is the high-water mark of the process from its start to
the end of exporting the packet as zip and serving the download; "peak of
import" that of a second fresh process, on an empty database, from its start to the answer of
the multipart upload of the zip. Targets: peak under 100 MB at the bulk size, and at most 1.2x
the peak at the smaller size (memory must not grow with the payload).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..bulkops import export_to, import_from, remove
from ..payloads import bulk_packet, live_client
from ..stats import SectionResult, Target, verdict
from ..workbench import BenchDatabase, Workbench

NAME = "memory"
TITLE = "Memory: peak resident memory of the server exporting and importing the bulk packet"
MB = 1_000_000
PEAK_LIMIT_MB = 100.0
GROWTH_LIMIT = 1.2


def memory_of(pid: int) -> dict[str, float]:
    """Resident now and at its highest so far, in MB, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / MB
    return {"rss_mb": round(fields["VmRSS"], 1), "peak_mb": round(fields["VmHWM"], 1)}


async def exporting(database: BenchDatabase, packet_id: str, scratch: Path) -> dict[str, object]:
    """Measured up to the zip; the JSON export the JSON import takes comes after."""
    async with database.process() as server:
        idle = memory_of(server.pid)
        async with live_client(server.base_url) as client:
            await export_to(client, packet_id, "zip", scratch / "export.zip")
            after = memory_of(server.pid)
            await export_to(client, packet_id, "json", scratch / "export.json")
        return {"idle": idle, "after": after}


async def importing(database: BenchDatabase, archive: Path) -> dict[str, object]:
    async with database.process() as server:
        idle = memory_of(server.pid)
        async with live_client(server.base_url) as client:
            await import_from(client, archive)
        return {"idle": idle, "after": memory_of(server.pid)}


async def measure(bench: Workbench, mib: int) -> dict[str, dict[str, object]]:
    packet = await bulk_packet(bench, mib)
    scratch = bench.workdir / f"memory-scratch-{mib}mib"
    await asyncio.to_thread(remove, scratch)
    scratch.mkdir()
    try:
        exported = await exporting(packet.database, packet.packet_id, scratch)
        target = await bench.database(f"memory_import_{mib}mib")
        imported = await importing(target, scratch / "export.zip")
        await asyncio.to_thread(remove, target.data_dir)
        target = await bench.database(f"memory_import_json_{mib}mib")
        imported_json = await importing(target, scratch / "export.json")
        await asyncio.to_thread(remove, target.data_dir)
    finally:
        await asyncio.to_thread(remove, scratch)
    return {"export": exported, "import": imported, "import json": imported_json}


def peak(figures: dict[str, object]) -> float:
    after = figures["after"]
    assert isinstance(after, dict)
    return float(after["peak_mb"])


async def run(bench: Workbench) -> SectionResult:
    sizes = {"bulk": bench.plan.bulk_mib, "small": bench.plan.memory_mib}
    measured = {label: await measure(bench, mib) for label, mib in sizes.items()}
    rows, targets = [], []
    for operation in ("export", "import", "import json"):
        large, small = measured["bulk"][operation], measured["small"][operation]
        under = Target(
            f"{NAME}: {operation} peak at {sizes['bulk']} MiB",
            peak(large),
            PEAK_LIMIT_MB,
            unit=" MB",
        )
        growth = Target(
            f"{NAME}: {operation} peak {sizes['bulk']} MiB / {sizes['small']} MiB",
            peak(large) / peak(small),
            GROWTH_LIMIT,
        )
        targets += [under, growth]
        idle = large["idle"]
        assert isinstance(idle, dict)
        rows.append(
            [
                operation,
                f"{idle['rss_mb']:.1f}",
                f"{peak(small):.1f}",
                f"{peak(large):.1f}",
                f"{peak(large) - float(idle['rss_mb']):.1f}",
                f"{growth.value:.2f}x",
                verdict(under, growth),
            ]
        )
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=[
            "server process",
            "idle MB",
            f"peak MB at {sizes['small']} MiB",
            f"peak MB at {sizes['bulk']} MiB",
            "work MB",
            "growth",
            f"< {PEAK_LIMIT_MB:g} MB and <= {GROWTH_LIMIT}x",
        ],
        rows=rows,
        figures={"mib": sizes, "measured": measured},
        targets=targets,
        notes=[
            "Peak = VmHWM of a fresh uvicorn process (MB = 10^6 bytes), start-up included. "
            "Export: from its start to the end of exporting the packet as zip and serving the "
            "download (tar.gz streams the same way; left out for time). Import: a second "
            "fresh process on an empty database, from its start to the answer of the "
            "multipart upload of the zip; import json: the same with the packet's json "
            "export (files inline as base64, decoded to disk as they are read). "
            "Idle: resident memory once the process answers, before any work; work: peak "
            "minus idle at the bulk size, what the operation itself holds."
        ],
    )
