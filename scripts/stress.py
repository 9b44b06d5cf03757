"""Stress: several server processes on one PostgreSQL database, hammering the same packets.

    python scripts/stress.py --database-url postgresql://postgres@127.0.0.1:5432/stress

It DROPS the shard's tables in that database first (and creates the database if it is
missing), so never point it at a database that matters. Then it starts `--servers`
`arkham-packets serve` processes on loopback ports (one data directory, one database) and for
`--seconds` (at most `--max-requests`) sends concurrent requests at a few shared packets:
content adds and removes, attachments, versions, shares and revocations, edits, exports, and
finalize racing edits on packets made for the race. Afterwards it checks, through the API and
in SQL, the invariants in stress_checks.py, prints a summary and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from stress_checks import check_everything

from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.migrate import upgrade
from arkham_shard_packets.db.revision import VERSION_TABLE
from arkham_shard_packets.db.tables import metadata

API = "/api/packets"
HOST = "127.0.0.1"
CONTENT_TYPES = ("document", "entity", "claim")
POOL = 24  # content ids per hot packet: small, so adds collide (409) and removes find work


@dataclass
class Tally:
    """What every request answered; a 5xx or a broken connection is a violation."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    requests: int = 0

    def record(self, op: str, status: int, detail: str = "") -> None:
        self.requests += 1
        self.statuses[(op, status)] += 1
        if status >= 500:
            self.violations.append(f"{op}: {status} {detail[:200]}")


class Cluster:
    """The server processes, and one HTTP client per server."""

    def __init__(self, count: int, database_url: str, data_dir: Path) -> None:
        self.count = count
        self.database_url = database_url
        self.data_dir = data_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.clients: list[httpx.AsyncClient] = []
        self.logs: list[Path] = []

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
        for index in range(self.count):
            port = free_port()
            log = self.data_dir / f"server-{index}.log"
            command = [sys.executable, "-m", "arkham_shard_packets.cli", "serve"]
            command += ["--host", HOST, "--port", str(port), "--data-dir", str(self.data_dir)]
            command += ["--database-url", self.database_url, "--log-level", "warning"]
            with open(log, "wb") as out:
                self.processes.append(subprocess.Popen(command, env=env, stdout=out, stderr=out))
            self.logs.append(log)
            # An idle connection is dropped by the client well before uvicorn's 5 s keep-alive
            # timeout: at equal timeouts a request can meet the server's close (a disconnect
            # without an answer, which is the race, not the server).
            self.clients.append(
                httpx.AsyncClient(
                    base_url=f"http://{HOST}:{port}{API}",
                    timeout=60,
                    limits=httpx.Limits(keepalive_expiry=1.0),
                )
            )

    async def wait_ready(self, patience: float = 60) -> None:
        deadline = time.monotonic() + patience
        for process, client, log in zip(self.processes, self.clients, self.logs, strict=True):
            while True:
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"a server did not start:\n{log.read_text()}")
                await asyncio.sleep(0.1)

    def any(self) -> httpx.AsyncClient:
        return random.choice(self.clients)

    async def stop(self) -> list[str]:
        """SIGINT every server; what went wrong on the way out."""
        problems = []
        for client in self.clients:
            await client.aclose()
        for process in self.processes:
            process.send_signal(signal.SIGINT)
        for index, process in enumerate(self.processes):
            try:
                code = await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = -9
            if code != 0:
                problems.append(f"server {index} exited with {code}")
        for index, log in enumerate(self.logs):
            if "Traceback" in log.read_text(errors="replace"):
                problems.append(f"server {index} logged a traceback (see {log})")
        return problems


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


async def reset_database(url: str) -> None:
    """A clean slate: the database exists, the shard's tables are dropped and migrated anew."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit("the stress run needs PostgreSQL (several processes on one database)")
    admin = create_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    async with admin.connect() as conn:
        # CREATE DATABASE cannot run inside a transaction
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        found = await conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        )
        if not found:
            await conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    await admin.dispose()
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    await upgrade(engine)
    await engine.dispose()


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
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, data_dir: Path) -> int:
    started = time.monotonic()
    await reset_database(args.database_url)
    cluster = Cluster(args.servers, args.database_url, data_dir)
    tally = Tally()
    problems: list[str] = []
    cluster.start()
    try:
        await cluster.wait_ready()
        print(f"stress: {args.servers} servers up in {time.monotonic() - started:.1f}s")
        hammer_started = time.monotonic()
        load = await hammer(cluster, tally, args)
        hammered = time.monotonic() - hammer_started
        print(f"stress: {tally.requests} requests in {hammered:.1f}s ({load.races} races)")
        problems += await check_everything(cluster.clients[0], args.database_url, data_dir)
    finally:
        problems += await cluster.stop()
    problems = tally.violations + problems
    summary(tally, problems, time.monotonic() - started)
    return 1 if problems else 0


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
