"""Selective disclosure (issue 29): finalize commits to each item with a salted leaf under the
signed `items_root`; a disclosure bundle proves some items of a sealed version against it,
checked here as an outsider would, with hashlib and cryptography alone."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from arkham_shard_packets.db.tables import packet_seals

from .bundle_helpers import export, packet_with_files
from .custody_helpers import (
    Files,
    bag_files,
    canonical,
    check_seal_independently,
    rewrite,
    seal_of,
    write,
)
from .test_export import unpack
from .test_item_proofs import mth
from .test_seals import keys, readme_code

API = "/api/packets"


def recipe_entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The checksum recipe's entries of packet.json's items, in its order."""
    entries = [
        {
            "content_type": item["content_type"],
            "content_id": item["content_id"],
            "content_title": item["content_title"] or "",
            "order": item["order"],
            "data_sha256": item["data_sha256"],
            "file_sha256": None if item["file"] is None else item["file"]["sha256"],
        }
        for item in document["contents"]
    ]
    return sorted(entries, key=lambda e: (e["order"], e["content_type"], e["content_id"]))


async def stored_salts(app: FastAPI, packet_id: str) -> list[str]:
    engine = app.state.packets_shard.services.database.engine
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(packet_seals.c.item_salts).where(packet_seals.c.packet_id == packet_id)
            )
        ).one()
    salts: list[str] = json.loads(row.item_salts)
    return salts


async def test_finalize_signs_the_items_root_of_salted_leaves(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet = await packet_with_files(client)
    assert (await client.post(f"{API}/{packet['id']}/finalize")).status_code == 200
    _, document = await export(client, packet["id"], "json")
    seal = seal_of(document, "json")
    check_seal_independently(seal)
    statement = seal["statement"]
    assert statement["format"] == "arkham-packet-seal/2"
    assert statement["items_count"] == 3
    salts = await stored_salts(app, packet["id"])
    assert len(salts) == 3 and len(set(salts)) == 3
    assert all(len(bytes.fromhex(salt)) == 32 for salt in salts)
    entries = recipe_entries(json.loads(document))
    leaves = [canonical({"entry": e, "salt": s}) for e, s in zip(entries, salts, strict=True)]
    assert statement["items_root"] == mth(leaves).hex()
    assert salts[0] not in document.decode()  # an export carries no salt
    report = (await client.get(f"{API}/{packet['id']}/verify")).json()
    assert report["valid"] is True, report["problems"]


async def test_an_empty_packet_commits_to_the_empty_tree(client: httpx.AsyncClient) -> None:
    packet = (await client.post(f"{API}/", json={"name": "Empty"})).json()
    assert (await client.post(f"{API}/{packet['id']}/finalize")).status_code == 200
    _, document = await export(client, packet["id"], "json")
    statement = seal_of(document, "json")["statement"]
    assert statement["items_count"] == 0
    assert statement["items_root"] == hashlib.sha256(b"").hexdigest()


async def disclose(
    client: httpx.AsyncClient, packet_id: str, item_ids: list[str], fmt: str = "zip", **more: Any
) -> tuple[dict[str, Any], bytes]:
    response = await client.post(
        f"{API}/{packet_id}/disclosures", json={"item_ids": item_ids, "format": fmt, **more}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    download = await client.get(body["download_url"])
    assert download.status_code == 200, download.text
    assert hashlib.sha256(download.content).hexdigest() == body["sha256"]
    assert len(download.content) == body["file_size_bytes"]
    return body, download.content


async def sealed_with_files(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """A sealed packet of three items; their entry ids by content id."""
    packet = await packet_with_files(client)
    assert (await client.post(f"{API}/{packet['id']}/finalize")).status_code == 200
    listed = (await client.get(f"{API}/{packet['id']}/contents")).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    return packet["id"], {item["content_id"]: item["id"] for item in items}


def recipe() -> Callable[[Any, str], Any]:
    check: Callable[[Any, str], Any] = readme_code("## Checking a disclosure")["check_disclosure"]
    return check


def opened(archive: bytes, fmt: str, where: Path) -> Path:
    if fmt == "json":
        return write(where.with_suffix(".json"), archive)
    return unpack(archive, fmt, where)


async def verify_cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "arkham_shard_packets.cli", "verify", str(path), "-q", *args]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120
    )


async def proves_doc_1_and_ent_9(
    client: httpx.AsyncClient, archive: bytes, fmt: str, packet_id: str, where: Path
) -> Path:
    """The disclosure of items doc-1 and ent-9 of `sealed_with_files`' three proves them with
    the bundle and the installation's fingerprint alone: checked by the README's recipe, then
    by `verify --trust`. The bundle's file (`where` with the format's suffix)."""
    (key,) = await keys(client)
    statement, entries = recipe()(opened(archive, fmt, where.parent / "d"), key["fingerprint"])
    assert statement["packet_id"] == packet_id and statement["items_count"] == 3
    assert [entry["content_id"] for entry in entries] == ["doc-1", "ent-9"]
    path = write(where.with_name(f"{where.name}.{fmt}"), archive)
    done = await verify_cli(path, "--trust", key["fingerprint"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        f"2 of 3 items of packet {packet_id} version 2, sealed by {key['fingerprint']}, each "
        "proven part of it; their files match"
    ) in done.stdout
    return path


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
async def test_a_disclosure_proves_its_items_with_the_bundle_and_the_fingerprint_alone(
    client: httpx.AsyncClient, tmp_path: Path, fmt: str
) -> None:
    packet_id, ids = await sealed_with_files(client)
    body, archive = await disclose(
        client, packet_id, [ids["doc-1"], ids["ent-9"]], fmt, recipient="court of appeal"
    )
    assert body["contents_exported"] == 2
    text = archive.decode("latin-1")
    for withheld in ("doc-2", "Ledger", "Harbor leak", "Shipping records", "Aurora"):
        assert withheld not in text, withheld  # nothing of the withheld item, nor the packet
    path = await proves_doc_1_and_ent_9(client, archive, fmt, packet_id, tmp_path / "disclosure")
    untrusted = await verify_cli(path)
    assert untrusted.returncode == 3, untrusted.stdout
    log = (await client.get(f"{API}/{packet_id}/custody")).json()["entries"]
    disclosed = [entry for entry in log if entry["event"] == "disclosed"]
    assert disclosed[-1]["details"]["items"] == [ids["doc-1"], ids["ent-9"]]
    assert disclosed[-1]["details"]["recipient"] == "court of appeal"
    assert disclosed[-1]["details"]["sha256"] == body["sha256"]
    assert log[-1]["event"] == "export_downloaded"


async def test_a_disclosure_is_no_packet_to_import(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    packet_id, ids = await sealed_with_files(client)
    for fmt in ("zip", "json"):
        _, archive = await disclose(client, packet_id, [ids["doc-2"]], fmt)
        response = await client.post(
            f"{API}/import", files={"file": (f"d.{fmt}", archive)}, data={"merge_mode": "skip"}
        )
        assert response.status_code == 422, response.text
        assert "a disclosure proves items, it is not a packet" in response.json()["detail"]


async def test_what_can_t_be_disclosed_is_refused_with_a_reason(
    client: httpx.AsyncClient,
) -> None:
    packet_id, ids = await sealed_with_files(client)
    url = f"{API}/{packet_id}/disclosures"
    unknown = await client.post(url, json={"item_ids": ["nope"]})
    assert unknown.status_code == 422 and "nope" in unknown.json()["detail"]
    assert (await client.post(url, json={"item_ids": []})).status_code == 422
    unsealed = await client.post(url, json={"item_ids": [ids["doc-1"]], "version": 1})
    assert unsealed.status_code == 409, unsealed.text
    assert "not sealed" in unsealed.json()["detail"]
    missing = await client.post(url, json={"item_ids": [ids["doc-1"]], "version": 99})
    assert missing.status_code == 409
    draft = (await client.post(f"{API}/", json={"name": "Draft"})).json()
    refused = await client.post(f"{API}/{draft['id']}/disclosures", json={"item_ids": ["x"]})
    assert refused.status_code == 409 and "no sealed version" in refused.json()["detail"]
    other = await client.post(url, json={"item_ids": [ids["doc-1"]], "format": "rar"})
    assert other.status_code == 422


def _swap(files: Files) -> None:
    """Item 0's proof and salt kept, its entry replaced by item 2's."""
    disclosure = json.loads(files["disclosure.json"])
    first, last = disclosure["items"]
    first["entry"], last["entry"] = last["entry"], first["entry"]
    files["disclosure.json"] = json.dumps(disclosure).encode()


def _other_index(files: Files) -> None:
    disclosure = json.loads(files["disclosure.json"])
    disclosure["items"][0]["index"] = 1
    files["disclosure.json"] = json.dumps(disclosure).encode()


def _changed_file(files: Files) -> None:
    (name,) = [name for name in files if "/file/" in name and name.startswith("data/items/0/")]
    files[name] = files[name].replace(b"scanned", b"forged!")


async def test_every_tampering_is_caught_by_the_cli_and_by_the_recipe(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    packet_id, ids = await sealed_with_files(client)
    _, archive = await disclose(client, packet_id, [ids["doc-1"], ids["ent-9"]])
    other_id, other_ids = await sealed_with_files(client)
    _, foreign = await disclose(client, other_id, [other_ids["doc-1"]])

    def _foreign_item(files: Files) -> None:
        """An item of another packet, with its own valid proof against that packet's root."""
        disclosure = json.loads(files["disclosure.json"])
        theirs = json.loads(bag_files(foreign, "zip")[1]["disclosure.json"])
        disclosure["items"][0] = theirs["items"][0]
        files["disclosure.json"] = json.dumps(disclosure).encode()

    (key,) = await keys(client)
    check = recipe()
    for number, change in enumerate((_swap, _foreign_item, _other_index, _changed_file)):
        forged = rewrite(archive, "zip", change)
        with pytest.raises(AssertionError):
            check(unpack(forged, "zip", tmp_path / f"r{number}"), key["fingerprint"])
        done = await verify_cli(
            write(tmp_path / f"f{number}.zip", forged), "--trust", key["fingerprint"]
        )
        assert done.returncode == 1, (change.__name__, done.stdout)
        assert "INVALID" in done.stdout
