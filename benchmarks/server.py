"""A live uvicorn server in its own process, serving the app under test on a free local port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .app import API_TOKEN_ENV, DATA_DIR_ENV, DATABASE_ENV

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    pid: int  # the uvicorn process itself (no reloader, no workers)


@asynccontextmanager
async def live_server(database_url: str, data_dir: Path) -> AsyncIterator[str]:
    """Yields the base URL once the server answers; stops the server (SIGINT) on exit."""
    async with live_process(database_url, data_dir) as server:
        yield server.base_url


@asynccontextmanager
async def live_process(
    database_url: str,
    data_dir: Path,
    api_token: str | None = None,
    settings: dict[str, str] | None = None,
) -> AsyncIterator[LiveServer]:
    """`live_server`, telling also the server's process id; `api_token` guards its API,
    `settings` are the shard's besides (`ARKHAM_PACKETS_STORE`, ...)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.app:app_from_environment",
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {
        **os.environ,
        **(settings or {}),
        DATABASE_ENV: database_url,
        DATA_DIR_ENV: str(data_dir),
    }
    env.pop(API_TOKEN_ENV, None)
    if api_token is not None:
        env[API_TOKEN_ENV] = api_token
    process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env)
    base_url = f"http://{HOST}:{port}"
    try:
        await wait_until_ready(process, base_url, api_token)
        yield LiveServer(base_url, process.pid)
    finally:
        await stop(process)


async def wait_until_ready(
    process: asyncio.subprocess.Process, base_url: str, api_token: str | None = None
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    headers = {} if api_token is None else {"Authorization": f"Bearer {api_token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the uvicorn server exited with code {process.returncode}")
            try:
                if (await client.get("/api/packets/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the uvicorn server did not answer within {START_TIMEOUT_S:.0f} s")


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), timeout=20)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
