"""Frame users of one tenant see only their tenant's packets."""

from __future__ import annotations

import httpx

from .frame_users import Users


async def test_tenants_are_isolated(client: httpx.AsyncClient, users: Users) -> None:
    A = users.headers("7c0f3a0e-0000-4000-8000-00000000000a")
    B = users.headers("7c0f3a0e-0000-4000-8000-00000000000b")
    mine = (await client.post("/api/packets/", json={"name": "A's"}, headers=A)).json()
    theirs = (await client.post("/api/packets/", json={"name": "B's"}, headers=B)).json()
    untenanted = (await client.post("/api/packets/", json={"name": "none"})).json()
    await client.post(
        f"/api/packets/{mine['id']}/contents",
        json={"content_type": "document", "content_id": "d1"},
        headers=A,
    )

    listing = (await client.get("/api/packets/", headers=A)).json()
    assert [p["id"] for p in listing["items"]] == [mine["id"]]
    assert listing["total"] == 1
    assert (await client.get("/api/packets/count", headers=B)).json() == {"count": 1}
    stats_b = (await client.get("/api/packets/stats/overview", headers=B)).json()
    assert stats_b["total_packets"] == 1
    assert stats_b["total_contents"] == 0
    assert (await client.get("/api/packets/", headers={})).json()["total"] == 1

    cross = [
        client.get(f"/api/packets/{theirs['id']}", headers=A),
        client.put(f"/api/packets/{theirs['id']}", json={"name": "x"}, headers=A),
        client.post(f"/api/packets/{theirs['id']}/finalize", headers=A),
        client.delete(f"/api/packets/{theirs['id']}", headers=A),
        client.get(f"/api/packets/{theirs['id']}/contents", headers=A),
        client.post(
            f"/api/packets/{theirs['id']}/contents",
            json={"content_type": "entity", "content_id": "e"},
            headers=A,
        ),
        client.get(f"/api/packets/{mine['id']}", headers=B),
        client.get(f"/api/packets/{untenanted['id']}", headers=A),
    ]
    for call in cross:
        response = await call
        assert response.status_code == 404, response.request.url
    untouched = (await client.get(f"/api/packets/{theirs['id']}", headers=B)).json()
    assert untouched["status"] == "draft"
    assert untouched["name"] == "B's"
    assert untouched["contents_count"] == 0
