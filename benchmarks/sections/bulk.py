"""Section 4, bulk export and import: a packet whose items carry `bulk_mib` MiB of attached
files (half incompressible, half text), exported through the API as zip and tar.gz and
downloaded, against `sha256sum` + `zip -r` / `tar czf` over the same files; the exported zip
imported back through the API (upload included) against `unzip` + `sha256sum -c` of the bag's
own manifest. All in the same run, alternating which goes first.

Targets: export at least as fast as the tools (tools' time / ours >= 1.0), import >= 0.9x.

Then a json bundle of `bulk_items` items is imported into an empty database while another
client creates a packet every 50 ms: target no failed write and no write waiting longer than
WRITER_WAIT_LIMIT seconds (on SQLite every writer queues for the one write lock).
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from pathlib import Path

from ..bulkops import export_to, import_from, remove, tools_export, tools_import
from ..itemsbundle import import_while_writing, items_bundle
from ..payloads import MIB, BulkPacket, bulk_packet, live_client
from ..stats import Sample, SectionResult, Target, compared_row, seconds, verdict
from ..workbench import Workbench

NAME = "bulk"
TITLE = "Bulk export and import: attached files through the API against the command line tools"
EXPORT_LIMIT = 1.0
IMPORT_LIMIT = 0.9
WRITER_WAIT_LIMIT = 2.0  # seconds


async def measure(bench: Workbench, packet: BulkPacket) -> dict[str, dict[str, Sample]]:
    scratch = bench.workdir / "bulk-scratch"
    await asyncio.to_thread(remove, scratch)
    scratch.mkdir()
    samples = {
        operation: {"ours": Sample(), "tools": Sample()}
        for operation in ("export zip", "export tar.gz", "import zip")
    }
    database = packet.database
    async with database.server() as base_url, live_client(base_url) as client:
        for run in range(bench.plan.bulk_runs):
            ours_first = run % 2 == 0
            for kind, suffix in (("zip", ".zip"), ("tar.gz", ".tar.gz")):
                ours, tools = scratch / f"ours{suffix}", scratch / f"tools{suffix}"
                jobs = {
                    "ours": partial(export_to, client, packet.packet_id, kind, ours),
                    "tools": partial(tools_export, packet.files, kind, tools),
                }
                for side in ("ours", "tools") if ours_first else ("tools", "ours"):
                    start = time.perf_counter()
                    await jobs[side]()
                    samples[f"export {kind}"][side].add(time.perf_counter() - start)
                await asyncio.to_thread(remove, tools)
                if kind != "zip":
                    await asyncio.to_thread(remove, ours)
            await import_round(bench, scratch, run, samples["import zip"], ours_first)
    await asyncio.to_thread(remove, scratch)
    return samples


async def import_round(
    bench: Workbench, scratch: Path, run: int, sample: dict[str, Sample], ours_first: bool
) -> None:
    archive = scratch / "ours.zip"
    target = await bench.database(f"bulk_import_{run}")
    unpacked = scratch / "unpacked"

    async def ours() -> None:
        async with target.server() as base_url, live_client(base_url) as client:
            start = time.perf_counter()
            await import_from(client, archive)
            sample["ours"].add(time.perf_counter() - start)

    async def tools() -> None:
        start = time.perf_counter()
        await tools_import(archive, unpacked)
        sample["tools"].add(time.perf_counter() - start)

    for job in (ours, tools) if ours_first else (tools, ours):
        await job()
    await asyncio.to_thread(remove, unpacked, target.data_dir)


async def items_import(bench: Workbench) -> dict[str, object]:
    items = bench.plan.bulk_items
    bundle = bench.workdir / f"items-{items}.json"
    size = await asyncio.to_thread(items_bundle, items, bundle)
    target = await bench.database("bulk_items")
    try:
        async with target.server() as base_url, live_client(base_url) as client:
            elapsed, writes, failures = await import_while_writing(client, bundle)
    finally:
        await asyncio.to_thread(remove, bundle, target.data_dir)
    return {
        "items": items,
        "bundle_bytes": size,
        "import_s": round(elapsed, 2),
        "writes": writes.summary(),
        "write_max_s": round(max(writes.durations, default=0.0), 3),
        "write_failures": failures,
    }


async def run(bench: Workbench) -> SectionResult:
    packet = await bulk_packet(bench, bench.plan.bulk_mib)
    samples = await measure(bench, packet)
    items = await items_import(bench)
    rows, figures, targets = [], {}, []
    for operation, pair in samples.items():
        ours, tools = pair["ours"], pair["tools"]
        limit = IMPORT_LIMIT if operation.startswith("import") else EXPORT_LIMIT
        target = Target(
            f"{NAME}: {operation} (tools / ours)",
            tools.median_ms / ours.median_ms,
            limit,
            at_most=False,
        )
        targets.append(target)
        figures[operation] = {
            "ours": ours.summary(),
            "tools": tools.summary(),
            "ours_mib_per_s": round(packet.size / MIB / (ours.median_ms / 1000), 1),
        }
        rows.append(compared_row(operation, ours, tools, target, shown=seconds))
    waited = Target(
        f"{NAME}: another writer's longest wait during an import of {items['items']} items",
        float(items["write_max_s"]),  # type: ignore[arg-type]
        WRITER_WAIT_LIMIT,
        unit=" s",
    )
    failed = Target(
        f"{NAME}: another writer's failures during that import",
        len(items["write_failures"]),  # type: ignore[arg-type]
        0,
        unit="",
    )
    targets += [waited, failed]
    rows.append(
        [
            f"import json {items['items']} items",
            f"{items['import_s']:.2f}",
            "",
            "",
            "",
            f"writer waited at most {items['write_max_s']:.2f} s, "
            f"{len(items['write_failures'])} failed",  # type: ignore[arg-type]
            verdict(waited, failed),
        ]
    )
    binary = sum(spec.size for spec in packet.specs if not spec.text)
    return SectionResult(
        name=NAME,
        title=TITLE,
        columns=[
            "operation",
            "ours median s",
            "p99",
            "tools median s",
            "p99",
            "tools / ours",
            "target",
        ],
        rows=rows,
        figures={
            "payload_bytes": packet.size,
            "files": len(packet.specs),
            "incompressible_bytes": binary,
            "runs": bench.plan.bulk_runs,
            "operations": figures,
            "items_import": items,
        },
        targets=targets,
        notes=[
            f"{packet.size / MIB:,.0f} MiB in {len(packet.specs)} attached files "
            f"({binary / MIB:,.0f} MiB random, the rest text), {bench.plan.bulk_runs} runs. "
            "Ours: POST export, then GET the archive until it is whole on disk at the client "
            "(live uvicorn, loopback); import: the multipart upload of that zip until the "
            "answer, into an empty database. Tools: `sha256sum` of the files, then `zip -r` "
            "(Debian's Info-ZIP, level 6) or `tar czf`; `unzip` of our zip, then "
            "`sha256sum -c` of its manifest-sha256.txt. Targets: tools / ours >= "
            f"{EXPORT_LIMIT:g} (export), >= {IMPORT_LIMIT:g} (import). The payload includes "
            "one file of a single repeated line (it compresses a thousandfold).",
            f"Items: a json draft bundle of {items['items']} items, each with a little data, "
            "uploaded into an empty database while another client creates a packet every "
            f"50 ms; target: none fails, none waits more than {WRITER_WAIT_LIMIT:g} s.",
        ],
    )
