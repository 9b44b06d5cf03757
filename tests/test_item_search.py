"""Search finds packets by their items: an item's title, content id or attached file name, from
an index on each database (migration 0017), and the answer names the items it found."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest

from arkham_shard_packets.db.search import MATCHED_MAX

from .conftest import add_item, make_packet
from .frame_users import Users

API = "/api/packets"
TENANT_A, TENANT_B = (f"7c0f3a0e-0000-4000-8000-0000000000c{n}" for n in (1, 2))


async def found(client: httpx.AsyncClient, text: str, path: str = "/", **params: Any) -> Any:
    response = await client.get(f"{API}{path}", params={"search": text, **params})
    assert response.status_code == 200, (text, response.text)
    body = response.json()
    assert body["total"] == len(body["items"]), text
    return body


def matches(body: Any) -> dict[str, list[tuple[str, str]]]:
    """Each packet found: the items named, as (content id, the field matched)."""
    return {
        p["id"]: [(m["content_id"], m["matched"]) for m in p["matched_items"]]
        for p in body["items"]
    }


async def attach(client: httpx.AsyncClient, packet_id: str, item_id: str, name: str) -> None:
    response = await client.put(
        f"{API}/{packet_id}/contents/{item_id}/file",
        files={"file": (name, io.BytesIO(b"%PDF-1.4 scan"), "application/pdf")},
    )
    assert response.status_code == 200, response.text


async def test_a_packet_is_found_by_an_item_s_title_content_id_or_file(
    client: httpx.AsyncClient,
) -> None:
    harbor = await make_packet(client, "Harbor leak", description="port authority")
    cargo = await add_item(client, harbor["id"], "doc-17", content_title="Cargo manifest")
    ledger = await make_packet(client, "Ledger")
    scan = await add_item(client, ledger["id"], "ent-manifest-9", "entity")
    await attach(client, ledger["id"], scan["id"], "Bill of lading.pdf")
    named = await make_packet(client, "Manifest review")  # its own name, no item

    body = await found(client, "manifest")
    assert matches(body) == {
        harbor["id"]: [("doc-17", "title")],
        ledger["id"]: [("ent-manifest-9", "content_id")],
        named["id"]: [],
    }
    item = next(p for p in body["items"] if p["id"] == harbor["id"])["matched_items"][0]
    assert item == {
        "id": cargo["id"],
        "content_type": "document",
        "content_id": "doc-17",
        "content_title": "Cargo manifest",
        "file_name": None,
        "matched": "title",
    }
    assert matches(await found(client, "MANIFEST")) == matches(body)
    assert matches(await found(client, "of LADING")) == {
        ledger["id"]: [("ent-manifest-9", "file_name")]
    }
    assert matches(await found(client, "doc-1")) == {harbor["id"]: [("doc-17", "content_id")]}
    # under three characters: matched by a scan, the same answer
    assert matches(await found(client, "17")) == {harbor["id"]: [("doc-17", "content_id")]}
    assert matches(await found(client, "g.")) == {ledger["id"]: [("ent-manifest-9", "file_name")]}
    # q, the status route and the other filters take it too
    assert set(matches(await found(client, "", q="cargo"))) == {harbor["id"]}
    assert set(matches(await found(client, "cargo", "/status/draft"))) == {harbor["id"]}
    assert matches(await found(client, "cargo", has_contents="false")) == {}
    # the packet's own text still finds it, naming no item
    assert matches(await found(client, "authority")) == {harbor["id"]: []}
    everything = (await client.get(f"{API}/")).json()
    assert [p["matched_items"] for p in everything["items"]] == [[], [], []]


async def test_a_packet_is_counted_once_and_names_a_few_items_in_order(
    client: httpx.AsyncClient,
) -> None:
    packet = await make_packet(client, "Shipping")
    for n in (5, 1, 4, 2, 3):
        await add_item(client, packet["id"], f"memo-{n}", content_title="Port memo", order=n)
    await add_item(client, packet["id"], "other", content_title="Crew list", order=0)
    await add_item(client, packet["id"], "zero", content_title="memo zero", order=0)
    body = await found(client, "memo")
    assert body["total"] == 1
    named = body["items"][0]["matched_items"]
    assert len(named) == MATCHED_MAX == 3
    assert [(m["content_id"], m["matched"]) for m in named] == [
        ("zero", "title"),  # order 0
        ("memo-1", "title"),  # a title is named before the content id that matches too
        ("memo-2", "title"),
    ]


async def test_search_follows_every_change_of_an_item(
    client: httpx.AsyncClient, users: Users
) -> None:
    client.headers.update(users.headers(TENANT_A))
    packet = await make_packet(client, "Case")
    item = await add_item(client, packet["id"], "doc-1", content_title="Affidavit")
    other = await add_item(client, packet["id"], "doc-2", content_title="Transcript")
    await attach(client, packet["id"], item["id"], "sworn-statement.pdf")
    assert set(matches(await found(client, "sworn"))) == {packet["id"]}
    await attach(client, packet["id"], item["id"], "notarised.pdf")  # replaced
    assert matches(await found(client, "sworn")) == {}
    assert set(matches(await found(client, "notarised"))) == {packet["id"]}

    recorded = await client.post(f"{API}/{packet['id']}/versions", json={})
    assert recorded.status_code == 201
    removed = await client.delete(f"{API}/{packet['id']}/contents/{other['id']}")
    assert removed.status_code == 204
    assert matches(await found(client, "transcript")) == {}
    restored = await client.post(f"{API}/{packet['id']}/versions/2/restore")
    assert restored.status_code == 200, restored.text
    assert matches(await found(client, "transcript")) == {packet["id"]: [("doc-2", "title")]}

    finalized = await client.post(f"{API}/{packet['id']}/finalize")
    assert finalized.status_code == 200
    exported = await client.post(f"{API}/{packet['id']}/export", json={"format": "json"})
    bundle = await client.get(f"{API}/{packet['id']}/exports/{exported.json()['export_id']}")
    tenant = users.headers(TENANT_B)
    imported = await client.post(
        f"{API}/import",
        files={"file": ("b.json", bundle.content)},
        data={"merge_mode": "replace"},
        headers=tenant,
    )
    assert imported.status_code == 201, imported.text
    copy = imported.json()["packet_id"]  # the tenant's own, under an id of its own
    for text, where in (("affidavit", "title"), ("notarised", "file_name")):
        mine = await client.get(f"{API}/", params={"search": text}, headers=tenant)
        assert matches(mine.json()) == {copy: [("doc-1", where)]}
        assert matches(await found(client, text)) == {packet["id"]: [("doc-1", where)]}


HOSTILE = [
    '"',
    '""',
    '"quoted"',
    "*",
    "man*",
    "NEAR(",
    "NEAR(a b)",
    "-draft",
    "title:",
    "content_title: x",
    "{content_id}",
    "^start",
    "a OR b",
    "AND",
    "NOT x",
    "(",
    ")",
    "+",
    "'",
    "\\",
    "%",
    "_",
    "   ",
    "\t",
    "é" * 200,
    "x" * 200,
]


@pytest.mark.parametrize("where", ["title", "content_id"])
async def test_search_syntax_of_either_database_is_only_text(
    client: httpx.AsyncClient, where: str
) -> None:
    packet = await make_packet(client, "Plain")
    odd = 'Exhibit "A": NEAR(port) -draft* OR {content_id} ^start AND + % _ \\ (x)'
    if where == "title":
        await add_item(client, packet["id"], "plain-id", content_title=odd)
    else:
        await add_item(client, packet["id"], odd)
    for text in HOSTILE:
        body = await found(client, text)
        inside = text.lower() in odd.lower() or text.lower() in packet["name"].lower()
        assert set(matches(body)) == ({packet["id"]} if inside else set()), repr(text)
    named = [(odd if where == "content_id" else "plain-id", where)]
    for text in ['"A": NEAR(port)', "-draft* OR", "{content_id} ^", "+ % _ \\ (x)"]:
        assert matches(await found(client, text)) == {packet["id"]: named}, text
    too_long = await client.get(f"{API}/", params={"search": "x" * 201})
    assert too_long.status_code == 422 and too_long.json()["detail"]
    nul = await client.get(f"{API}/", params={"q": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["detail"]
