"""Helpers for the attachment, export and import tests."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from arkham_shard_packets.db.tables import metadata, outbox

from .conftest import add_item, make_packet


async def attach(
    client: httpx.AsyncClient,
    packet_id: str,
    entry_id: str,
    content: bytes,
    name: str = "letter.pdf",
    media_type: str = "application/pdf",
) -> httpx.Response:
    return await client.put(
        f"/api/packets/{packet_id}/contents/{entry_id}/file",
        files={"file": (name, io.BytesIO(content), media_type)},
    )


async def packet_with_files(client: httpx.AsyncClient, name: str = "Harbor leak") -> Any:
    """A draft with three items: one with stored data and a file, one with a file only,
    one with nothing (unresolved when exported without a Frame)."""
    packet = await make_packet(
        client, name, description="Shipping records", metadata={"case": "H-17", "n": 3}
    )
    pid = packet["id"]
    letter = await add_item(
        client,
        pid,
        "doc-1",
        "document",
        content_title="Scanned letter",
        order=0,
        data={"summary": "Signed by the harbour master", "pages": 2},
    )
    sheet = await add_item(client, pid, "doc-2", "document", content_title="Ledger", order=1)
    await add_item(client, pid, "ent-9", "entity", content_title="Harbour master", order=2)
    assert (
        await attach(client, pid, letter["id"], b"%PDF-1.4 scanned letter\n" * 50)
    ).status_code == 200
    response = await attach(
        client,
        pid,
        sheet["id"],
        b"date,ship,tons\n" + b"2024-01-01,Aurora,120\n" * 200,
        "ledger (2024).csv",
        "text/csv",
    )
    assert response.status_code == 200, response.text
    return packet


async def export(
    client: httpx.AsyncClient, packet_id: str, fmt: str = "zip"
) -> tuple[dict[str, Any], bytes]:
    response = await client.post(f"/api/packets/{packet_id}/export", json={"format": fmt})
    assert response.status_code == 200, response.text
    body = response.json()
    download = await client.get(body["download_url"])
    assert download.status_code == 200, download.text
    return body, download.content


# The relay places and delivers events after the answer: bookkeeping, not content.
OUTBOX_DELIVERY = {"position", "delivered_at", "attempts"}


async def database_rows(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every shard table, in a stable order: to prove nothing changed."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.c if table is not outbox or c.name not in OUTBOX_DELIVERY]
            result = await conn.execute(select(*columns))
            rows[table.name] = sorted(tuple(map(repr, row)) for row in result.all())
    return rows


def leftover_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def file_bytes(path: str | Path) -> bytes:
    return Path(path).read_bytes()


def members(archive: bytes, fmt: str) -> dict[str, bytes]:
    """Every file of a zip or tar.gz bundle by its path inside the bag's folder; a json
    bundle as one member per top-level key (canonical JSON)."""
    import io
    import json
    import tarfile
    import zipfile

    if fmt == "json":
        document = json.loads(archive)
        return {key: json.dumps(value, sort_keys=True).encode() for key, value in document.items()}
    found: dict[str, bytes] = {}
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            for info in bundle.infolist():
                found[info.filename.split("/", 1)[1]] = bundle.read(info)
    else:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as bundle:
            for member in bundle.getmembers():
                if member.isfile():
                    handle = bundle.extractfile(member)
                    assert handle is not None
                    found[member.name.split("/", 1)[1]] = handle.read()
    return found


def custody_lines(archive: bytes, fmt: str) -> list[str]:
    """The custody log a bundle carries, one canonical JSON entry per item."""
    import json

    if fmt == "json":
        return [
            json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            for entry in json.loads(archive)["custody"]
        ]
    return members(archive, fmt)["custody.jsonl"].decode().splitlines()


def assert_same_but_custody(first: bytes, second: bytes, fmt: str) -> None:
    """Two exports of one sealed packet: the same payload, packet.json, bag-info and seal; the
    second's custody log is the first's and more (the first export was recorded in it)."""
    before, after = members(first, fmt), members(second, fmt)
    grown = {"custody.jsonl", "tagmanifest-sha256.txt", "custody"}
    assert before.keys() == after.keys()
    assert {k: v for k, v in before.items() if k not in grown} == {
        k: v for k, v in after.items() if k not in grown
    }
    earlier, later = custody_lines(first, fmt), custody_lines(second, fmt)
    assert len(later) > len(earlier)
    assert later[: len(earlier)] == earlier
