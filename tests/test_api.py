"""The packet lifecycle routes through the real app: status codes, rules, events."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import httpx
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import Match

from arkham_shard_packets.api import build_router
from arkham_shard_packets.db.tables import packet_contents, packets

from .conftest import add_item, make_packet, packet_events
from .frame_users import Users

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


async def test_health(client: httpx.AsyncClient, store_backend: str) -> None:
    response = await client.get("/api/packets/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["shard"] == "packets"
    assert body["database"] in {"sqlite", "postgresql"}
    assert body["storage"] is True
    assert body["store"] == {"backend": store_backend, "reachable": True}


async def test_create_returns_the_packet_as_the_frame_ui_reads_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/packets/",
        json={"name": "  Harbor leak  ", "description": "Shipping docs", "visibility": "private"},
    )
    assert response.status_code == 201
    packet = response.json()
    assert uuid.UUID(packet["id"]).version == 4
    assert packet["name"] == "Harbor leak"
    assert packet["description"] == "Shipping docs"
    assert packet["status"] == "draft"
    assert packet["visibility"] == "private"
    assert packet["version"] == 1
    assert packet["contents_count"] == 0
    assert packet["size_bytes"] == 0
    assert packet["checksum"] is None
    assert packet["created_by"] == "system"
    assert ISO_UTC.match(packet["created_at"])
    assert ISO_UTC.match(packet["updated_at"])

    fetched = await client.get(f"/api/packets/{packet['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == packet

    created = await packet_events(client, "packets.packet.created")
    assert created[0]["payload"] == {
        "packet_id": packet["id"],
        "name": "Harbor leak",
        "created_by": "system",
    }
    assert created[0]["source"] == "packets"


async def test_created_by_is_the_authenticated_user(
    client: httpx.AsyncClient, users: Users
) -> None:
    tenant = "7c0f3a0e-0000-4000-8000-00000000000a"
    ana, ben = (
        users.user(tenant, email="ana@example.org"),
        users.user(tenant, email="ben@example.org"),
    )
    response = await client.post(
        "/api/packets/", json={"name": "Mine"}, headers=users.headers(tenant, email=ana.email)
    )
    assert response.json()["created_by"] == str(ana.id)
    item = await client.post(
        f"/api/packets/{response.json()['id']}/contents",
        json={"content_type": "entity", "content_id": "e1"},
        headers=users.headers(tenant, email=ben.email),
    )
    assert item.json()["added_by"] == str(ben.id)


async def test_create_validation(client: httpx.AsyncClient) -> None:
    cases = [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": "ok", "visibility": "secret"},
        {"name": "ok", "description": "d" * 10_001},
        {"description": "no name"},
        {"name": "ok", "metadata": "not an object"},
    ]
    for body in cases:
        response = await client.post("/api/packets/", json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"]
    listing = await client.get("/api/packets/")
    assert listing.json()["total"] == 0


async def test_unknown_packet_is_404_everywhere(client: httpx.AsyncClient) -> None:
    missing = str(uuid.uuid4())
    calls = [
        client.get(f"/api/packets/{missing}"),
        client.put(f"/api/packets/{missing}", json={"name": "x"}),
        client.delete(f"/api/packets/{missing}"),
        client.post(f"/api/packets/{missing}/finalize"),
        client.post(f"/api/packets/{missing}/archive"),
        client.get(f"/api/packets/{missing}/contents"),
        client.post(
            f"/api/packets/{missing}/contents",
            json={"content_type": "document", "content_id": "d"},
        ),
        client.delete(f"/api/packets/{missing}/contents/{uuid.uuid4()}"),
        client.get("/api/packets/not-a-uuid"),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 404, response.request.url
        assert "not found" in response.json()["detail"]


async def test_update_changes_only_sent_fields(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client, description="keep me", metadata={"case": 7})
    response = await client.put(f"/api/packets/{packet['id']}", json={"name": "Renamed"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == "Renamed"
    assert updated["description"] == "keep me"
    assert updated["metadata"] == {"case": 7}
    assert updated["updated_at"] >= packet["updated_at"]

    cleared = await client.put(
        f"/api/packets/{packet['id']}", json={"description": "", "visibility": "team"}
    )
    assert cleared.json()["description"] == ""
    assert cleared.json()["visibility"] == "team"
    assert cleared.json()["name"] == "Renamed"

    events = await packet_events(client, "packets.packet.updated")
    assert {"packet_id": packet["id"], "changes": ["name"]} in [e["payload"] for e in events]


async def test_update_validation(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    for body in [{"name": " "}, {"name": None}, {"visibility": "nope"}, {"description": None}]:
        response = await client.put(f"/api/packets/{packet['id']}", json=body)
        assert response.status_code == 422, body
    assert (await client.get(f"/api/packets/{packet['id']}")).json()["name"] == packet["name"]


async def test_contents_add_list_remove(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    first = await add_item(client, pid, "doc-9", content_title="Memo", order=2)
    second = await add_item(client, pid, "ent-1", "entity", content_title="ACME", order=1)
    third = await add_item(client, pid, "claim-1", "claim", order=1, data={"text": "a claim"})
    assert first["content_title"] == "Memo"
    assert first["order"] == 2
    assert ISO_UTC.match(first["added_at"])

    listing = await client.get(f"/api/packets/{pid}/contents")
    # by order, those of one order in the order they were added
    assert [i["id"] for i in listing.json()] == [second["id"], third["id"], first["id"]]
    assert listing.headers["x-total-count"] == "3"

    current = (await client.get(f"/api/packets/{pid}")).json()
    assert current["contents_count"] == 3
    assert current["size_bytes"] == len(b'{"text":"a claim"}')

    removed = await client.delete(f"/api/packets/{pid}/contents/{third['id']}")
    assert removed.status_code == 204
    current = (await client.get(f"/api/packets/{pid}")).json()
    assert current["contents_count"] == 2
    assert current["size_bytes"] == 0

    again = await client.delete(f"/api/packets/{pid}/contents/{third['id']}")
    assert again.status_code == 404

    added = await packet_events(client, "packets.content.added")
    assert {
        "packet_id": pid,
        "content_entry_id": first["id"],
        "content_id": "doc-9",
        "content_type": "document",
    } in [e["payload"] for e in added]
    removed_events = await packet_events(client, "packets.content.removed")
    assert removed_events[0]["payload"]["packet_id"] == pid
    assert removed_events[0]["payload"]["content_entry_id"] == third["id"]


async def test_every_content_type_is_accepted(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    kinds = ["document", "entity", "claim", "evidence_chain", "matrix", "timeline", "report"]
    for kind in kinds:
        await add_item(client, packet["id"], f"{kind}-1", kind)
    listing = (await client.get(f"/api/packets/{packet['id']}/contents")).json()
    assert sorted(i["content_type"] for i in listing) == sorted(kinds)


async def test_content_validation(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    url = f"/api/packets/{packet['id']}/contents"
    for body in [
        {"content_type": "video", "content_id": "v"},
        {"content_type": "document", "content_id": ""},
        {"content_type": "document", "content_id": "   "},
        {"content_type": "document", "content_id": "d", "order": -1},
        {"content_type": "document"},
        {"content_type": "document", "content_id": "d", "data": [1, 2]},
    ]:
        response = await client.post(url, json=body)
        assert response.status_code == 422, body
    assert (await client.get(f"/api/packets/{packet['id']}")).json()["contents_count"] == 0


async def test_duplicate_content_is_409_and_changes_nothing(
    client: httpx.AsyncClient, engine: object
) -> None:
    packet = await make_packet(client)
    await add_item(client, packet["id"], "doc-1")
    before = (await client.get(f"/api/packets/{packet['id']}")).json()
    response = await client.post(
        f"/api/packets/{packet['id']}/contents",
        json={"content_type": "document", "content_id": "doc-1", "data": {"x": 1}},
    )
    assert response.status_code == 409
    assert "already in packet" in response.json()["detail"]
    after = (await client.get(f"/api/packets/{packet['id']}")).json()
    assert after == before  # no count, size or updated_at change leaked out of the failure
    same_id_other_type = await client.post(
        f"/api/packets/{packet['id']}/contents",
        json={"content_type": "entity", "content_id": "doc-1"},
    )
    assert same_id_other_type.status_code == 201


async def test_removing_another_packets_content_is_404(client: httpx.AsyncClient) -> None:
    one = await make_packet(client, "one")
    two = await make_packet(client, "two")
    item = await add_item(client, one["id"])
    response = await client.delete(f"/api/packets/{two['id']}/contents/{item['id']}")
    assert response.status_code == 404
    assert (await client.get(f"/api/packets/{one['id']}")).json()["contents_count"] == 1


async def test_finalize_locks_and_seals(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    await add_item(client, pid, "doc-1", data={"pages": 3})
    response = await client.post(f"/api/packets/{pid}/finalize")
    assert response.status_code == 200
    sealed = response.json()
    assert sealed["status"] == "finalized"
    assert re.fullmatch(r"[0-9a-f]{64}", sealed["checksum"])

    refused = [
        await client.put(f"/api/packets/{pid}", json={"name": "changed"}),
        await client.post(
            f"/api/packets/{pid}/contents", json={"content_type": "entity", "content_id": "e"}
        ),
        await client.post(f"/api/packets/{pid}/finalize"),
    ]
    items = (await client.get(f"/api/packets/{pid}/contents")).json()
    refused.append(await client.delete(f"/api/packets/{pid}/contents/{items[0]['id']}"))
    for answer in refused:
        assert answer.status_code == 409
        assert "finalized" in answer.json()["detail"]
    assert (await client.get(f"/api/packets/{pid}")).json() == sealed

    finalized = await packet_events(client, "packets.packet.finalized")
    assert finalized[0]["payload"]["packet_id"] == pid
    assert finalized[0]["payload"]["version"] == sealed["version"]


async def test_same_content_gives_same_checksum(client: httpx.AsyncClient) -> None:
    checksums = []
    for order in (["a", "b"], ["b", "a"]):
        packet = await make_packet(client, "Same", description="d")
        for cid in order:
            await add_item(client, packet["id"], cid, order=ord(cid))
        checksums.append((await client.post(f"/api/packets/{packet['id']}/finalize")).json())
    assert checksums[0]["checksum"] == checksums[1]["checksum"]
    other = await make_packet(client, "Different", description="d")
    await add_item(client, other["id"], "a", order=97)
    sealed = (await client.post(f"/api/packets/{other['id']}/finalize")).json()
    assert sealed["checksum"] != checksums[0]["checksum"]


async def test_archive_from_any_state(client: httpx.AsyncClient) -> None:
    draft = await make_packet(client, "draft")
    final = await make_packet(client, "final")
    await client.post(f"/api/packets/{final['id']}/finalize")

    archived = await client.post(f"/api/packets/{draft['id']}/archive")
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    deleted = await client.delete(f"/api/packets/{final['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(f"/api/packets/{final['id']}")).json()["status"] == "archived"

    again = await client.delete(f"/api/packets/{final['id']}")
    assert again.status_code == 409
    assert "already archived" in again.json()["detail"]
    refinalize = await client.post(f"/api/packets/{draft['id']}/finalize")
    assert refinalize.status_code == 409
    assert "archived" in refinalize.json()["detail"]
    edit = await client.put(f"/api/packets/{draft['id']}", json={"name": "x"})
    assert edit.status_code == 409

    updates = [e["payload"] for e in await packet_events(client, "packets.packet.updated")]
    assert {
        "packet_id": final["id"],
        "status": "archived",
        "previous_status": "finalized",
    } in updates
    assert {"packet_id": draft["id"], "status": "archived", "previous_status": "draft"} in updates


async def test_count_and_status_routes(client: httpx.AsyncClient) -> None:
    ids = [(await make_packet(client, f"p{i}"))["id"] for i in range(5)]
    await client.post(f"/api/packets/{ids[0]}/finalize")
    await client.post(f"/api/packets/{ids[1]}/finalize")
    await client.post(f"/api/packets/{ids[2]}/archive")

    assert (await client.get("/api/packets/count")).json() == {"count": 5}
    assert (await client.get("/api/packets/count", params={"status": "draft"})).json() == {
        "count": 2
    }
    assert (await client.get("/api/packets/count", params={"status": "bogus"})).status_code == 422

    drafts = (await client.get("/api/packets/status/draft")).json()
    assert drafts["total"] == 2
    assert {p["id"] for p in drafts["items"]} == {ids[3], ids[4]}
    finalized = (await client.get("/api/packets/status/finalized")).json()
    assert {p["id"] for p in finalized["items"]} == {ids[0], ids[1]}
    assert (await client.get("/api/packets/status/shared")).json()["total"] == 0
    assert (await client.get("/api/packets/status/unknown")).status_code == 422


async def test_statistics_come_from_the_data(client: httpx.AsyncClient) -> None:
    empty = (await client.get("/api/packets/stats/overview")).json()
    assert empty["total_packets"] == 0
    assert empty["avg_contents_per_packet"] == 0.0

    one = await make_packet(client, "one", visibility="team")
    two = await make_packet(client, "two")
    await add_item(client, one["id"], "d1")
    await add_item(client, one["id"], "e1", "entity", data={"k": "v"})
    await add_item(client, one["id"], "d2")
    await add_item(client, two["id"], "m1", "matrix")
    await client.post(f"/api/packets/{two['id']}/finalize")

    stats = (await client.get("/api/packets/stats/overview")).json()
    assert stats["total_packets"] == 2
    assert stats["by_status"] == {"draft": 1, "finalized": 1}
    assert stats["by_visibility"] == {"team": 1, "private": 1}
    assert stats["total_contents"] == 4
    assert stats["by_content_type"] == {"document": 2, "entity": 1, "matrix": 1}
    assert stats["avg_contents_per_packet"] == 2.0
    assert stats["avg_size_bytes"] == len(b'{"k":"v"}') / 2
    for key in ("total_shares", "active_shares", "expired_shares", "total_versions"):
        assert key in stats


async def test_timestamps_are_utc_with_offset_in_the_database(
    client: httpx.AsyncClient, engine: object
) -> None:
    packet = await make_packet(client)
    await add_item(client, packet["id"])
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        row = (await conn.execute(select(packets).where(packets.c.id == packet["id"]))).one()
        item = (await conn.execute(select(packet_contents))).one()
    offset = datetime.fromisoformat(row.created_at).utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert ISO_UTC.match(row.updated_at)
    assert ISO_UTC.match(item.added_at)


async def test_a_failing_event_bus_does_not_undo_a_committed_change(
    app: object, client: httpx.AsyncClient
) -> None:
    bus = app.state.frame.get_service("events")  # type: ignore[attr-defined]

    async def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bus down")

    bus.emit = refuse
    response = await client.post("/api/packets/", json={"name": "still saved"})
    assert response.status_code == 201
    assert (await client.get(f"/api/packets/{response.json()['id']}")).status_code == 200


async def test_the_collection_answers_without_its_slash(client: httpx.AsyncClient) -> None:
    """POST /api/packets is the route itself, not a 307 that clients won't follow for a POST."""
    created = await client.post("/api/packets", json={"name": "No slash"})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "No slash"
    listed = await client.get("/api/packets", params={"page_size": 5})
    assert listed.status_code == 200
    assert listed.json()["total"] == 1 and listed.json()["page_size"] == 5
    refused = await client.delete("/api/packets")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, POST")


def test_every_route_is_reached_by_its_own_paths() -> None:
    """The shard's routes are tried in order, so one whose path is also another's would hide
    it: every route, called with ordinary values for its parameters, is the first to match,
    and a method it doesn't take finds the route that answers 405 with its methods."""
    routes = build_router().routes
    hidden = []
    for route in routes:
        if not isinstance(route, APIRoute) or route.name.endswith("_without_slash"):
            continue
        path = re.sub(r"\{(\w+)\}", lambda name: f"v-{name.group(1)}-7f3a", route.path)
        methods = route.methods or set()
        for method in (*sorted(methods), "PATCH"):
            scope = {"type": "http", "path": path, "method": method, "root_path": ""}
            first = next(
                (other for other in routes if other.matches(dict(scope))[0] == Match.FULL), None
            )
            expected = route if method in methods else "405"
            found = "405" if first is not None and not isinstance(first, APIRoute) else first
            if found is not expected and found != expected:
                hidden.append(f"{method} {route.path}: {getattr(first, 'path', first)}")
    assert hidden == []


def test_where_two_routes_meet_the_one_with_a_word_first_takes_the_path() -> None:
    """`POST /batch/archive` is the batch route's, not the archive of a packet named "batch";
    `GET /shared/contents` a share link's, not the items of a packet named "shared": at the
    first segment where two routes differ, a word takes the path before a parameter, whatever
    order the routes are tried in for speed (route_order.py)."""
    routes = [route for route in build_router().routes if isinstance(route, APIRoute)]
    wrong = []
    for first in routes:
        for second in routes:
            mine, theirs = first.path.split("/"), second.path.split("/")
            common = (first.methods or set()) & (second.methods or set())
            if first is second or len(mine) != len(theirs) or not common:
                continue
            path, winner = [], None
            for word, other in zip(mine, theirs, strict=True):
                word_is_name, other_is_name = word.startswith("{"), other.startswith("{")
                if not word_is_name and not other_is_name and word != other:
                    break
                if winner is None and word_is_name != other_is_name:
                    winner = second if word_is_name else first
                path.append(
                    "v-7f3a"
                    if word_is_name and other_is_name
                    else (other if word_is_name else word)
                )
            else:
                if winner is None or "" in path:
                    continue
                for method in common:
                    scope = {
                        "type": "http",
                        "path": "/".join(path),
                        "method": method,
                        "root_path": "",
                    }
                    taken = next(
                        route for route in routes if route.matches(dict(scope))[0] == Match.FULL
                    )
                    if taken is not winner:
                        wrong.append(f"{method} {'/'.join(path)}: {taken.path}, not {winner.path}")
    assert wrong == []
