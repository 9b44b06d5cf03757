"""Selective disclosure (issue 29): finalize commits to each item with a salted leaf under the
signed `items_root`; a disclosure bundle proves some items of a sealed version against it,
checked here as an outsider would, with hashlib and cryptography alone."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from arkham_shard_packets.db.tables import packet_seals

from .bundle_helpers import export, packet_with_files
from .custody_helpers import canonical, check_seal_independently, seal_of
from .test_item_proofs import mth

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
