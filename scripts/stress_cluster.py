"""The stress run's servers: `arkham-packets serve` processes on loopback ports, each on its
data directory, all on one PostgreSQL database made afresh; what every request answered."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.migrate import upgrade
from arkham_shard_packets.db.revision import VERSION_TABLE
from arkham_shard_packets.db.tables import metadata

API = "/api/packets"
HOST = "127.0.0.1"


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
    """The server processes (each on its data directory), and one HTTP client per server."""

    def __init__(
        self,
        database_url: str,
        data_dirs: list[Path],
        logs_dir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.data_dirs = data_dirs
        self.logs_dir = logs_dir
        self.env = env or {}
        self.ports = [free_port() for _ in data_dirs]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.clients: list[httpx.AsyncClient] = []
        self.logs: list[Path] = []  # of every process started, in order
        self.log_of: dict[int, Path] = {}  # each server's latest process's

    def start(self) -> None:
        for index, port in enumerate(self.ports):
            self.processes.append(self.launch(index))
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

    def launch(self, index: int) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
        command = [sys.executable, "-m", "arkham_shard_packets.cli", "serve"]
        command += ["--host", HOST, "--port", str(self.ports[index])]
        command += ["--data-dir", str(self.data_dirs[index])]
        command += ["--database-url", self.database_url, "--log-level", "warning"]
        log = self.logs_dir / f"server-{index}-{len(self.logs)}.log"
        self.logs.append(log)
        self.log_of[index] = log
        with open(log, "wb") as out:
            return subprocess.Popen(command, env=env | self.env, stdout=out, stderr=out)

    def kill(self, index: int) -> None:
        """SIGKILL: the server ends at once, in the middle of whatever it was doing."""
        process = self.processes[index]
        process.kill()
        process.wait()

    async def restart(self, index: int) -> None:
        """A new process for a server that was killed, on its port and data directory."""
        self.processes[index] = self.launch(index)
        await self.wait_ready()

    async def wait_ready(self, patience: float = 60) -> None:
        deadline = time.monotonic() + patience
        for index, (process, client) in enumerate(zip(self.processes, self.clients, strict=True)):
            while True:
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log = self.log_of[index].read_text()
                    raise SystemExit(f"server {index} did not start:\n{log}")
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
        for log in self.logs:
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                first = text[text.index("Traceback") :][:4000]
                problems.append(f"a server logged a traceback (see {log}):\n{first}")
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
