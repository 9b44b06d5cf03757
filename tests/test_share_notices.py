"""What a packet's owner learns of its links (issue 28, part 3): a comment emits
`packets.comment.added` through the outbox, and the access log names the file each `download`
(and each `bundle`) handed over."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from .bundle_helpers import attach
from .conftest import add_item, make_packet, packet_events, settle
from .share_helpers import PASSWORD_HEADER, share

API = "/api/packets"
LETTER = b"%PDF-1.4 the harbor master's letter\n"


async def test_a_comment_emits_an_event_through_the_outbox(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    link = await share(client, packet["id"], permissions="comment", password="correct horse")
    token = link["access_token"]
    by_json = await client.post(
        f"{API}/shared/{token}/comments",
        json={"author": "Ana", "body": "Page 4 contradicts the manifest."},
        headers={PASSWORD_HEADER: "correct horse"},
    )
    assert by_json.status_code == 201
    by_page = await client.post(
        link["share_url"], data={"password": "correct horse", "author": "Ray", "body": "Agreed."}
    )
    assert by_page.status_code == 303
    comments = (await client.get(f"{API}/{packet['id']}/comments")).json()["items"]

    expected = [
        {"packet_id": packet["id"], "comment_id": c["id"], "share_id": link["id"], "author": a}
        for c, a in zip(comments, ("Ana", "Ray"), strict=True)
    ]
    delivered = await packet_events(client, "packets.comment.added")  # newest first
    assert [event["payload"] for event in reversed(delivered)] == expected
    feed = (await client.get(f"{API}/events", params={"limit": 1000})).json()["events"]
    fed = [e["payload"] for e in feed if e["event_type"] == "packets.comment.added"]
    assert fed == expected
    refused = await client.post(  # a refused comment emits nothing
        link["share_url"], data={"password": "wrong horse", "author": "X", "body": "Y"}
    )
    assert refused.status_code == 401
    assert len(await packet_events(client, "packets.comment.added")) == 2


async def access_log(client: httpx.AsyncClient, packet_id: str, share_id: str) -> list[Any]:
    await settle(client)
    answer = await client.get(f"{API}/{packet_id}/shares/{share_id}/access")
    assert answer.status_code == 200
    items: list[Any] = answer.json()["items"]
    return items


async def test_the_access_log_names_the_file_each_download_handed_over(
    client: httpx.AsyncClient,
) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    item = await add_item(client, pid, "doc-1", content_title="Letter")
    assert (await attach(client, pid, item["id"], LETTER, name="letter.pdf")).status_code == 200
    await client.post(f"{API}/{pid}/finalize")
    link = await share(client, pid)
    base = f"{API}/shared/{link['access_token']}"
    file_url = f"{base}/contents/{item['id']}/file"

    assert (await client.get(base)).status_code == 200
    assert (await client.get(file_url)).content == LETTER
    assert (await client.get(file_url, headers={"Range": "bytes=0-3"})).status_code == 206
    assert (await client.post(file_url)).content == LETTER  # the page's button
    assert (await client.get(file_url, headers={"Range": "bytes=999-"})).status_code == 416
    bundle = await client.get(f"{base}/bundle")
    assert bundle.status_code == 200

    entries = await access_log(client, pid, link["id"])
    assert [entry["action"] for entry in entries] == [
        "read",
        "download",
        "download",
        "download",
        "bundle",
    ]
    letter = {
        "name": "letter.pdf",
        "sha256": hashlib.sha256(LETTER).hexdigest(),
        "content_entry_id": item["id"],
    }
    assert [entry["file"] for entry in entries[1:4]] == [letter] * 3
    assert entries[0]["file"] is None
    disposition = bundle.headers["content-disposition"]
    assert entries[4]["file"] == {
        "name": disposition.split('filename="')[1].split('"')[0],
        "sha256": hashlib.sha256(bundle.content).hexdigest(),
        "content_entry_id": None,
    }
