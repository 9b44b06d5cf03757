"""Items in the order they were added (issue 28, part 3): an item added without `order` goes
after the packet's last one, in the contents answer, through an edit link and on the share's
answers; an explicit `order` places it as the seed defines, items of one order in the order
they were added."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from arkham_shard_packets.records.locks import ORDER_MAX

from .conftest import add_item, make_packet
from .share_helpers import share

API = "/api/packets"


async def listed(client: httpx.AsyncClient, packet_id: str) -> list[tuple[str, int]]:
    answer = await client.get(f"{API}/{packet_id}/contents")
    assert answer.status_code == 200
    return [(item["content_id"], item["order"]) for item in answer.json()]


async def test_items_without_order_follow_the_last_one(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    for content_id, kind in (("zeta", "report"), ("alpha", "claim"), ("mid", "entity")):
        await add_item(client, pid, content_id, kind)
    assert await listed(client, pid) == [("zeta", 0), ("alpha", 1), ("mid", 2)]
    # An explicit order places an item where the seed says; the next one without goes after
    # the last, whatever order the last was given.
    await add_item(client, pid, "first", order=0)
    await add_item(client, pid, "far", order=40)
    await add_item(client, pid, "after-far", "claim")
    assert await listed(client, pid) == [
        ("zeta", 0),
        ("first", 0),  # ties in the order they were added
        ("alpha", 1),
        ("mid", 2),
        ("far", 40),
        ("after-far", 41),
    ]
    window = await client.get(f"{API}/{pid}/contents", params={"limit": 2, "offset": 1})
    assert [item["content_id"] for item in window.json()] == ["first", "alpha"]


async def test_the_last_place_is_shared_rather_than_overflowing(
    client: httpx.AsyncClient,
) -> None:
    packet = await make_packet(client)
    await add_item(client, packet["id"], "top", order=ORDER_MAX)
    await add_item(client, packet["id"], "next")
    assert await listed(client, packet["id"]) == [("top", ORDER_MAX), ("next", ORDER_MAX)]


async def test_items_added_together_each_get_their_own_place(
    client: httpx.AsyncClient,
) -> None:
    packet = await make_packet(client)
    await asyncio.gather(*(add_item(client, packet["id"], f"doc-{n}") for n in range(12)))
    assert sorted(order for _, order in await listed(client, packet["id"])) == list(range(12))


async def test_order_left_out_is_not_order_null(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    refused = await client.post(
        f"{API}/{packet['id']}/contents",
        json={"content_type": "document", "content_id": "d", "order": None},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "order"]
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    order: dict[str, Any] = schema["ContentCreate"]["properties"]["order"]
    assert order["type"] == "integer" and "default" not in order
    assert (order["minimum"], order["maximum"]) == (0, ORDER_MAX)


async def test_an_edit_link_adds_after_the_last_and_the_link_lists_in_order(
    client: httpx.AsyncClient,
) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    await add_item(client, pid, "doc-b", content_title="B")
    link = await share(client, pid, permissions="edit")
    token = link["access_token"]
    added = await client.post(
        f"{API}/shared/{token}/contents", json={"content_type": "claim", "content_id": "c-a"}
    )
    assert added.status_code == 201 and added.json()["order"] == 1
    await add_item(client, pid, "doc-a")
    shown = (await client.get(f"{API}/shared/{token}")).json()["contents"]
    assert [item["content_id"] for item in shown] == ["doc-b", "c-a", "doc-a"]
    page = (await client.get(link["share_url"])).text
    assert page.index("doc-b") < page.index("c-a") < page.index("doc-a")
