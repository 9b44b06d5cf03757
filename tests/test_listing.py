"""Listing: filters, paging in both styles, clamping, sorting."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from .conftest import add_item, make_packet
from .frame_users import Users


async def seed(client: httpx.AsyncClient, n: int) -> list[dict[str, object]]:
    made = []
    for i in range(n):
        made.append(await make_packet(client, f"Packet {i:02d}", description=f"number {i}"))
    return made


async def test_defaults_and_shape(client: httpx.AsyncClient) -> None:
    made = await seed(client, 25)
    body = (await client.get("/api/packets/")).json()
    assert body["total"] == 25
    assert body["page"] == 1
    assert body["page_size"] == 20
    assert body["limit"] == 20
    assert body["offset"] == 0
    assert len(body["items"]) == 20
    # newest first by default
    assert body["items"][0]["id"] == made[-1]["id"]


async def test_page_and_page_size(client: httpx.AsyncClient) -> None:
    made = await seed(client, 12)
    seen = []
    for page in (1, 2, 3):
        body = (
            await client.get("/api/packets/", params={"page": page, "page_size": 5, "order": "asc"})
        ).json()
        assert body["page"] == page
        assert body["offset"] == (page - 1) * 5
        seen += [p["id"] for p in body["items"]]
    assert seen == [p["id"] for p in made]


async def test_limit_and_offset(client: httpx.AsyncClient) -> None:
    made = await seed(client, 8)
    body = (
        await client.get("/api/packets/", params={"limit": 3, "offset": 6, "order": "asc"})
    ).json()
    assert [p["id"] for p in body["items"]] == [made[6]["id"], made[7]["id"]]
    assert body["limit"] == 3
    assert body["offset"] == 6
    assert body["page"] == 3
    assert body["total"] == 8


async def test_out_of_range_numbers_are_clamped(client: httpx.AsyncClient) -> None:
    await seed(client, 3)
    cases = {
        (("page", 0), ("page_size", 0)): (1, 1, 0),
        (("page", -5), ("page_size", 1000)): (1, 100, 0),
        (("limit", 0),): (1, 1, 0),
        (("limit", 10_000), ("offset", -3)): (1, 500, 0),
        (("page", 10**30),): (None, 20, None),
    }
    for params, (page, size, offset) in cases.items():
        response = await client.get("/api/packets/", params=dict(params))
        assert response.status_code == 200, params
        body = response.json()
        assert body["page_size"] == size
        assert len(body["items"]) <= size
        if page is not None:
            assert body["page"] == page
            assert body["offset"] == offset
    far = (await client.get("/api/packets/", params={"page": 10**30})).json()
    assert far["items"] == []
    assert far["total"] == 3


async def test_filters(client: httpx.AsyncClient, users: Users) -> None:
    tenant = "7c0f3a0e-0000-4000-8000-0000000000f1"
    client.headers.update(users.headers(tenant))  # one tenant; gamma is another user's
    alpha = await make_packet(client, "Alpha 100% leak", description="offshore accounts")
    beta = await make_packet(client, "Beta", visibility="team")
    ana = users.user(tenant, email="ana@example.org")
    gamma = (
        await client.post(
            "/api/packets/", json={"name": "Gamma"}, headers=users.headers(tenant, email=ana.email)
        )
    ).json()
    await add_item(client, alpha["id"])
    await client.post(f"/api/packets/{beta['id']}/finalize")

    async def ids(**params: Any) -> set[str]:
        response = await client.get("/api/packets/", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return {p["id"] for p in body["items"]}

    assert await ids(status="finalized") == {beta["id"]}
    assert await ids(visibility="team") == {beta["id"]}
    assert await ids(created_by=str(ana.id)) == {gamma["id"]}
    assert await ids(search="OFFSHORE") == {alpha["id"]}
    assert await ids(search="alpha") == {alpha["id"]}
    assert await ids(q="gam") == {gamma["id"]}
    assert await ids(search="100%") == {alpha["id"]}
    assert await ids(search="%") == {alpha["id"]}
    assert await ids(search="_") == set()
    assert await ids(has_contents=True) == {alpha["id"]}
    assert await ids(has_contents=False) == {beta["id"], gamma["id"]}
    assert await ids(min_version=1) == {alpha["id"], beta["id"], gamma["id"]}
    assert await ids(min_version=2) == {beta["id"]}  # finalize recorded version 2
    assert await ids(min_version=3) == set()
    assert await ids(status="draft", has_contents=False) == {gamma["id"]}


async def test_created_window(client: httpx.AsyncClient) -> None:
    first = await make_packet(client, "first")
    await asyncio.sleep(0.01)
    middle = await make_packet(client, "middle")
    await asyncio.sleep(0.01)
    await make_packet(client, "last")
    after = datetime.fromisoformat(middle["created_at"])
    response = await client.get(
        "/api/packets/",
        params={"created_after": after.isoformat(), "created_before": after.isoformat()},
    )
    assert [p["id"] for p in response.json()["items"]] == [middle["id"]]
    before_first = datetime.fromisoformat(first["created_at"]) - timedelta(hours=1)
    naive = before_first.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    everything = await client.get("/api/packets/", params={"created_after": naive})
    assert everything.json()["total"] == 3
    other_zone = after.astimezone(timezone(timedelta(hours=5))).isoformat()
    same_moment = await client.get(
        "/api/packets/", params={"created_after": other_zone, "created_before": other_zone}
    )
    assert [p["id"] for p in same_moment.json()["items"]] == [middle["id"]]


async def test_sorting(client: httpx.AsyncClient) -> None:
    b = await make_packet(client, "b")
    a = await make_packet(client, "a")
    c = await make_packet(client, "c")
    await add_item(client, a["id"], "1")
    await add_item(client, a["id"], "2")
    await add_item(client, c["id"], "1")

    async def order(**params: Any) -> list[str]:
        return [
            p["name"] for p in (await client.get("/api/packets/", params=params)).json()["items"]
        ]

    assert await order(sort="name", order="asc") == ["a", "b", "c"]
    assert await order(sort="name", order="desc") == ["c", "b", "a"]
    assert await order(sort="contents_count", order="desc") == ["a", "c", "b"]
    assert await order(sort="created_at", order="asc") == ["b", "a", "c"]
    await client.put(f"/api/packets/{b['id']}", json={"description": "touched"})
    assert (await order(sort="updated_at"))[0] == "b"
    assert (await client.get("/api/packets/", params={"sort": "size"})).status_code == 422
    assert (await client.get("/api/packets/", params={"order": "up"})).status_code == 422


async def test_invalid_filter_values_are_422(client: httpx.AsyncClient) -> None:
    for params in [{"status": "open"}, {"visibility": "x"}, {"created_after": "yesterday"}]:
        response = await client.get("/api/packets/", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"]


async def test_search_follows_every_change_and_ignores_case(client: httpx.AsyncClient) -> None:
    """`search` is answered from an index (trigram GIN or FTS5): renames, edits and deletes
    must reach it, and matching stays a case-insensitive substring match of any length."""
    ecole = await make_packet(client, "ÉCOLE Zanzibar", description='the "quoted" memo')
    other = await make_packet(client, "Harbor", description="ledger")

    async def ids(text: str) -> set[str]:
        response = await client.get("/api/packets/", params={"search": text})
        assert response.status_code == 200, response.text
        return {p["id"] for p in response.json()["items"]}

    assert await ids("zanzib") == {ecole["id"]}
    assert await ids("école") == {ecole["id"]}
    assert await ids('"quoted"') == {ecole["id"]}
    assert await ids("ZA") == {ecole["id"]}
    assert await ids("rbo") == {other["id"]}
    renamed = await client.put(f"/api/packets/{other['id']}", json={"name": "Zanzibar port"})
    assert renamed.status_code == 200
    assert await ids("zanzibar") == {ecole["id"], other["id"]}
    assert await ids("harbor") == set()
    await client.put(f"/api/packets/{other['id']}", json={"description": "new text"})
    assert await ids("ledger") == set()
    assert await ids("new tex") == {other["id"]}


async def test_mixing_the_two_ways_of_paging_is_refused(client: httpx.AsyncClient) -> None:
    await seed(client, 3)
    for params in ({"limit": 2, "page": 2}, {"offset": 1, "page_size": 5}, {"limit": 1, "page": 1}):
        for path in ("/api/packets/", "/api/packets/status/draft"):
            response = await client.get(path, params=params)
            assert response.status_code == 422, (path, params)
            assert response.json()["detail"] == (
                "page through the list one way: page and page_size (page_size 1..100), or "
                "limit and offset (limit 1..500); this request mixes the two"
            )


async def test_an_unencoded_plus_in_a_date_gets_a_hint(client: httpx.AsyncClient) -> None:
    await seed(client, 1)
    raw = "/api/packets/?created_after=2026-01-01T00:00:00+00:00"  # + arrives as a space
    response = await client.get(raw)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["query", "created_after"]
    assert problem["msg"].startswith("has a space where its offset's + should be")
    assert "write Z for UTC" in problem["msg"] and "%2B" in problem["msg"]
    for fixed in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00%2B00:00"):
        answer = await client.get(f"/api/packets/?created_before={fixed}")
        assert answer.status_code == 200, fixed
        assert answer.json()["total"] == 0
