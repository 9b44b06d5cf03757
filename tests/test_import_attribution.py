"""An imported packet is made here by its importer (issue 25, item 13): listings and the
`created_by` filter name the importer, its items were added by the importer, and the bundle's
own account of who made it is kept as a claim, in the answer and the import's custody entry.
The seal and the checksum still verify, also after the packet travels on."""

from __future__ import annotations

import io
from typing import Any

import httpx

from .frame_users import Users

API = "/api/packets"
TENANTS = {name: f"7c0f3a0e-0000-4000-8000-00000000013{n}" for n, name in enumerate("abc")}


class Person:
    def __init__(self, client: httpx.AsyncClient, users: Users, tenant: str) -> None:
        self.client = client
        self.headers = users.headers(TENANTS[tenant])
        self.id = str(users.user(TENANTS[tenant]).id)

    async def json(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = await self.client.request(method, API + path, headers=self.headers, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.text[:300]}"
        return response.json()

    async def sealed_bundle(self, packet_id: str) -> bytes:
        made = await self.json("POST", f"/{packet_id}/export", 200, json={"format": "zip"})
        download = await self.client.get(made["download_url"], headers=self.headers)
        assert download.status_code == 200, download.text
        return download.content

    async def import_bundle(self, bundle: bytes) -> Any:
        files = {"file": ("bundle.zip", io.BytesIO(bundle))}
        return await self.json("POST", "/import", 201, files=files)

    async def listed(self, **filters: str) -> set[str]:
        page = await self.json("GET", "/", 200, params={"page_size": 100, **filters})
        return {packet["id"] for packet in page["items"]}


async def made_and_sealed(alice: Person) -> str:
    packet = await alice.json("POST", "/", 201, json={"name": "Harbor leak", "metadata": {}})
    pid = packet["id"]
    for n in range(3):
        item = {"content_type": "document", "content_id": f"doc-{n}", "data": {"page": n}}
        await alice.json("POST", f"/{pid}/contents", 201, json=item)
    await alice.json("POST", f"/{pid}/finalize", 200)
    return str(pid)


async def assert_made_here_by(person: Person, packet_id: str, claimed_by: str) -> None:
    """The packet and its items name `person`; the bundle's author is only a claim."""
    packet = await person.json("GET", f"/{packet_id}", 200)
    assert packet["created_by"] == person.id
    contents = await person.json("GET", f"/{packet_id}/contents", 200)
    assert {item["added_by"] for item in contents} == {person.id}
    assert packet_id in await person.listed(created_by=person.id)
    assert packet_id not in await person.listed(created_by=claimed_by)
    custody = await person.json("GET", f"/{packet_id}/custody", 200)
    entry = custody["entries"][-1]
    assert (entry["event"], entry["actor"]) == ("imported", person.id)
    assert entry["details"]["claimed"]["created_by"] == claimed_by
    assert entry["details"]["claimed"]["added_by"] == [claimed_by]
    verified = await person.json("GET", f"/{packet_id}/verify", 200)
    assert verified["valid"] is True, verified["problems"]
    assert verified["custody_intact"] is True and verified["trusted"] is True


async def test_an_imported_packet_is_made_here_by_its_importer(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice, bob, carol = (Person(client, users, tenant) for tenant in "abc")
    original = await made_and_sealed(alice)
    checksum = (await alice.json("GET", f"/{original}", 200))["checksum"]

    answer = await bob.import_bundle(await alice.sealed_bundle(original))
    imported = answer["packet_id"]
    await assert_made_here_by(bob, imported, claimed_by=alice.id)
    assert answer["verified"] is True and answer["imported_by"] == bob.id
    assert answer["claimed"]["created_by"] == alice.id
    assert (answer["claimed"]["added_by"], answer["claimed"]["added_by_accounts"]) == (
        [alice.id],
        1,
    )
    assert (await bob.json("GET", f"/{imported}", 200))["checksum"] == checksum
    # the author's own packet is still theirs alone
    assert original in await alice.listed(created_by=alice.id)
    assert imported not in await alice.listed()

    # Sent on: what bob exports names bob, who made it there; the first claim travels in the log.
    again = await carol.import_bundle(await bob.sealed_bundle(imported))
    assert again["verified"] is True and again["custody_intact"] is True
    assert again["claimed"]["created_by"] == bob.id
    await assert_made_here_by(carol, again["packet_id"], claimed_by=bob.id)
    entries = (await carol.json("GET", f"/{again['packet_id']}/custody", 200))["entries"]
    claims = [e["details"]["claimed"]["created_by"] for e in entries if e["event"] == "imported"]
    assert claims == [alice.id, bob.id]
    assert (await carol.json("GET", f"/{again['packet_id']}", 200))["checksum"] == checksum


async def test_items_an_import_adds_to_a_draft_are_the_importers(
    client: httpx.AsyncClient, users: Users
) -> None:
    """The draft keeps its maker; what the import puts in it was added by the importer."""
    alice = Person(client, users, "a")
    packet = await alice.json("POST", "/", 201, json={"name": "Draft", "metadata": {}})
    pid = packet["id"]
    item = {"content_type": "entity", "content_id": "ent-1"}
    await alice.json("POST", f"/{pid}/contents", 201, json=item)
    made = await alice.json("POST", f"/{pid}/export", 200, json={"format": "json"})
    bundle = (await client.get(made["download_url"], headers=alice.headers)).content

    colleague = users.headers(TENANTS["a"], email="colleague.a@example.org")
    colleague_id = str(users.user(TENANTS["a"], email="colleague.a@example.org").id)
    response = await client.post(
        f"{API}/import",
        files={"file": ("draft.json", io.BytesIO(bundle))},
        data={"merge_mode": "replace"},
        headers=colleague,
    )
    assert response.status_code == 201, response.text
    assert response.json()["packet_id"] == pid  # the draft its tenant sees
    assert (await alice.json("GET", f"/{pid}", 200))["created_by"] == alice.id
    contents = await alice.json("GET", f"/{pid}/contents", 200)
    assert [c["added_by"] for c in contents] == [colleague_id]
    assert response.json()["claimed"]["added_by"] == [alice.id]
