"""Schemathesis against the app's own OpenAPI schema, over a live server on a real database:
no 5xx, and every response (status code, content type, body) matches what the schema says."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .conftest import POSTGRES_URL
from .live_host import free_port

EXAMPLES = int(os.environ.get("PACKETS_FUZZ_EXAMPLES", "25"))


def reset_postgres_sync(url: str) -> None:
    import asyncio

    from .conftest import reset_postgres

    asyncio.run(reset_postgres(url))


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    command = [sys.executable, "-m", "arkham_shard_packets.cli", "serve", "--port"]
    port = free_port()
    command += [str(port), "--data-dir", str(data_dir), "--log-level", "warning"]
    if POSTGRES_URL:
        reset_postgres_sync(POSTGRES_URL)
        command += ["--database-url", POSTGRES_URL]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    server = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/api/packets/health").raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        seed_some_data(base)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def seed_some_data(base: str) -> None:
    """Give the fuzzer real rows to hit besides the ones it invents."""
    packet = httpx.post(f"{base}/api/packets/", json={"name": "seed"}).json()
    httpx.post(
        f"{base}/api/packets/{packet['id']}/contents",
        json={"content_type": "document", "content_id": "seed-doc"},
    )


# Whether an uploaded archive is a valid bundle is beyond what a schema can say: any bytes fit
# the schema of POST /import, and most of them are (rightly) refused with 422.
CONTENT_CHECKED = {"POST /api/packets/import"}


def fuzz_operation(operation: Any) -> None:
    excluded = [positive_data_acceptance] if operation.label in CONTENT_CHECKED else []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(excluded_checks=excluded)

    run()


def test_api_honours_its_schema(live_server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    failures: list[str] = []
    tested = 0
    for result in schema.include(path_regex="^/api/packets").get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        tested += 1
        try:
            fuzz_operation(operation)
        except Exception as error:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {error}")
    assert tested >= 15
    assert not failures, "\n\n".join(failures)
