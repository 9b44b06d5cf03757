"""Optimistic concurrency for editors (ETag / If-Match) and the Frame's bulk actions."""

from __future__ import annotations

import uuid

import httpx

from .conftest import make_packet, packet_events


async def test_get_returns_an_etag_that_put_checks(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    url = f"/api/packets/{packet['id']}"
    first = await client.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert (await client.get(url)).headers["etag"] == etag

    edited = await client.put(url, json={"name": "mine"}, headers={"If-Match": etag})
    assert edited.status_code == 200
    assert edited.headers["etag"] != etag
    assert edited.headers["etag"] == (await client.get(url)).headers["etag"]

    stale = await client.put(url, json={"name": "theirs"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert "changed since" in stale.json()["detail"]
    assert (await client.get(url)).json()["name"] == "mine"

    anything = await client.put(url, json={"description": "x"}, headers={"If-Match": "*"})
    assert anything.status_code == 200
    without = await client.put(url, json={"description": "y"})
    assert without.status_code == 200


async def test_etag_changes_when_contents_change(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    url = f"/api/packets/{packet['id']}"
    etag = (await client.get(url)).headers["etag"]
    await client.post(f"{url}/contents", json={"content_type": "entity", "content_id": "e"})
    stale = await client.put(url, json={"name": "x"}, headers={"If-Match": etag})
    assert stale.status_code == 412


async def test_batch_finalize_and_archive(client: httpx.AsyncClient) -> None:
    one = await make_packet(client, "one")
    two = await make_packet(client, "two")
    missing = str(uuid.uuid4())
    response = await client.post(
        "/api/packets/batch/finalize", json={"ids": [one["id"], missing, two["id"]]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False
    assert body["processed"] == 2
    assert body["failed"] == 1
    assert body["errors"] == [{"id": missing, "detail": f"packet {missing} not found"}]
    assert "2 done, 1 failed" in body["message"]
    for packet in (one, two):
        current = (await client.get(f"/api/packets/{packet['id']}")).json()
        assert current["status"] == "finalized"
    assert len(await packet_events(client, "packets.packet.finalized")) == 2

    again = (await client.post("/api/packets/batch/finalize", json={"ids": [one["id"]]})).json()
    assert again["failed"] == 1
    assert "only a draft" in again["errors"][0]["detail"]

    archived = (
        await client.post("/api/packets/batch/archive", json={"ids": [one["id"], two["id"]]})
    ).json()
    assert archived == {
        "success": True,
        "processed": 2,
        "failed": 0,
        "errors": [],
        "message": "archive: 2 done, 0 failed",
    }


async def test_batch_validation(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/packets/batch/finalize", json={"ids": []})).status_code == 422
    assert (await client.post("/api/packets/batch/finalize", json={})).status_code == 422
    assert (await client.post("/api/packets/batch/explode", json={"ids": ["x"]})).status_code == 422
