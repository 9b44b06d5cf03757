"""Two tenants, every route: nothing of one tenant is visible to, or changed by, another.

Each tenant is a Frame user calling with a bearer token, as inside the Frame. Each builds a
full world through the API (packets, contents, a file, versions, shares, comments, exports, an
import); so does a caller with no token, in the tenantless space (as the Shell's Packets page
does). Then every route is walked by the other tenant (and by the caller with no token) with the
first one's ids: each answers 404, an empty list or a zero count, and the owner's rows are
byte-for-byte what they were. The tenantless space is open to anyone while anonymous callers
are let in, so a tenant's user walks it too: every route works there, names the user, and leaves
every row tenantless. With `require_user` on, tenants see none of it, until an admin moves a
packet into a tenant. Share links open their own tenant's packet and nothing else. A final
check proves the walk reached every route the shard serves.
"""

from __future__ import annotations

import io
import json as jsonlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from arkham_shard_packets.api import PREFIX
from arkham_shard_packets.db.tables import metadata, outbox, packets
from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.host.auth import HostAuth

from .conftest import POSTGRES_URL, reset_postgres
from .frame_users import Users
from .served import route_of, served_routes

API = PREFIX
TENANT_A = "7c0f3a0e-0000-4000-8000-00000000000a"
TENANT_B = "7c0f3a0e-0000-4000-8000-00000000000b"
OUTBOX_BOOKKEEPING = {"delivered_at", "attempts", "position"}  # delivery, not content
PACKETS_PER_WORLD = 5  # draft, sealed, spare, gone, batched


@dataclass
class World:
    """One tenant's packets and everything hanging off them."""

    tenant: str | None
    walker: Walker
    draft: str = ""
    entry: str = ""  # an item of the draft with an attached file
    spare_entry: str = ""  # an item of the draft without one
    sealed_entry: str = ""  # the sealed packet's item
    sealed: str = ""  # finalized, then shared
    share_id: str = ""  # a comment link on the sealed packet
    comment_token: str = ""
    edit_token: str = ""  # an edit link on the draft
    export_id: str = ""
    export_path: str = ""
    bundle: bytes = b""
    file_bytes: bytes = b""

    @property
    def ids(self) -> set[str]:
        return {self.draft, self.sealed}


@dataclass
class Walker:
    """Sends requests as one tenant's user (or, tenant None, with no token) and remembers
    every (method, path) it sent."""

    client: httpx.AsyncClient
    tenant: str | None
    credentials: dict[str, str] = field(default_factory=dict)  # the user's bearer token
    actor: str = "system"  # the user's id, as what it records names it
    sent: list[tuple[str, str]] = field(default_factory=list)
    imports: int = 0  # packets it imported from other tenants' bundles

    async def call(self, method: str, path: str, expect: int, **kwargs: Any) -> httpx.Response:
        url = API + path
        response = await self.client.request(
            method, url, headers={**self.credentials, **kwargs.pop("headers", {})}, **kwargs
        )
        self.sent.append((method, url))
        assert response.status_code == expect, (
            f"{method} {path} as {self.tenant}: {response.status_code} {response.text[:300]}"
        )
        return response

    async def json(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        return (await self.call(method, path, expect, **kwargs)).json()


def upload(content: bytes, name: str = "scan.pdf") -> dict[str, Any]:
    return {"files": {"file": (name, io.BytesIO(content), "application/pdf")}}


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def user_walker(client: httpx.AsyncClient, users: Users, tenant: str) -> Walker:
    return Walker(client, tenant, users.headers(tenant), str(users.user(tenant).id))


async def populate(walker: Walker, tenant: str | None) -> World:
    world = World(tenant, walker)
    label = "N" if tenant is None else tenant[-1].upper()
    world.file_bytes = f"%PDF-1.4 evidence of tenant {label}\n".encode() * 100
    call, json = walker.call, walker.json

    draft = await json("POST", "/", 201, json={"name": f"Draft {label}", "metadata": {"t": label}})
    world.draft = draft["id"]
    item = {"content_type": "document", "content_id": f"doc-{label}", "data": {"p": 1}}
    world.entry = (await json("POST", f"/{world.draft}/contents", 201, json=item))["id"]
    spare = {"content_type": "entity", "content_id": f"ent-{label}", "order": 1}
    world.spare_entry = (await json("POST", f"/{world.draft}/contents", 201, json=spare))["id"]
    await call(
        "PUT", f"/{world.draft}/contents/{world.entry}/file", 200, **upload(world.file_bytes)
    )
    got = await call("GET", f"/{world.draft}/contents/{world.entry}/file", 200)
    assert got.content == world.file_bytes
    etag = (await call("GET", f"/{world.draft}", 200)).headers["etag"]
    await call("PUT", f"/{world.draft}", 200, json={"description": "v"}, headers={"if-match": etag})
    await call("POST", f"/{world.draft}/versions", 201, json={"changes_summary": "items"})
    await json("GET", f"/{world.draft}/versions", 200)
    await json("GET", f"/{world.draft}/versions/2", 200)
    await json("GET", f"/{world.draft}/versions/1/diff/2", 200)
    await json("POST", f"/{world.draft}/versions/2/restore", 200)
    scratch = {"content_type": "claim", "content_id": "scratch"}
    scratch_id = (await json("POST", f"/{world.draft}/contents", 201, json=scratch))["id"]
    await call("DELETE", f"/{world.draft}/contents/{scratch_id}", 204)
    edit = await json(
        "POST", f"/{world.draft}/share", 201, json={"shared_with": "public", "permissions": "edit"}
    )
    world.edit_token = edit["access_token"]
    await json("GET", f"/{world.draft}/contents", 200)

    sealed = await json("POST", "/", 201, json={"name": f"Sealed {label}"})
    world.sealed = sealed["id"]
    world.sealed_entry = (await json("POST", f"/{world.sealed}/contents", 201, json=item))["id"]
    await call("POST", f"/{world.sealed}/finalize", 200)
    disclosed = await json(
        "POST", f"/{world.sealed}/disclosures", 200, json={"item_ids": [world.sealed_entry]}
    )
    assert disclosed["contents_exported"] == 1
    assert (await json("GET", f"/{world.sealed}/verify", 200))["valid"] is True
    shared = await json(
        "POST",
        f"/{world.sealed}/share",
        201,
        json={"shared_with": "x@example.org", "permissions": "comment"},
    )
    world.share_id, world.comment_token = shared["id"], shared["access_token"]
    link = f"/shared/{world.comment_token}"
    await call("POST", f"{link}/comments", 201, json={"author": label, "body": "seen"})
    await call("GET", link, 200)
    await call("GET", f"{link}/view", 200)
    await call("POST", f"{link}/view", 303, data={"author": label, "body": "from the page"})
    await json("GET", f"/{world.sealed}/shares", 200)
    await json("GET", f"/{world.sealed}/shares/{world.share_id}/access", 200)
    assert len((await json("GET", f"/{world.sealed}/comments", 200))["items"]) == 2
    revoked = await json(
        "POST", f"/{world.sealed}/share", 201, json={"shared_with": "gone@example.org"}
    )
    await call("DELETE", f"/{world.sealed}/shares/{revoked['id']}", 204)

    exported = await json("POST", f"/{world.sealed}/export", 200, json={"format": "zip"})
    world.export_id, world.export_path = exported["export_id"], exported["file_path"]
    world.bundle = (await call("GET", f"/{world.sealed}/exports/{world.export_id}", 200)).content
    skipped = await json(
        "POST", "/import", 201, files={"file": ("b.zip", world.bundle)}, data={"merge_mode": "skip"}
    )
    assert skipped["skipped"] is True and skipped["packet_id"] == world.sealed
    by_path = await json(
        "POST", "/import", 201, json={"file_path": world.export_path, "merge_mode": "skip"}
    )
    assert by_path["skipped"] is True

    spare_packet = await json("POST", "/", 201, json={"name": f"Spare {label}"})
    await call("POST", f"/{spare_packet['id']}/archive", 200)
    batch = await json("POST", "/batch/finalize", 200, json={"ids": [spare_packet["id"]]})
    assert batch["failed"] == 1  # archived: refused for a reason of its own
    gone = await json("POST", "/", 201, json={"name": f"Gone {label}"})
    await call("DELETE", f"/{gone['id']}", 204)
    batched = await json("POST", "/", 201, json={"name": f"Batched {label}"})
    assert (await json("POST", "/batch/archive", 200, json={"ids": [batched["id"]]}))["failed"] == 0
    await search_own_items(world)
    return world


async def tenant_rows(engine: Any, tenant: str | None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a tenant (None: no tenant) owns, in every table that has a tenant."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if "tenant_id" not in table.c:
                continue
            columns = [
                c for c in table.c if table is not outbox or c.name not in OUTBOX_BOOKKEEPING
            ]
            result = await conn.execute(select(*columns).where(table.c.tenant_id == tenant))
            rows[table.name] = sorted(tuple(map(repr, row)) for row in result.all())
    return rows


async def packet_tenants(engine: Any, packet_ids: set[str]) -> dict[str, set[str | None]]:
    """The tenants of every row that belongs to these packets, by table: the packets, every
    table with a packet_id, and the outbox's events about them."""
    tenants: dict[str, set[str | None]] = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if "tenant_id" not in table.c:
                continue
            if table is outbox:
                rows = (await conn.execute(select(outbox.c.tenant_id, outbox.c.payload))).all()
                found = {
                    tenant
                    for tenant, payload in rows
                    if jsonlib.loads(payload).get("packet_id") in packet_ids
                }
            else:
                key = table.c.id if table is packets else table.c.get("packet_id")
                if key is None:
                    continue
                statement = select(table.c.tenant_id).where(key.in_(packet_ids)).distinct()
                found = set((await conn.scalars(statement)).all())
            if found:
                tenants[table.name] = found
    return tenants


async def visible_ids(walker: Walker) -> set[str]:
    seen: set[str] = set()
    for path in ("/", "/status/draft", "/status/finalized", "/status/shared"):
        page = await walker.json("GET", path, 200, params={"page_size": 100})
        assert page["total"] == len(page["items"])
        seen |= {p["id"] for p in page["items"]}
    return seen


async def feed_payloads(walker: Walker) -> list[dict[str, Any]]:
    feed = await walker.json("GET", "/events", 200, params={"after": 0, "limit": 1000})
    assert feed["count"] < 1000
    return [event["payload"] for event in feed["events"]]


async def feed_packet_ids(walker: Walker) -> set[str]:
    return {
        payload["packet_id"] for payload in await feed_payloads(walker) if "packet_id" in payload
    }


async def feed_entry_ids(walker: Walker) -> set[str]:
    payloads = await feed_payloads(walker)
    return {payload["content_entry_id"] for payload in payloads if "content_entry_id" in payload}


async def walk_across(
    walker: Walker, owner: World, own: World | None, tenantless: Walker | None
) -> None:
    """Every route, as `walker`, aimed at `owner`'s things: all 404, empty or zero.
    `tenantless`: an anonymous caller, when tenants see the tenantless space beside their own
    (require_user off); its packets and shares count for a tenant's walker too."""
    call, json = walker.call, walker.json
    draft, sealed = owner.draft, owner.sealed
    file = f"/{draft}/contents/{owner.entry}/file"
    for method, path, kwargs in [
        ("GET", f"/{draft}", {}),
        ("PUT", f"/{draft}", {"json": {"name": "taken"}}),
        ("DELETE", f"/{draft}", {}),
        ("POST", f"/{draft}/archive", {}),
        ("POST", f"/{draft}/finalize", {}),
        ("GET", f"/{draft}/contents", {}),
        ("POST", f"/{draft}/contents", {"json": {"content_type": "claim", "content_id": "x"}}),
        ("DELETE", f"/{draft}/contents/{owner.spare_entry}", {}),
        ("PUT", file, upload(b"overwrite")),
        ("GET", file, {}),
        ("POST", f"/{draft}/versions", {"json": {"changes_summary": "mine"}}),
        ("GET", f"/{draft}/versions", {}),
        ("GET", f"/{draft}/versions/1", {}),
        ("GET", f"/{draft}/versions/1/diff/2", {}),
        ("POST", f"/{draft}/versions/1/restore", {}),
        ("GET", f"/{draft}/verify", {}),
        ("GET", f"/{sealed}/verify", {}),
        ("GET", f"/{sealed}/custody", {}),
        ("POST", f"/{draft}/share", {"json": {"shared_with": "public"}}),
        ("POST", f"/{sealed}/share", {"json": {"shared_with": "public"}}),
        ("GET", f"/{sealed}/shares", {}),
        ("DELETE", f"/{sealed}/shares/{owner.share_id}", {}),
        ("GET", f"/{sealed}/shares/{owner.share_id}/access", {}),
        ("GET", f"/{sealed}/comments", {}),
        ("POST", f"/{sealed}/export", {"json": {"format": "json"}}),
        ("POST", f"/{sealed}/disclosures", {"json": {"item_ids": [owner.sealed_entry]}}),
        ("GET", f"/{sealed}/exports/{owner.export_id}", {}),
    ]:
        await call(method, path, 404, **kwargs)
    # only an admin moves a packet into a tenant: the others are refused before anything is read
    await call("POST", f"/{draft}/tenant", 401 if walker.tenant is None else 403, json={})

    if own is not None:  # the walker's own packets with the owner's child ids
        for method, path, kwargs in [
            ("DELETE", f"/{own.draft}/contents/{owner.spare_entry}", {}),
            ("GET", f"/{own.draft}/contents/{owner.entry}/file", {}),
            ("PUT", f"/{own.draft}/contents/{owner.entry}/file", upload(b"overwrite")),
            ("DELETE", f"/{own.sealed}/shares/{owner.share_id}", {}),
            ("GET", f"/{own.sealed}/shares/{owner.share_id}/access", {}),
            ("GET", f"/{own.sealed}/exports/{owner.export_id}", {}),
        ]:
            await call(method, path, 404, **kwargs)

    assert not (await visible_ids(walker)) & owner.ids
    searched = await json("GET", "/", 200, params={"search": "Sealed", "q": "Sealed"})
    assert not {p["id"] for p in searched["items"]} & owner.ids
    await search_items_across(walker, owner, own)
    count = (await json("GET", "/count", 200))["count"]
    stats = await json("GET", "/stats/overview", 200)
    own_total = (0 if own is None else PACKETS_PER_WORLD) + walker.imports
    own_shares = 0 if own is None else 2
    if tenantless is not None and walker.tenant is not None:
        space = await tenantless.json("GET", "/stats/overview", 200)
        own_total += space["total_packets"]
        own_shares += space["total_shares"]
    assert count == stats["total_packets"] == own_total
    assert stats["total_shares"] == own_shares
    for action in ("finalize", "archive"):
        result = await json("POST", f"/batch/{action}", 200, json={"ids": sorted(owner.ids)})
        assert (result["processed"], result["failed"]) == (0, 2)
        assert all(e["detail"].endswith("not found") for e in result["errors"])
    assert not (await feed_packet_ids(walker)) & owner.ids

    # An import of the owner's bundle lands in the importer's tenant, under an id of its own:
    # the owner's packet is neither touched nor shown.
    imported = await json(
        "POST",
        "/import",
        201,
        files={"file": ("b.zip", owner.bundle)},
        data={"merge_mode": "replace"},
    )
    assert imported["packet_id"] != owner.sealed
    assert imported["verified"] is True and imported["skipped"] is False
    # ... and says nothing about the packet that holds the bundle's id in another tenant
    # (test_import_ids.py: the answer is the one a free id gets)
    # (test_import_ids.py: the answer is the one a free id gets); the one note that names the
    # bundle's id says what the bundle itself says, as it would for a free id
    renamed = (
        f"imported as packet {imported['packet_id']}: the bundle's seal and custody log name it "
        f"{owner.sealed}"
    )
    notes = [note for note in imported["warnings"] + imported["errors"] if note != renamed]
    assert renamed in imported["warnings"]
    assert not any("new packet" in note or owner.sealed in note for note in notes)
    mine = await json("GET", f"/{imported['packet_id']}", 200)
    assert mine["status"] == "finalized" and mine["contents_count"] == 1
    walker.imports += 1
    if owner.tenant is not None:
        # a tenantless import is open to anyone, the owner too, when tenants see that space
        seen = 200 if walker.tenant is None and tenantless is not None else 404
        await owner.walker.call("GET", f"/{imported['packet_id']}", seen)
    # The owner's export file is not the walker's to read, even by its path on the server.
    await call("POST", "/import", 404, json={"file_path": owner.export_path})


def item_texts(world: World) -> dict[str, set[str]]:
    """Text found in a world's items, by index and (under three characters) by scan, and the
    packets it finds there: the draft's item has the file, the sealed packet's the same id."""
    label = "N" if world.tenant is None else world.tenant[-1].upper()
    both, draft = world.ids, {world.draft}
    return {f"doc-{label}": both, f"c-{label}": both, "scan.pdf": draft, "df": draft}


async def search_own_items(world: World) -> None:
    for text, expected in item_texts(world).items():
        found = await world.walker.json("GET", "/", 200, params={"search": text})
        assert {p["id"] for p in found["items"]} >= expected, text
        assert world.entry in {m["id"] for p in found["items"] for m in p["matched_items"]}


async def search_items_across(walker: Walker, owner: World, own: World | None) -> None:
    """Searching for the owner's items finds the walker's own, never the owner's packets nor
    names the owner's items."""
    for text in item_texts(owner):
        found = await walker.json("GET", "/", 200, params={"q": text, "page_size": 100})
        assert not {p["id"] for p in found["items"]} & owner.ids, text
        assert owner.entry not in {m["id"] for p in found["items"] for m in p["matched_items"]}
        if own is not None and text in ("scan.pdf", "df"):
            assert own.draft in {p["id"] for p in found["items"]}, text


async def walk_links(walker: Walker, owner: World, own: World) -> None:
    """A share link is its own credential: it opens its packet for anyone, whatever their
    tenant, and reaches nothing else."""
    comment_link, edit_link = f"/shared/{owner.comment_token}", f"/shared/{owner.edit_token}"
    opened = await walker.json("GET", comment_link, 200)
    assert opened["packet"]["id"] == owner.sealed
    await walker.call("POST", f"{comment_link}/comments", 201, json={"author": "o", "body": "b"})
    bundled = await walker.call("GET", f"{comment_link}/bundle", 200, params={"format": "json"})
    assert bundled.json()["packet"]["id"] == owner.sealed  # the owner's sealed packet, theirs
    await walker.call("POST", f"{comment_link}/bundle", 200, data={})
    await walker.call("GET", f"{edit_link}/bundle", 409)  # a draft has no sealed bundle
    got = await walker.call("GET", f"{edit_link}/contents/{owner.entry}/file", 200)
    assert got.content == owner.file_bytes
    await walker.call("POST", f"{edit_link}/contents/{owner.entry}/file", 200, data={})
    await walker.call("GET", f"{edit_link}/contents/{own.entry}/file", 404)
    await walker.call("POST", f"{edit_link}/contents/{own.entry}/file", 404, data={})
    await walker.call("DELETE", f"{edit_link}/contents/{own.spare_entry}", 404)
    await walker.call("DELETE", f"{edit_link}/contents/{own.entry}", 404)
    added = await walker.json(
        "POST", f"{edit_link}/contents", 201, json={"content_type": "claim", "content_id": "via"}
    )
    owner_walker = owner.walker
    contents = await owner_walker.json("GET", f"/{owner.draft}/contents", 200)
    assert added["id"] in {c["id"] for c in contents}
    own_contents = await walker.json("GET", f"/{own.draft}/contents", 200)
    assert {c["id"] for c in own_contents} >= {own.entry, own.spare_entry}
    assert added["id"] not in {c["id"] for c in own_contents}
    # what the link did is the owner's event, not the walker's nor the tenantless caller's
    assert added["id"] in await feed_entry_ids(owner_walker)
    assert added["id"] not in await feed_entry_ids(walker)
    assert added["id"] not in await feed_entry_ids(Walker(walker.client, None))


async def walk_shared(walker: Walker, space: World, engine: Any, nobody: Walker) -> None:
    """A tenant's user works on the tenantless space as anonymous callers do: every route of a
    packet answers, listing, counts and search show the space beside the tenant's own, what
    the user records names the user, and every row of the space stays tenantless."""
    call, json = walker.call, walker.json
    draft, sealed = space.draft, space.sealed
    file = f"/{draft}/contents/{space.entry}/file"
    own_before = await tenant_rows(engine, walker.tenant)
    assert (await visible_ids(walker)) >= space.ids
    searched = await json("GET", "/", 200, params={"q": "Sealed N"})
    assert [p["id"] for p in searched["items"]] == [sealed]

    etag = (await call("GET", f"/{draft}", 200)).headers["etag"]
    await call("PUT", f"/{draft}", 200, json={"name": "Draft N"}, headers={"if-match": etag})
    item = {"content_type": "claim", "content_id": "by-a-tenant"}
    added = await json("POST", f"/{draft}/contents", 201, json=item)
    assert added["added_by"] == walker.actor
    assert added["id"] in {c["id"] for c in await json("GET", f"/{draft}/contents", 200)}
    await call("PUT", file, 200, **upload(b"%PDF-1.4 replaced by a tenant's user"))
    assert (await call("GET", file, 200)).content == b"%PDF-1.4 replaced by a tenant's user"
    await call("DELETE", f"/{draft}/contents/{space.spare_entry}", 204)
    recorded = await json("POST", f"/{draft}/versions", 201, json={"changes_summary": "by A"})
    assert recorded["created_by"] == walker.actor
    number = recorded["version_number"]
    assert number in {v["version_number"] for v in await json("GET", f"/{draft}/versions", 200)}
    await json("GET", f"/{draft}/versions/1", 200)
    await json("GET", f"/{draft}/versions/1/diff/{number}", 200)
    await json("POST", f"/{draft}/versions/{number}/restore", 200)
    await json("GET", f"/{draft}/verify", 200)
    # an import into the space's draft (its own bundle, replacing it) keeps it the space's
    made = await json("POST", f"/{draft}/export", 200, json={"format": "json"})
    bundle = (await call("GET", f"/{draft}/exports/{made['export_id']}", 200)).content
    replaced = await json(
        "POST", "/import", 201, files={"file": ("d.json", bundle)}, data={"merge_mode": "replace"}
    )
    assert (replaced["packet_id"], replaced["skipped"]) == (draft, False)
    assert replaced["imported_by"] == walker.actor and replaced["contents_imported"] == 2
    link = await json("POST", f"/{draft}/share", 201, json={"shared_with": "public"})
    assert link["shared_by"] == walker.actor
    shared = await json("POST", f"/{sealed}/share", 201, json={"shared_with": "y@example.org"})
    assert shared["id"] in {s["id"] for s in await json("GET", f"/{sealed}/shares", 200)}
    await json("GET", f"/{sealed}/shares/{space.share_id}/access", 200)
    assert len((await json("GET", f"/{sealed}/comments", 200))["items"]) == 2
    await call("DELETE", f"/{sealed}/shares/{shared['id']}", 204)
    assert (await json("GET", f"/{sealed}/verify", 200))["valid"] is True
    assert (await call("GET", f"/{sealed}/exports/{space.export_id}", 200)).content == space.bundle
    exported = await json("POST", f"/{sealed}/export", 200, json={"format": "zip"})
    got = await call("GET", f"/{sealed}/exports/{exported['export_id']}", 200)
    assert got.content[:2] == b"PK"
    for body in (
        {"files": {"file": ("b.zip", space.bundle)}, "data": {"merge_mode": "skip"}},
        {"json": {"file_path": exported["file_path"], "merge_mode": "skip"}},
    ):
        skipped = await json("POST", "/import", 201, **body)
        assert skipped["skipped"] is True and skipped["packet_id"] == sealed
    assert (await json("POST", f"/{draft}/finalize", 200))["status"] == "finalized"
    assert (await json("POST", "/batch/archive", 200, json={"ids": [draft]}))["processed"] == 1
    await call("DELETE", f"/{sealed}", 204)
    assert (await json("GET", f"/{sealed}", 200))["status"] == "archived"
    log = await json("GET", f"/{sealed}/custody", 200)
    assert log["intact"] is True and log["entries"][-1]["event"] == "archived"
    assert log["entries"][-1]["actor"] == walker.actor

    # What the user did there is the space's: its events are in the tenantless feed, which
    # anonymous callers read too; nothing landed in the user's tenant.
    assert added["id"] in await feed_entry_ids(nobody)
    assert added["id"] in await feed_entry_ids(walker)
    assert await tenant_rows(engine, walker.tenant) == own_before
    assert set(await packet_tenants(engine, space.ids)) >= {
        "arkham_packets",
        "arkham_packet_custody",
    }
    assert all(found == {None} for found in (await packet_tenants(engine, space.ids)).values())
    archived = await nobody.json("GET", f"/{sealed}", 200)
    assert archived["status"] == "archived"


def covered_routes(app: FastAPI, sent: list[tuple[str, str]]) -> set[tuple[str, str] | None]:
    """The route each request went to."""
    served = served_routes(app)
    return {route_of(method, path, served) for method, path in sent}


async def test_every_route_keeps_tenants_apart(
    app: FastAPI, client: httpx.AsyncClient, engine: Any, users: Users
) -> None:
    a_walker = user_walker(client, users, TENANT_A)
    b_walker = user_walker(client, users, TENANT_B)
    nobody = Walker(client, None)
    await nobody.json("GET", "/health", 200)
    await nobody.json("GET", "/keys", 200)  # the installation's public keys are no tenant's
    a, b = await populate(a_walker, TENANT_A), await populate(b_walker, TENANT_B)
    space = await populate(nobody, None)  # the tenantless space, as the Shell's page makes it
    assert (await visible_ids(a_walker)) >= a.ids | space.ids
    assert (await feed_packet_ids(a_walker)) >= a.ids | space.ids
    assert not (await visible_ids(nobody)) & (a.ids | b.ids)
    assert all(found == {TENANT_A} for found in (await packet_tenants(engine, a.ids)).values())

    a_before, b_before = await tenant_rows(engine, TENANT_A), await tenant_rows(engine, TENANT_B)
    await walk_across(b_walker, a, b, nobody)
    await walk_across(nobody, a, space, nobody)
    # signing an old seal is an admin's; another tenant's admin finds nothing to sign
    b_admin = Walker(client, TENANT_B, users.headers(TENANT_B, "admin"))
    await b_admin.call("POST", f"/{a.sealed}/attest", 404)
    await b_walker.call("POST", f"/{a.sealed}/attest", 403)
    await nobody.call("POST", f"/{a.sealed}/attest", 401)
    assert await tenant_rows(engine, TENANT_A) == a_before
    b_after = await tenant_rows(engine, TENANT_B)
    await walk_across(a_walker, b, a, nobody)
    await walk_across(nobody, b, space, nobody)
    assert await tenant_rows(engine, TENANT_B) == b_after
    assert b_after != b_before  # B's own import did land in B
    await walk_shared(a_walker, space, engine, nobody)

    for owner, walker in ((a, a_walker), (b, b_walker)):
        sealed = await walker.json("GET", f"/{owner.sealed}/verify", 200)
        assert sealed["valid"] is True
        got = await walker.call("GET", f"/{owner.draft}/contents/{owner.entry}/file", 200)
        assert got.content == owner.file_bytes
        assert (
            await walker.call("GET", f"/{owner.sealed}/exports/{owner.export_id}", 200)
        ).content == owner.bundle

    await walk_links(b_walker, a, b)
    await walk_links(a_walker, b, a)
    assert not (await feed_packet_ids(nobody)) & (a.ids | b.ids)

    sent = a_walker.sent + b_walker.sent + nobody.sent + b_admin.sent
    served = set(served_routes(app))
    assert len(served) >= 38  # an empty table would prove nothing
    assert served - covered_routes(app, sent) == set()


async def test_with_require_user_on_tenants_see_no_tenantless_packet_until_an_admin_moves_it(
    tmp_path: Path,
    database_url: str,
    frame_auth: HostAuth,
    users: Users,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Packets made while anonymous callers were let in stay in the tenantless space when
    `require_user` is turned on: no tenant sees them (every route 404, nothing counted), until
    an admin moves one into a tenant, with every row that hangs off it."""
    if POSTGRES_URL:
        await reset_postgres(database_url)
    config = HostConfig(tmp_path / "data", database_url, auth=frame_auth)
    before = create_app(config)
    async with before.router.lifespan_context(before), client_of(before) as client:
        space = await populate(Walker(client, None), None)
        a = await populate(user_walker(client, users, TENANT_A), TENANT_A)

    monkeypatch.setenv("ARKHAM_PACKETS_REQUIRE_USER", "true")
    locked = create_app(config)
    async with locked.router.lifespan_context(locked), client_of(locked) as client:
        engine = locked.state.packets_shard.services.database.engine
        analyst = user_walker(client, users, TENANT_A)
        space_before = await tenant_rows(engine, None)
        await walk_across(analyst, space, a, None)
        assert not (await feed_packet_ids(analyst)) & space.ids
        assert await tenant_rows(engine, None) == space_before

        admin = Walker(client, TENANT_A, users.headers(TENANT_A, role="admin"))
        admin.actor = str(users.user(TENANT_A, role="admin").id)
        moved = await admin.json("POST", f"/{space.sealed}/tenant", 200)
        assert (moved["tenant_id"], moved["moved_by"]) == (TENANT_A, admin.actor)
        assert moved["packet"]["id"] == space.sealed
        assert (await analyst.json("GET", f"/{space.sealed}", 200))["status"] == "shared"
        assert space.sealed in await visible_ids(analyst)
        rows = await packet_tenants(engine, {space.sealed})
        assert rows.pop(outbox.name) == {None, TENANT_A}  # events published before stay
        assert set(rows) >= {"arkham_packet_contents", "arkham_packet_exports"}
        assert all(found == {TENANT_A} for found in rows.values()), rows
        log = await analyst.json("GET", f"/{space.sealed}/custody", 200)
        assert log["intact"] is True
        entry = log["entries"][-1]
        assert (entry["event"], entry["actor"]) == ("moved_to_tenant", admin.actor)
        assert entry["details"] == {"tenant_id": TENANT_A}
        assert (await analyst.json("GET", f"/{space.sealed}/verify", 200))["valid"] is True
        got = await analyst.call("GET", f"/{space.sealed}/exports/{space.export_id}", 200)
        assert got.content == space.bundle
        assert (await analyst.json("GET", f"/shared/{space.comment_token}", 200))["packet"][
            "id"
        ] == space.sealed
        await admin.call("POST", f"/{space.sealed}/tenant", 409)
        await analyst.call("GET", f"/{space.draft}", 404)  # the other one stays where it was
