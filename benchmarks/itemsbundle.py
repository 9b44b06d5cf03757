"""A bundle of many items (a json draft made here, as an export of ours would be) imported
through the API while another client keeps creating packets: how long the import takes, and
how long the other writer waits meanwhile (on SQLite every writer queues for one lock)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from .stats import Sample

WRITE_EVERY = 0.05  # seconds between the other writer's requests


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def items_bundle(items: int, path: Path) -> int:
    """A json bundle of a draft packet with `items` items, each with a little data."""
    moment = "2026-11-26T06:45:46.000000+00:00"
    contents = []
    for number in range(items):
        data = {"page": number, "note": f"finding {number} of the ledger review"}
        contents.append(
            {
                "content_type": "document",
                "content_id": f"doc-{number:06d}",
                "content_title": f"Ledger page {number}",
                "order": number,
                "added_at": moment,
                "added_by": "bench",
                "data": data,
                "data_sha256": hashlib.sha256(canonical(data)).hexdigest(),
                "file": None,
                "original_file": None,
                "resolution": {"source": "stored", "path": None, "data": data},
            }
        )
    packet_id = str(uuid.uuid4())
    created = {  # a custody log of one entry: an import refuses a bundle without one
        "seq": 1,
        "prev": None,
        "packet_id": packet_id,
        "at": moment,
        "actor": "bench",
        "event": "created",
        "details": {"name": f"{items} items", "version": 1},
    }
    document = {
        "format": "arkham-packet",
        "format_version": 1,
        "packet": {
            "id": packet_id,
            "name": f"{items} items",
            "description": "",
            "status": "draft",
            "visibility": "private",
            "created_by": "bench",
            "created_at": moment,
            "updated_at": moment,
            "finalized_at": None,
            "version": 1,
            "contents_count": items,
            "size_bytes": 0,
            "checksum": None,
            "checksum_recipe": 1,
            "metadata": {},
        },
        "contents": contents,
        "custody": [created],
        "seal": None,
    }
    raw = json.dumps(document).encode()
    path.write_bytes(raw)
    return len(raw)


async def import_while_writing(
    client: httpx.AsyncClient, bundle: Path
) -> tuple[float, Sample, list[str]]:
    """The import's seconds, the other writer's request times and its failures."""
    writes = Sample()
    failures: list[str] = []
    done = asyncio.Event()

    async def other_writer() -> None:
        number = 0
        while not done.is_set():
            start = time.perf_counter()
            response = await client.post("/api/packets/", json={"name": f"meanwhile {number}"})
            writes.add(time.perf_counter() - start)
            if response.status_code != 201:
                failures.append(f"{response.status_code} {response.text[:200]}")
            number += 1
            await asyncio.sleep(WRITE_EVERY)

    writer = asyncio.create_task(other_writer())
    handle = await asyncio.to_thread(open, bundle, "rb")
    start = time.perf_counter()
    try:
        response = await client.post(
            "/api/packets/import",
            files={"file": (bundle.name, handle, "application/json")},
            data={"merge_mode": "replace"},
        )
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        await writer
        await asyncio.to_thread(handle.close)
    if response.status_code != 201:
        raise RuntimeError(f"import of {bundle.name}: {response.status_code} {response.text}")
    return elapsed, writes, failures
