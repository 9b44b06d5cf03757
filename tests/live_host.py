"""The standalone host in its own process, and the headless Chromium some tests drive."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM = shutil.which("chromium")


def require_chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(
    base: str, process: subprocess.Popen[str], headers: dict[str, str] | None = None
) -> None:
    """Waits until the server at `base` (run by `process`) answers its health check; raises
    the connection's error once the process has stopped or 30 seconds have passed."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/api/packets/health", headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.1)


class LiveHost:
    """The standalone host in its own process, as `arkham-packets serve` runs it."""

    def __init__(
        self, data_dir: Path, database_url: str, settings: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.output = ""
        self.database_url = database_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
        env.update(settings or {})  # ARKHAM_PACKETS_... settings of this host's own
        token = env.get("ARKHAM_PACKETS_API_TOKEN")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        command = [sys.executable, "-m", "arkham_shard_packets.cli", "serve"]
        command += ["--port", str(self.port), "--data-dir", str(data_dir)]
        command += ["--database-url", database_url]
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def wait_until_up(self) -> None:
        wait_until_healthy(self.base, self.process, self.headers)

    def stop(self) -> None:
        if self.process.stdout is None or self.process.stdout.closed:
            return  # stopped already
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        printed, _ = self.process.communicate(timeout=30)
        self.output += printed


@contextmanager
def running(
    data_dir: Path, database_url: str, settings: dict[str, str] | None = None
) -> Iterator[LiveHost]:
    """A live host, up, for as long as the block runs; stopped after it."""
    host = LiveHost(data_dir, database_url, settings)
    try:
        host.wait_until_up()
        yield host
    finally:
        host.stop()
