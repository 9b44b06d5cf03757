"""`python -m benchmarks`: run the sections, print the tables, write the figures to JSON."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import text

from . import machine, report
from .sections import SECTIONS
from .stats import SectionResult
from .workbench import Plan, Workbench

RESULTS = Path(__file__).resolve().parent / "results"

PRESETS = {
    # A smoke run for the test suite: seconds.
    "tiny": Plan(
        small=60,
        middle=120,
        large=240,
        items=3,
        rounds=5,
        overhead_rounds=20,
        load_seconds=0.5,
        clients=4,
        seal_items=200,
        seal_runs=3,
        bulk_mib=4,
        memory_mib=1,
        bulk_runs=1,
        bulk_items=200,
        hostile_seconds=0.5,
        refusal_scale=0.02,
        flood_reads=200,
        lockout_seconds=1.0,
        transfer_mib=16,
        transfer_runs=1,
        trips_runs=2,
        trips_after_seconds=0.05,
    ),
    # A minute or two: the shape of every figure, at a tenth of the full growth.
    "quick": Plan(
        small=500,
        middle=2_000,
        large=10_000,
        items=10,
        rounds=60,
        overhead_rounds=400,
        load_seconds=10.0,
        clients=32,
        seal_items=10_000,
        seal_runs=5,
        bulk_mib=256,
        memory_mib=64,
        hostile_seconds=5.0,
        refusal_scale=0.2,
        flood_reads=6_000,
        lockout_seconds=10.0,
        transfer_mib=256,
    ),
    # The sizes: 500, 2,000 and 100,000 packets of about 10 items, 60 s of load, 10,000
    # items to seal, a 1 GiB bulk packet (2 runs: the command line tools alone take a minute
    # a run at that size), a 1 GiB file up and down on each store (2 runs: a run on moto takes
    # about two minutes).
    "full": Plan(
        small=500,
        middle=2_000,
        large=100_000,
        items=10,
        rounds=200,
        overhead_rounds=2_000,
        load_seconds=60.0,
        clients=32,
        seal_items=10_000,
        seal_runs=15,
        bulk_runs=2,
        transfer_runs=2,
    ),
}
OVERRIDES = [
    "small",
    "middle",
    "large",
    "items",
    "rounds",
    "overhead_rounds",
    "load_seconds",
    "clients",
    "seal_items",
    "seal_runs",
    "bulk_mib",
    "memory_mib",
    "bulk_runs",
    "bulk_items",
    "hostile_seconds",
    "flood_reads",
    "lockout_seconds",
    "transfer_mib",
    "transfer_runs",
    "trips_runs",
    "trips_after_seconds",
    "seed",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark the packets shard; prints Markdown tables and writes a JSON file.",
    )
    parser.add_argument(
        "--size",
        choices=sorted(PRESETS),
        default="quick",
        help="preset sizes (default quick; full is the issue's sizes)",
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL to run on (default: a fresh SQLite file); the benchmark "
        "works in schemas of its own there (packets_bench_*), dropped and remade each run",
    )
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument(
        "--output",
        type=Path,
        help="JSON file to write (default benchmarks/results/<time>-<db>-<size>.json)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="directory for the SQLite file and host data (default: a temp dir)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    for name in OVERRIDES:
        kind = float if name.endswith("_seconds") else int
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            help=f"override the preset's {name.replace('_', ' ')}",
        )
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    plan = PRESETS[args.size]
    chosen = {name: getattr(args, name) for name in OVERRIDES if getattr(args, name) is not None}
    plan = replace(plan, **chosen)
    if not plan.small <= plan.middle <= plan.large:
        raise SystemExit("--small, --middle and --large must grow: small <= middle <= large")
    return plan


async def database_version(bench: Workbench) -> str:
    async with bench.main.engine.connect() as conn:
        if bench.backend == "postgresql":
            version = (await conn.execute(text("SHOW server_version"))).scalar()
            return f"PostgreSQL {version}"
        version = (await conn.execute(text("SELECT sqlite_version()"))).scalar()
        return f"SQLite {version}"


async def run(
    args: argparse.Namespace, workdir: Path
) -> tuple[dict[str, Any], list[SectionResult]]:
    plan = plan_from(args)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s): {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    bench = Workbench(args.database_url, workdir, plan)
    started = time.perf_counter()
    results: list[SectionResult] = []
    try:
        await bench.open()
        info = machine.describe(await database_version(bench))
        print(f"Machine: {machine.one_line(info)}", flush=True)
        for name in names:
            section_start = time.perf_counter()
            result = await SECTIONS[name](bench)
            result.figures["seconds"] = round(time.perf_counter() - section_start, 1)
            results.append(result)
            print("\n" + report.render(result), flush=True)
    finally:
        await bench.close()
    meta = {
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "backend": bench.backend,
        "size": args.size,
        "plan": plan.__dict__,
        "machine": info,
        "seconds": round(time.perf_counter() - started, 1),
        "seconds_seeding": round(bench.seconds_seeding, 1),
    }
    return meta, results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        meta, results = asyncio.run(run(args, args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="packets-bench-") as tmp:
            meta, results = asyncio.run(run(args, Path(tmp)))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or RESULTS / f"{stamp}-{meta['backend']}-{args.size}.json"
    report.write_json(output, meta, results)
    print(f"\n{report.summary(results)}")
    print(
        f"Ran {meta['seconds']:.0f} s ({meta['seconds_seeding']:.0f} s seeding); "
        f"figures written to {output}"
    )
    missed = any(not target.met for result in results for target in result.targets)
    return 1 if args.check and missed else 0
