"""The standalone host's app served by uvicorn on a thread of the test's own process: a live
HTTP server for a browser, up in about a twentieth of the time `arkham-packets serve` takes to
start as a process (imports, probes). Tests of what the process itself does (its start-up, its
log, Ctrl-C) use tests/live_host.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from arkham_shard_packets.host.app import HostConfig, create_app

from .live_host import free_port

START_SECONDS = 30


@dataclass(frozen=True)
class ThreadedHost:
    base: str


@contextmanager
def serving(data_dir: Path, database_url: str) -> Iterator[ThreadedHost]:
    app = create_app(HostConfig(data_dir=data_dir, database_url=database_url))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, name=f"host-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the host on port {port} did not start")
            time.sleep(0.01)
        yield ThreadedHost(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(START_SECONDS)
