"""Stress: several server processes on one PostgreSQL database, hammering the same packets.

    python scripts/stress.py --database-url postgresql://postgres@127.0.0.1:5432/stress

It DROPS the shard's tables in that database first (and creates the database if it is
missing), so never point it at a database that matters. Then it starts `--servers`
`arkham-packets serve` processes on loopback ports (one data directory, one database) and for
`--seconds` (at most `--max-requests`) sends concurrent requests at a few shared packets:
content adds and removes, attachments, versions, shares and revocations, edits, exports, and
finalize racing edits on packets made for the race. Afterwards it checks, through the API and
in SQL, the invariants in stress_checks.py, prints a summary and exits 1 on any violation.

    python scripts/stress.py --database-url postgresql://postgres@127.0.0.1:5432/stress --s3

The machines mode (stress_machines.py): two servers on data directories of their own, sharing
the database, a bucket (moto_server on 127.0.0.1, started and stopped here, or the real bucket
`--s3-url` names) and the key; the same load, then what one makes served by the other, a
server killed in the middle of an upload and the other's sweep, and the same invariants.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from stress_checks import check_everything, local_blobs
from stress_cluster import Cluster, Tally, reset_database
from stress_load import hammer
from stress_machines import run_machines


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL; its tables are dropped")
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--workers", type=int, default=16, help="concurrent requests")
    parser.add_argument("--packets", type=int, default=3, help="shared packets to hammer")
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--data-dir", help="default: a temporary folder, removed afterwards")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--s3", action="store_true", help="the machines mode: two servers, one bucket"
    )
    parser.add_argument(
        "--s3-url",
        help="the machines mode on a real bucket (http://127.0.0.1:9000/<bucket>; credentials "
        "from the AWS chain; what the run writes is removed) instead of moto_server",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, data_dir: Path) -> int:
    started = time.monotonic()
    tally = Tally()
    if args.s3 or args.s3_url:
        problems = await run_machines(args, data_dir, tally)
    else:
        problems = await on_one_machine(args, data_dir, tally)
    problems = tally.violations + problems
    summary(tally, problems, time.monotonic() - started)
    return 1 if problems else 0


async def on_one_machine(args: argparse.Namespace, data_dir: Path, tally: Tally) -> list[str]:
    """`--servers` servers on one data directory: the load, then every invariant."""
    started = time.monotonic()
    await reset_database(args.database_url)
    cluster = Cluster(args.database_url, [data_dir] * args.servers, data_dir)
    problems: list[str] = []
    cluster.start()
    try:
        await cluster.wait_ready()
        print(f"stress: {args.servers} servers up in {time.monotonic() - started:.1f}s")
        hammer_started = time.monotonic()
        load = await hammer(cluster, tally, args)
        hammered = time.monotonic() - hammer_started
        print(f"stress: {tally.requests} requests in {hammered:.1f}s ({load.races} races)")
        problems += await check_everything(
            cluster.clients[0], args.database_url, lambda: asyncio.to_thread(local_blobs, data_dir)
        )
    finally:
        problems += await cluster.stop()
    return problems


def summary(tally: Tally, problems: list[str], elapsed: float) -> None:
    by_op: dict[str, Counter[int]] = {}
    for (op, status), count in tally.statuses.items():
        by_op.setdefault(op, Counter())[status] += count
    for op in sorted(by_op):
        answers = ", ".join(f"{code}: {n}" for code, n in sorted(by_op[op].items()))
        print(f"  {op:14} {answers}")
    if problems:
        print(f"stress: FAILED with {len(problems)} violation(s) in {elapsed:.1f}s:")
        for problem in problems[:50]:
            print(f"  - {problem}")
    else:
        print(f"stress: OK, every invariant holds ({elapsed:.1f}s)")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    random.seed(args.seed)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="packets-stress-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(run(args, data_dir))
    finally:
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
