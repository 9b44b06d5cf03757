"""Frame users of one tenant see their tenant's packets and the tenantless ones (those made
without a token, open to anyone while anonymous callers are let in), never another tenant's."""

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
    assert [p["id"] for p in listing["items"]] == [untenanted["id"], mine["id"]]
    assert listing["total"] == 2
    assert (await client.get("/api/packets/count", headers=B)).json() == {"count": 2}
    stats_b = (await client.get("/api/packets/stats/overview", headers=B)).json()
    assert stats_b["total_packets"] == 2
    assert stats_b["total_contents"] == 0
    anonymous = (await client.get("/api/packets/", headers={})).json()
    assert [p["id"] for p in anonymous["items"]] == [untenanted["id"]]
    assert (await client.get(f"/api/packets/{untenanted['id']}", headers=A)).status_code == 200

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
        client.get(f"/api/packets/{mine['id']}", headers={}),
    ]
    for call in cross:
        response = await call
        assert response.status_code == 404, response.request.url
    untouched = (await client.get(f"/api/packets/{theirs['id']}", headers=B)).json()
    assert untouched["status"] == "draft"
    assert untouched["name"] == "B's"
    assert untouched["contents_count"] == 0


async def test_a_tenant_pages_through_its_packets_and_the_tenantless_ones_in_one_order(
    client: httpx.AsyncClient, users: Users
) -> None:
    A = users.headers("7c0f3a0e-0000-4000-8000-00000000000a")
    made: list[tuple[str, str]] = []  # (id, name), oldest first
    for number, headers in enumerate([A, {}, {}, A, {}, A, A]):
        name = f"{'A' if headers else 'Shell'} {number}"
        created = await client.post("/api/packets/", json={"name": name}, headers=headers)
        made.append((created.json()["id"], name))
    await client.post(f"/api/packets/{made[2][0]}/finalize", headers=A)  # a tenantless one

    newest_first = [pid for pid, _ in reversed(made)]
    for size in (1, 2, 3, 7):
        seen: list[str] = []
        for page in range(1, 7 // size + 2):
            params = {"page": page, "page_size": size}
            listing = (await client.get("/api/packets/", params=params, headers=A)).json()
            assert listing["total"] == 7
            seen += [p["id"] for p in listing["items"]]
        assert seen == newest_first, size
    by_name = [pid for pid, _ in sorted(made, key=lambda m: m[1])]
    for offset in range(7):
        window = {"sort": "name", "order": "asc", "limit": "2", "offset": str(offset)}
        listing = (await client.get("/api/packets/", params=window, headers=A)).json()
        assert [p["id"] for p in listing["items"]] == by_name[offset : offset + 2]

    shell = [pid for pid, name in reversed(made) if name.startswith("Shell")]
    for query in ({"q": "Shell"}, {"search": "hel"}, {"has_contents": "false", "q": "Sh"}):
        searched = (await client.get("/api/packets/", params=query, headers=A)).json()
        assert [p["id"] for p in searched["items"]] == shell and searched["total"] == 3
    drafts = (await client.get("/api/packets/status/draft", headers=A)).json()
    assert drafts["total"] == 6 and made[2][0] not in {p["id"] for p in drafts["items"]}
    finalized = (await client.get("/api/packets/count?status=finalized", headers=A)).json()
    assert finalized == {"count": 1}
    anonymous = (await client.get("/api/packets/")).json()
    assert [p["id"] for p in anonymous["items"]] == shell
