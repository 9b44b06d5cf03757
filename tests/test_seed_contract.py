"""The seed system's wire contract: what the Frame's Packets page sends and reads, and the status
code and shape of every one of the seed's 23 routes (`../shared/FRAME_CONTRACT.md`)."""

from __future__ import annotations

import io
from typing import Any

import httpx
from fastapi import FastAPI

from .conftest import add_item, make_packet

API = "/api/packets"
PACKET_FIELDS = {
    "id", "name", "description", "status", "visibility", "created_by", "created_at",
    "updated_at", "version", "contents_count", "size_bytes", "checksum", "metadata",
}  # fmt: skip
CONTENT_FIELDS = {
    "id", "packet_id", "content_type", "content_id", "content_title", "added_at", "added_by",
    "order",
}  # fmt: skip
SHARE_FIELDS = {"id", "packet_id", "shared_with", "permissions", "shared_at", "expires_at"}
VERSION_FIELDS = {
    "id", "packet_id", "version_number", "created_at", "changes_summary", "snapshot_path",
}  # fmt: skip


def shown(packet: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a packet in its list and detail pane."""
    fields = ("name", "description", "status", "version", "contents_count", "size_bytes")
    return {field: packet[field] for field in fields}


async def page_list(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(f"{API}/", params={"page": 1, "page_size": 20})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert {"items", "total", "page", "page_size"} <= body.keys()
    return body


async def page_contents(client: httpx.AsyncClient, packet_id: str) -> list[Any]:
    """The page calls `.length` and `.map` on this answer and reads id, title and type."""
    response = await client.get(f"{API}/{packet_id}/contents")
    assert response.status_code == 200
    contents = response.json()
    assert isinstance(contents, list)
    for item in contents:
        assert isinstance(item["id"], str)
        assert isinstance(item["content_title"], str)
        assert isinstance(item["content_type"], str)
    return contents


async def test_the_packets_page_request_sequence(client: httpx.AsyncClient) -> None:
    assert (await page_list(client))["items"] == []

    created = await client.post(
        f"{API}/",
        json={"name": "Harbor leak", "description": "Shipping docs", "visibility": "private"},
    )
    assert created.status_code == 201
    packet = created.json()
    assert shown(packet) == {
        "name": "Harbor leak",
        "description": "Shipping docs",
        "status": "draft",
        "version": 1,
        "contents_count": 0,
        "size_bytes": 0,
    }
    listed = await page_list(client)
    assert listed["total"] == 1
    assert [p["id"] for p in listed["items"]] == [packet["id"]]

    assert await page_contents(client, packet["id"]) == []
    added = await client.post(
        f"{API}/{packet['id']}/contents",
        json={
            "content_type": "document",
            "content_id": "doc-7",
            "content_title": "Bill of lading",
            "order": 0,
        },
    )
    assert added.status_code == 201
    contents = await page_contents(client, packet["id"])
    assert [(c["content_type"], c["content_title"]) for c in contents] == [
        ("document", "Bill of lading")
    ]
    assert contents[0]["id"] == added.json()["id"]

    removed = await client.delete(f"{API}/{packet['id']}/contents/{contents[0]['id']}")
    assert removed.status_code == 204
    assert removed.content == b""
    assert await page_contents(client, packet["id"]) == []

    await add_item(client, packet["id"], "ent-3", "entity", content_title="Harbor master")
    finalized = await client.post(f"{API}/{packet['id']}/finalize")
    assert finalized.status_code == 200
    assert finalized.json()["status"] == "finalized"
    (row,) = (await page_list(client))["items"]
    assert shown(row) == {**shown(packet), "status": "finalized", "version": 2,
                          "contents_count": 1}  # fmt: skip

    refused = await client.post(
        f"{API}/{packet['id']}/contents",
        json={"content_type": "claim", "content_id": "c-1", "content_title": "Late"},
    )
    assert refused.status_code == 409
    assert isinstance(refused.json()["detail"], str)

    archived = await client.delete(f"{API}/{packet['id']}")
    assert archived.status_code == 204
    assert archived.content == b""
    (row,) = (await page_list(client))["items"]
    assert row["status"] == "archived"


async def test_contents_in_pages_with_the_total_in_a_header(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    for number in range(5):
        await add_item(client, packet["id"], f"doc-{number}", order=number)
    url = f"{API}/{packet['id']}/contents"

    whole = await client.get(url)
    assert [c["content_id"] for c in whole.json()] == [f"doc-{n}" for n in range(5)]
    assert whole.headers["x-total-count"] == "5"

    window = await client.get(url, params={"limit": 2, "offset": 1})
    assert [c["content_id"] for c in window.json()] == ["doc-1", "doc-2"]
    assert window.headers["x-total-count"] == "5"
    tail = await client.get(url, params={"offset": 4})
    assert [c["content_id"] for c in tail.json()] == ["doc-4"]
    clamped = await client.get(url, params={"limit": 0, "offset": -3})
    assert [c["content_id"] for c in clamped.json()] == ["doc-0"]


async def test_every_seed_route_answers_the_seed_status_and_shape(
    client: httpx.AsyncClient,
) -> None:
    async def call(method: str, path: str, expected: int, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, f"{API}{path}", **kwargs)
        assert response.status_code == expected, (method, path, response.text)
        if expected == 204:
            assert response.content == b""
        return response

    assert (await call("GET", "/health", 200)).json()["status"] == "healthy"
    packet = (await call("POST", "/", 201, json={"name": "Seed routes"})).json()
    assert packet.keys() >= PACKET_FIELDS
    pid = packet["id"]
    assert (await call("GET", "/count", 200)).json() == {"count": 1}
    listing = (await call("GET", "/", 200)).json()
    assert {"items", "total", "page", "page_size"} <= listing.keys()
    assert (await call("GET", f"/{pid}", 200)).json()["id"] == pid
    assert (await call("PUT", f"/{pid}", 200, json={"description": "d"})).json()[
        "description"
    ] == "d"

    item = (
        await call(
            "POST", f"/{pid}/contents", 201, json={"content_type": "entity", "content_id": "e"}
        )
    ).json()
    assert item.keys() >= CONTENT_FIELDS
    spare = await add_item(client, pid, "doc-9")
    contents = (await call("GET", f"/{pid}/contents", 200)).json()
    assert isinstance(contents, list)
    assert all(c.keys() >= CONTENT_FIELDS for c in contents)
    await call("DELETE", f"/{pid}/contents/{spare['id']}", 204)

    version = (
        await call("POST", f"/{pid}/versions", 201, json={"changes_summary": "first draft"})
    ).json()
    assert version.keys() >= VERSION_FIELDS
    versions = (await call("GET", f"/{pid}/versions", 200)).json()
    assert isinstance(versions, list)
    assert all(v.keys() >= VERSION_FIELDS for v in versions)

    assert (await call("POST", f"/{pid}/finalize", 200)).json()["status"] == "finalized"
    # The seed's own tests share with a user id such as this one.
    share = (await call("POST", f"/{pid}/share", 201, json={"shared_with": "user-123"})).json()
    assert {*SHARE_FIELDS, "access_token"} <= share.keys()
    assert share["shared_with"] == "user-123"
    shares = (await call("GET", f"/{pid}/shares", 200)).json()
    assert isinstance(shares, list)
    assert [s["id"] for s in shares] == [share["id"]]
    assert all(s.keys() >= SHARE_FIELDS for s in shares)
    await call("DELETE", f"/{pid}/shares/{share['id']}", 204)

    exported = (await call("POST", f"/{pid}/export", 200, json={"format": "zip"})).json()
    assert {"packet_id", "export_format", "file_path", "file_size_bytes"} <= exported.keys()
    archive = (await client.get(exported["download_url"])).content
    imported = await call(
        "POST",
        "/import",
        201,
        files={"file": ("bundle.zip", io.BytesIO(archive))},
        data={"merge_mode": "skip"},
    )
    assert {"packet_id", "import_source", "contents_imported", "merge_mode"} <= (
        imported.json().keys()
    )

    stats = (await call("GET", "/stats/overview", 200)).json()
    assert stats["total_packets"] == 1
    for status in ("draft", "finalized", "shared"):
        page = (await call("GET", f"/status/{status}", 200)).json()
        assert {"items", "total", "page", "page_size"} <= page.keys()

    assert (await call("POST", f"/{pid}/archive", 200)).json()["status"] == "archived"
    other = await make_packet(client, "Second")
    await call("DELETE", f"/{other['id']}", 204)


def test_openapi_says_array_and_the_seed_codes(app: FastAPI) -> None:
    paths = app.openapi()["paths"]

    def answer(path: str, method: str, code: str) -> Any:
        return paths[f"{API}{path}"][method]["responses"][code]

    for path in ("/{packet_id}/contents", "/{packet_id}/shares", "/{packet_id}/versions"):
        schema = answer(path, "get", "200")["content"]["application/json"]["schema"]
        assert schema["type"] == "array", path
    assert "X-Total-Count" in answer("/{packet_id}/contents", "get", "200")["headers"]
    expected = {
        ("/", "post"): "201",
        ("/{packet_id}", "delete"): "204",
        ("/{packet_id}/contents", "post"): "201",
        ("/{packet_id}/contents/{content_entry_id}", "delete"): "204",
        ("/{packet_id}/share", "post"): "201",
        ("/{packet_id}/shares/{share_id}", "delete"): "204",
        ("/{packet_id}/versions", "post"): "201",
        ("/{packet_id}/export", "post"): "200",
        ("/import", "post"): "201",
        ("/{packet_id}/finalize", "post"): "200",
        ("/{packet_id}/archive", "post"): "200",
    }
    for (path, method), code in expected.items():
        successes = [c for c in paths[f"{API}{path}"][method]["responses"] if c.startswith("2")]
        assert successes == [code], (path, method, successes)
