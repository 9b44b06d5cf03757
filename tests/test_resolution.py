"""Resolving item data inside a Frame: stored data first, then the Frame's documents and
entities services (with a document's original file from storage), then the owning shard's
API called in-process through the Frame's app; what nothing resolves is reported."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import bagit
import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request

from .bundle_helpers import export
from .conftest import add_item, make_packet
from .frame_users import Users
from .share_helpers import share
from .test_export import unpack

ORIGINAL = b"%PDF-1.7 the original scan of the manifest"


@dataclass
class Document:
    id: str
    filename: str
    storage_id: str
    mime_type: str
    created_at: datetime


class Documents:
    def __init__(self, storage_id: str) -> None:
        self.storage_id = storage_id

    async def get_document(self, doc_id: str) -> Document | None:
        if doc_id == "doc-broken":
            raise RuntimeError("index offline")
        moment = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
        if doc_id == "doc-lost":  # its record is there, its original is gone from storage
            return Document(
                doc_id, "Lost scan.pdf", "documents/gone.pdf", "application/pdf", moment
            )
        if doc_id != "doc-1":
            return None
        return Document("doc-1", "Manifest scan.pdf", self.storage_id, "application/pdf", moment)

    async def get_document_text(self, doc_id: str) -> str:
        return "Cargo: 120 tons of copper"


class Entities:
    async def get_entity(self, entity_id: str) -> dict[str, Any]:
        if entity_id != "ent-1":
            raise KeyError(entity_id)  # the Frame's get_entity raises when missing
        return {"id": "ent-1", "name": "Harbour master", "type": "person"}


@pytest.fixture
def analyst(users: Users) -> dict[str, str]:
    """A Frame user's bearer token, which the owning shard's route below asks for."""
    return users.headers("7c0f3a0e-0000-4000-8000-00000000000a")


@pytest.fixture
async def frame_app(app: FastAPI, analyst: dict[str, str]) -> FastAPI:
    frame = app.state.frame
    storage_id = await frame.get_service("storage").store(
        "Manifest scan.pdf", ORIGINAL, category="documents"
    )
    frame.services["documents"] = Documents(storage_id)
    frame.services["entities"] = Entities()

    async def claim(claim_id: str, request: Request) -> dict[str, Any]:
        if request.headers.get("authorization") != analyst["Authorization"]:
            raise HTTPException(401, "who are you?")
        if claim_id != "claim/7":
            raise HTTPException(404, "no such claim")
        return {"id": claim_id, "statement": "The ship was overloaded"}

    app.add_api_route("/api/claims/{claim_id:path}", claim)
    return app


async def test_resolution_order_and_unresolved_items(
    frame_app: FastAPI, client: httpx.AsyncClient, tmp_path: Path, analyst: dict[str, str]
) -> None:
    client.headers.update(analyst)  # the packet is the analyst's; the export forwards the token
    packet = await make_packet(client)
    pid = packet["id"]
    await add_item(client, pid, "doc-1", "document", order=0)
    await add_item(client, pid, "doc-2", "document", order=1, data={"note": "kept with the item"})
    await add_item(client, pid, "doc-broken", "document", order=2)
    await add_item(client, pid, "ent-1", "entity", order=3)
    await add_item(client, pid, "ent-404", "entity", order=4)
    await add_item(client, pid, "claim/7", "claim", order=5)
    await add_item(client, pid, "m-1", "matrix", order=6)

    response = await client.post(f"/api/packets/{pid}/export", json={"format": "zip"})
    assert response.status_code == 200, response.text
    body = response.json()
    archive = (await client.get(body["download_url"])).content
    root = unpack(archive, "zip", tmp_path / "bag")
    bagit.Bag(str(root)).validate()
    items = json.loads((root / "data/packet.json").read_text())["contents"]
    sources = {item["content_id"]: item["resolution"]["source"] for item in items}
    assert sources == {
        "doc-1": "frame",
        "doc-2": "stored",
        "doc-broken": "unresolved",
        "ent-1": "frame",
        "ent-404": "unresolved",
        "claim/7": "shard",
        "m-1": "unresolved",
    }
    document = items[0]
    resolved = json.loads((root / document["resolution"]["path"]).read_text())
    assert resolved["data"]["text"] == "Cargo: 120 tons of copper"
    assert resolved["data"]["record"]["filename"] == "Manifest scan.pdf"
    original = document["original_file"]
    assert original["path"] == "data/originals/0001-Manifest_scan.pdf"
    assert original["media_type"] == "application/pdf"
    assert (root / original["path"]).read_bytes() == ORIGINAL
    assert original["sha256"] == hashlib.sha256(ORIGINAL).hexdigest()
    assert document["file"] is None  # an original is not an attachment: not sealed
    claim = json.loads((root / items[5]["resolution"]["path"]).read_text())
    assert claim["data"] == {"id": "claim/7", "statement": "The ship was overloaded"}

    # A service that failed or knows nothing is named per item; items nothing here serves
    # (no matrix service, no shard at /api/ach/matrix/) are reported together, once.
    assert body["errors"] == []
    assert body["warnings"] == [
        "document doc-broken: unresolved (the Frame's service failed: index offline)",
        "entity ent-404: unresolved (nothing in the Frame knows it)",
        "1 item was exported without its data (matrix m-1): none was stored with it, and this "
        "server has no Frame service or shard that serves it (/api/ach/matrix/). packet.json "
        "lists it as unresolved (titles and files are kept). To carry its data, send it as "
        f"`data` when adding an item (POST /api/packets/{pid}/contents), or export inside the "
        "Arkham Frame, where the shards that own it run.",
    ]


async def test_the_shard_api_sees_the_callers_credentials(
    frame_app: FastAPI, client: httpx.AsyncClient
) -> None:
    packet = await make_packet(client)
    await add_item(client, packet["id"], "claim/7", "claim")
    anonymous = await client.post(f"/api/packets/{packet['id']}/export", json={"format": "json"})
    assert anonymous.json()["errors"] == []
    assert anonymous.json()["warnings"] == [
        "claim claim/7: unresolved (the owning shard's API failed: "
        "GET /api/claims/claim%2F7 answered 401)"
    ]


async def test_json_carries_the_original_inline(
    frame_app: FastAPI, client: httpx.AsyncClient
) -> None:
    packet = await make_packet(client)
    await add_item(client, packet["id"], "doc-1", "document")
    _, raw = await export(client, packet["id"], "json")
    item = json.loads(raw)["contents"][0]
    assert base64.b64decode(item["original_file"]["content_base64"]) == ORIGINAL
    assert item["resolution"]["data"]["text"] == "Cargo: 120 tons of copper"


async def test_a_share_links_bundle_asks_the_frame_nothing(
    frame_app: FastAPI, client: httpx.AsyncClient, tmp_path: Path, analyst: dict[str, str]
) -> None:
    """The owner's export carries what the Frame gives the owner; a link, which has no user's
    credentials, gets only what the packet holds, sealed the same."""
    client.headers.update(analyst)
    packet = await make_packet(client)
    await add_item(client, packet["id"], "doc-1", "document", order=0)
    await add_item(client, packet["id"], "ent-1", "entity", order=1, data={"kept": True})
    assert (await client.post(f"/api/packets/{packet['id']}/finalize")).status_code == 200
    _, owners = await export(client, packet["id"], "zip")
    link = await share(client, packet["id"])
    response = await client.get(f"/api/packets/shared/{link['access_token']}/bundle")
    assert response.status_code == 200, response.text
    bags = {}
    for name, archive in {"owner": owners, "link": response.content}.items():
        root = unpack(archive, "zip", tmp_path / name)
        bagit.Bag(str(root)).validate()
        bags[name] = json.loads((root / "data/packet.json").read_text())
    assert bags["owner"]["contents"][0]["resolution"]["source"] == "frame"
    assert bags["owner"]["contents"][0]["original_file"] is not None
    linked = bags["link"]["contents"]
    assert [item["resolution"]["source"] for item in linked] == ["unresolved", "stored"]
    assert linked[0]["original_file"] is None
    assert bags["link"]["packet"]["checksum"] == bags["owner"]["packet"]["checksum"]
    assert not list((tmp_path / "link").rglob("originals"))


async def test_an_original_storage_cannot_hand_over_is_an_error_of_the_export(
    frame_app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The document's record is exported (a warning would do for that); its original file
    is not, and that is what `errors` is for. The answer names no server path."""
    packet = await make_packet(client)
    await add_item(client, packet["id"], "doc-lost", "document")
    body, archive = await export(client, packet["id"], "zip")
    assert body["errors"] == [
        "document doc-lost: its original file was not exported (the storage service could "
        "not hand it over (FileNotFoundError))"
    ]
    assert body["warnings"] == []
    item = json.loads((unpack(archive, "zip", tmp_path / "bag") / "data/packet.json").read_text())[
        "contents"
    ][0]
    assert (item["resolution"]["source"], item["original_file"]) == ("frame", None)
