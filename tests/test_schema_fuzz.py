"""Schemathesis against the app's own OpenAPI schema, over a live server on a real database.

Every operation goes through the examples, coverage, fuzzing and stateful phases (the stateful
one follows links from a created packet to everything that needs its ids, which the test adds
to the served document: tests/openapi_links.py), with
every check: no 5xx, no status code, content type or header the schema doesn't list, every
response matching its schema, invalid data refused, valid data accepted (with the exceptions
named in CONFIG, each for a reason a schema can't state)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import POSTGRES_URL
from .live_host import free_port
from .openapi_links import linked

EXAMPLES = int(os.environ.get("PACKETS_FUZZ_EXAMPLES", "10"))
PHASES = ("examples", "coverage", "fuzzing", "stateful")
CONFIG = """
[checks]
# DELETE /{packet_id} archives: packets are never destroyed (FRAME_CONTRACT), so what hangs off
# an archived packet stays readable.
use_after_free.enabled = false

[phases.stateful]
max-steps = 20

# Whether an upload is a valid bundle is beyond what a schema can say: any bytes fit it, and
# most of them are (rightly) refused with 422.
[[operations]]
include-path = "/api/packets/import"
checks.positive_data_acceptance.enabled = false

# `expires_at` must lie in the future, which a schema can't say.
[[operations]]
include-path = "/api/packets/{packet_id}/share"
checks.positive_data_acceptance.enabled = false

# page/page_size and limit/offset are two ways of paging; a request that mixes them is 422,
# which a schema's independent query parameters can't say.
# (Each include- key of an entry is a filter of its own, any of which selects: so one key.)
[[operations]]
include-path-regex = '^/api/packets/(status/[{]packet_status[}])?$'
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "422"]

# A disclosure names items of a sealed version, which a schema can't say: others are 422.
[[operations]]
include-path = "/api/packets/{packet_id}/disclosures"
checks.positive_data_acceptance.expected-statuses = ["2xx", "404", "409", "422"]

# A stale (or made-up) If-Match is 412 by design.
[[operations]]
include-path = "/api/packets/{packet_id}"
include-method = "PUT"
checks.positive_data_acceptance.expected-statuses = ["2xx", "404", "409", "412"]
"""


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


def test_api_honours_its_schema(live_server: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    report = tmp_path / "report.json"
    schema = tmp_path / "openapi.json"  # the served document, with the links to follow
    schema.write_text(json.dumps(linked(httpx.get(f"{live_server}/openapi.json").json())))
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"]
    command += [str(schema), "--url", live_server, "--include-path-regex", "^/api/packets"]
    command += ["--phases", ",".join(PHASES), "--max-examples", str(EXAMPLES), "--seed", "1"]
    command += ["--workers", "1", "--generation-database", "none", "--no-color"]
    command += ["--report", "json", "--report-json-path", str(report)]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    output = run.stdout + run.stderr
    tail = "\n".join(output.splitlines()[-150:])
    assert run.returncode == 0, tail
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    assert selected and tested, tail
    assert int(tested.group(1)) == int(selected.group(1)) >= 38, tail
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ {phase}", output), (phase, tail)
    assert json.loads(report.read_text()), "schemathesis wrote no report"
