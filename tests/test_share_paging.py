"""What a heavily used link left behind is read a page at a time: the access log, the owner's
comments, a link's comments (its JSON and its viewer page) and the custody log answer a slice
with its `total`, never all of it (issue 25, item 6)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from fastapi import FastAPI

from arkham_shard_packets.core.clock import to_text
from arkham_shard_packets.db.scope import Scope
from arkham_shard_packets.models import ShareAction
from arkham_shard_packets.sharing.uses import Use, write_uses

from .conftest import settle
from .share_helpers import PASSWORD_HEADER, finalized_packet, share

API = "/api/packets"
PASSWORD = "correct horse"


async def comment_through(
    client: httpx.AsyncClient, token: str, count: int, **headers: str
) -> None:
    for n in range(count):
        posted = await client.post(
            f"{API}/shared/{token}/comments",
            json={"author": "Rita", "body": f"comment {n}"},
            headers=headers,
        )
        assert posted.status_code == 201, posted.text


def bodies(comments: list[Any]) -> list[int]:
    return [int(c["body"].split()[1]) for c in comments]


async def test_the_access_log_and_the_owner_s_comments_are_paged(
    client: httpx.AsyncClient,
) -> None:
    packet = await finalized_packet(client)
    pid = packet["id"]
    link = await share(client, pid, permissions="comment")
    await comment_through(client, link["access_token"], 7)
    url = f"{API}/{pid}/shares/{link['id']}/access"

    log = (await client.get(url, params={"limit": 3, "offset": 2})).json()
    assert (log["total"], log["limit"], log["offset"], len(log["items"])) == (7, 3, 2, 3)
    everything = (await client.get(url)).json()
    assert (everything["limit"], everything["offset"], len(everything["items"])) == (50, 0, 7)
    assert log["items"] == everything["items"][2:5]
    clamped = (await client.get(url, params={"limit": 0, "offset": -4})).json()
    assert (clamped["limit"], clamped["offset"], len(clamped["items"])) == (1, 0, 1)
    assert (await client.get(url, params={"limit": 10**9})).json()["limit"] == 500

    comments = f"{API}/{pid}/comments"
    page = (await client.get(comments, params={"limit": 2, "offset": 4})).json()
    assert (page["total"], page["limit"], page["offset"]) == (7, 2, 4)
    assert bodies(page["items"]) == [4, 5]
    assert bodies((await client.get(comments)).json()["items"]) == list(range(7))
    past = (await client.get(comments, params={"offset": 100})).json()
    assert (past["total"], past["items"]) == (7, [])


async def test_a_link_shows_its_latest_comments_and_pages_to_the_others(
    client: httpx.AsyncClient,
) -> None:
    packet = await finalized_packet(client)
    link = await share(client, packet["id"], permissions="comment")
    other = await share(client, packet["id"], permissions="comment")
    await comment_through(client, link["access_token"], 55)
    await comment_through(client, other["access_token"], 2)
    url = f"{API}/shared/{link['access_token']}"

    latest = (await client.get(url)).json()
    assert (latest["comments_total"], latest["comments_limit"], latest["comments_offset"]) == (
        55,
        50,
        5,
    )
    assert bodies(latest["comments"]) == list(range(5, 55))
    first = (await client.get(url, params={"comments_limit": 3, "comments_offset": 0})).json()
    assert (first["comments_total"], first["comments_offset"]) == (55, 0)
    assert bodies(first["comments"]) == [0, 1, 2]
    assert (await client.get(url, params={"comments_limit": 10**6})).json()["comments_limit"] == 500

    page = (await client.get(f"{url}/view")).text
    assert "Comments (55)" in page
    assert "Showing comments 6 to 55 of 55." in page
    assert '<a href="view?comments_offset=0">Earlier comments</a>' in page
    assert "comment 54" in page and "comment 4<" not in page
    assert '<form method="post" action="view">' in page  # a new comment shows on the latest
    earlier = (await client.get(f"{url}/view", params={"comments_offset": 0})).text
    assert "Showing comments 1 to 50 of 55." in earlier
    assert '<a href="view">Later comments</a>' in earlier
    assert "comment 0<" in earlier and "comment 50<" not in earlier


async def test_a_protected_link_s_page_links_to_other_comments_with_its_session(
    client: httpx.AsyncClient,
) -> None:
    packet = await finalized_packet(client)
    link = await share(client, packet["id"], permissions="comment", password=PASSWORD)
    await comment_through(client, link["access_token"], 52, **{PASSWORD_HEADER: PASSWORD})
    url = f"{API}/shared/{link['access_token']}/view"
    signed_in = await client.post(url, data={"password": PASSWORD})
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "view")
    page = (await client.get(url)).text  # the session, a cookie, stands in for the password
    assert "Showing comments 3 to 52 of 52." in page
    assert '<a href="view?comments_offset=0">Earlier comments</a>' in page
    earlier = await client.get(url, params={"comments_offset": 0})
    assert earlier.status_code == 200
    assert "Showing comments 1 to 50 of 52." in earlier.text
    # Typed in on a page of earlier comments (a session that ended), back to that page.
    client.cookies.clear()
    again = await client.post(url, params={"comments_offset": 0}, data={"password": PASSWORD})
    assert (again.status_code, again.headers["location"]) == (303, "view?comments_offset=0")


async def test_the_custody_log_answers_a_page_by_default(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet = await finalized_packet(client)
    pid = packet["id"]
    await share(client, pid)
    services = app.state.packets_shard.services
    (shared,) = await services.shares.of_packet(Scope(), pid)
    scope = Scope(actor=f"share:{shared.id}")
    start = datetime.now(timezone.utc) - timedelta(hours=1100)
    uses = [  # a use every hour for 1,100 hours: an entry each
        Use(shared, scope, ShareAction.READ, None, to_text(start + timedelta(hours=n)))
        for n in range(1100)
    ]
    await write_uses(services.share_uses.tx, uses)
    await settle(client)

    log = (await client.get(f"{API}/{pid}/custody")).json()
    assert log["length"] > 1100 and log["intact"]
    assert (log["limit"], log["offset"], len(log["entries"])) == (1000, 0, 1000)
    tail = (await client.get(f"{API}/{pid}/custody", params={"offset": 1000})).json()
    assert len(tail["entries"]) == log["length"] - 1000
    assert tail["entries"][-1]["seq"] == log["length"]
