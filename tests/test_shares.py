"""Managing shares: create, list, revoke; the packet's status; events; what is stored."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from arkham_shard_packets.db.tables import metadata, packet_shares
from arkham_shard_packets.host.app import HostConfig, create_app

from .conftest import make_packet, packet_events
from .frame_users import Users
from .share_helpers import finalized_packet, in_seconds, share, share_row, status_of


async def test_first_share_of_a_finalized_packet_makes_it_shared(
    client: httpx.AsyncClient, users: Users
) -> None:
    tenant = "7c0f3a0e-0000-4000-8000-00000000000a"
    client.headers.update(users.headers(tenant))
    packet = await finalized_packet(client)
    expires = in_seconds(3600)
    nine = users.user(tenant, email="nine@example.org")
    response = await client.post(
        f"/api/packets/{packet['id']}/share",
        json={"shared_with": "ana@example.org", "permissions": "comment", "expires_at": expires},
        headers=users.headers(tenant, email=nine.email),
    )
    assert response.status_code == 201, response.text
    created = response.json()
    token = created["access_token"]
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert created["share_url"] == f"/api/packets/shared/{token}/view"
    assert created["packet_id"] == packet["id"]
    assert created["shared_with"] == "ana@example.org"
    assert created["permissions"] == "comment"
    assert datetime.fromisoformat(created["expires_at"]) == datetime.fromisoformat(expires)
    assert datetime.fromisoformat(created["shared_at"]).utcoffset() == timedelta(0)
    assert created["shared_by"] == str(nine.id)
    assert created["password_protected"] is False
    assert await status_of(client, packet["id"]) == "shared"

    (event,) = await packet_events(client, "packets.packet.shared")
    assert event["payload"]["packet_id"] == packet["id"]
    assert event["payload"]["shared_with"] == "ana@example.org"
    assert event["payload"]["permissions"] == "comment"
    everything = json.dumps(await packet_events(client))
    assert token not in everything

    second = await share(client, packet["id"], "bob@example.org")
    assert second["access_token"] != token
    assert await status_of(client, packet["id"]) == "shared"


async def test_the_database_keeps_only_the_tokens_digest(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], password="a long secret")
    token = created["access_token"]
    row = await share_row(engine, created["id"])
    assert row["access_token"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["password_hash"].startswith("scrypt$")
    assert "a long secret" not in row["password_hash"]
    # Not in any column of any row of any table.
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for stored in (await conn.execute(select(table))).all():
                assert token not in json.dumps([str(v) for v in stored])
    async with engine.connect() as conn:
        indexes = await conn.run_sync(
            lambda c: {i["name"]: i["column_names"] for i in _inspect(c, packet_shares.name)}
        )
    assert indexes["idx_shares_token"] == ["access_token"]


def _inspect(connection: Any, table: str) -> Any:
    from sqlalchemy import inspect

    return inspect(connection).get_indexes(table)


async def test_share_validation_writes_nothing(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    naive_past = (datetime.now(timezone.utc) - timedelta(minutes=1)).replace(tzinfo=None)
    cases: list[dict[str, Any]] = [
        {},
        {"shared_with": ""},
        {"shared_with": "   "},
        {"shared_with": "x" * 257},
        {"shared_with": "bob@example.org", "permissions": "own"},
        {"shared_with": "bob@example.org", "expires_at": "next tuesday"},
        {"shared_with": "bob@example.org", "expires_at": in_seconds(-1)},
        {"shared_with": "bob@example.org", "expires_at": naive_past.isoformat()},
        {"shared_with": "bob@example.org", "password": "short"},
        {"shared_with": "bob@example.org", "expire_at": in_seconds(60)},
    ]
    for body in cases:
        response = await client.post(f"/api/packets/{packet['id']}/share", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"]
    past = await client.post(
        f"/api/packets/{packet['id']}/share",
        json={"shared_with": "bob@example.org", "expires_at": in_seconds(-5)},
    )
    assert "not in the future" in past.json()["detail"]
    assert (await client.get(f"/api/packets/{packet['id']}/shares")).json() == []
    assert await status_of(client, packet["id"]) == "finalized"
    assert await packet_events(client, "packets.packet.shared") == []


async def test_expires_at_without_offset_is_utc(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    moment = (datetime.now(timezone.utc) + timedelta(hours=2)).replace(microsecond=0)
    created = await share(client, packet["id"], expires_at=moment.replace(tzinfo=None).isoformat())
    assert created["expires_at"] == moment.isoformat(timespec="microseconds")


async def test_what_can_be_shared(client: httpx.AsyncClient) -> None:
    draft = await make_packet(client, "Collaboration")
    created = await share(client, draft["id"], "colleague@example.org", permissions="edit")
    assert created["permissions"] == "edit"
    assert await status_of(client, draft["id"]) == "draft"

    archived = await finalized_packet(client)
    await client.post(f"/api/packets/{archived['id']}/archive")
    refused = await client.post(
        f"/api/packets/{archived['id']}/share", json={"shared_with": "public"}
    )
    assert refused.status_code == 409
    assert "archived" in refused.json()["detail"]

    missing = "00000000-0000-4000-8000-000000000000"
    for response in (
        await client.post(f"/api/packets/{missing}/share", json={"shared_with": "public"}),
        await client.get(f"/api/packets/{missing}/shares"),
        await client.delete(f"/api/packets/{missing}/shares/{created['id']}"),
        await client.get(f"/api/packets/{missing}/comments"),
        await client.get(f"/api/packets/{missing}/shares/{created['id']}/access"),
    ):
        assert response.status_code == 404, response.request.url
        assert missing in response.json()["detail"]


async def test_list_shares_never_shows_a_token(client: httpx.AsyncClient, engine: Any) -> None:
    packet = await finalized_packet(client)
    first = await share(client, packet["id"], "ana@example.org", expires_at=in_seconds(600))
    second = await share(client, packet["id"], "public", permissions="comment", password="p" * 8)
    response = await client.get(f"/api/packets/{packet['id']}/shares")
    assert response.status_code == 200
    listing = response.json()
    assert [s["id"] for s in listing] == [first["id"], second["id"]]
    for item in listing:
        assert set(item) == {
            "id",
            "packet_id",
            "shared_with",
            "permissions",
            "shared_at",
            "expires_at",
            "shared_by",
            "password_protected",
            "state",
            "access_count",
            "last_accessed_at",
            "item_ids",
            "items_version",
        }
        assert item["state"] == "active"
        assert item["access_count"] == 0
        assert item["last_accessed_at"] is None
    assert [s["password_protected"] for s in listing] == [False, True]
    text = response.text
    for created in (first, second):
        assert created["access_token"] not in text
        assert (await share_row(engine, created["id"]))["access_token"] not in text


async def test_revoke_stops_the_link_and_returns_the_packet_to_finalized(
    client: httpx.AsyncClient,
) -> None:
    packet = await finalized_packet(client)
    first = await share(client, packet["id"], "ana@example.org")
    second = await share(client, packet["id"], "bob@example.org")
    assert (await client.get(f"/api/packets/shared/{first['access_token']}")).status_code == 200

    response = await client.delete(f"/api/packets/{packet['id']}/shares/{first['id']}")
    assert response.status_code == 204
    assert response.content == b""
    gone = await client.get(f"/api/packets/shared/{first['access_token']}")
    assert gone.status_code == 404
    assert "revoked" in gone.json()["detail"]
    assert await status_of(client, packet["id"]) == "shared"  # bob's share is still active
    listed = (await client.get(f"/api/packets/{packet['id']}/shares")).json()
    assert [s["id"] for s in listed] == [second["id"]]

    again = await client.delete(f"/api/packets/{packet['id']}/shares/{first['id']}")
    assert again.status_code == 404

    await client.delete(f"/api/packets/{packet['id']}/shares/{second['id']}")
    assert await status_of(client, packet["id"]) == "finalized"
    updated = await packet_events(client, "packets.packet.updated")
    assert updated[0]["payload"] == {
        "packet_id": packet["id"],
        "status": "finalized",
        "previous_status": "shared",
    }
    stats = (await client.get("/api/packets/stats/overview")).json()
    assert (stats["total_shares"], stats["active_shares"], stats["expired_shares"]) == (0, 0, 0)

    await share(client, packet["id"], "carol@example.org")
    assert await status_of(client, packet["id"]) == "shared"


async def test_revoking_another_packets_share_is_404_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    mine = await finalized_packet(client, "mine")
    other = await finalized_packet(client, "other")
    created = await share(client, mine["id"])
    for path in (
        f"/api/packets/{other['id']}/shares/{created['id']}",
        f"/api/packets/{mine['id']}/shares/00000000-0000-4000-8000-000000000000",
    ):
        response = await client.delete(path)
        assert response.status_code == 404
        assert "share" in response.json()["detail"]
    assert (await client.get(f"/api/packets/shared/{created['access_token']}")).status_code == 200
    assert await status_of(client, mine["id"]) == "shared"
    assert await status_of(client, other["id"]) == "finalized"


async def test_revoking_a_share_of_a_draft_keeps_it_a_draft(client: httpx.AsyncClient) -> None:
    draft = await make_packet(client)
    created = await share(client, draft["id"], permissions="edit")
    await client.delete(f"/api/packets/{draft['id']}/shares/{created['id']}")
    assert await status_of(client, draft["id"]) == "draft"
    assert await packet_events(client, "packets.packet.updated") == []


async def test_statistics_count_shares_by_state(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    await share(client, packet["id"], "a@example.org")
    await share(client, packet["id"], "b@example.org", expires_at=in_seconds(3600))
    revoked = await share(client, packet["id"], "c@example.org")
    await client.delete(f"/api/packets/{packet['id']}/shares/{revoked['id']}")
    stats = (await client.get("/api/packets/stats/overview")).json()
    assert (stats["total_shares"], stats["active_shares"], stats["expired_shares"]) == (2, 2, 0)


async def test_tenants_see_and_revoke_only_their_own_shares(
    client: httpx.AsyncClient, users: Users
) -> None:
    A = users.headers("7c0f3a0e-0000-4000-8000-00000000000a")
    B = users.headers("7c0f3a0e-0000-4000-8000-00000000000b")
    packet = (await client.post("/api/packets/", json={"name": "A's"}, headers=A)).json()
    response = await client.post(
        f"/api/packets/{packet['id']}/share", json={"shared_with": "public"}, headers=A
    )
    created = response.json()
    for call in (
        client.post(
            f"/api/packets/{packet['id']}/share", json={"shared_with": "x@example.org"}, headers=B
        ),
        client.get(f"/api/packets/{packet['id']}/shares", headers=B),
        client.delete(f"/api/packets/{packet['id']}/shares/{created['id']}", headers=B),
        client.get(f"/api/packets/{packet['id']}/comments", headers=B),
    ):
        assert (await call).status_code == 404
    listed = (await client.get(f"/api/packets/{packet['id']}/shares", headers=A)).json()
    assert [s["id"] for s in listed] == [created["id"]]
    # The token is the credential: it opens A's packet whoever holds it.
    opened = await client.get(f"/api/packets/shared/{created['access_token']}", headers=B)
    assert opened.status_code == 200
    assert opened.json()["packet"]["name"] == "A's"
    stats_b = (await client.get("/api/packets/stats/overview", headers=B)).json()
    assert stats_b["total_shares"] == 0


async def test_shared_with_is_normalised_and_checked(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    url = f"/api/packets/{packet['id']}/share"
    user = "7C0F3A0E-0000-4000-8000-00000000000A"
    longest = "u" * 255 + "9"
    stored = {
        "PUBLIC": "public",
        " Public ": "public",
        "Ana.Lima@Example.ORG": "ana.lima@example.org",
        "józef@przykład.pl": "józef@przykład.pl",
        user: user.lower(),
        # Any other user id is kept as sent: the seed's own, and ids from other systems.
        "user-123": "user-123",
        " User-123\t": "User-123",
        "bob": "bob",
        "ana@example": "ana@example",
        "@example.org": "@example.org",
        "7C0F3A0E00004000800000000000000A": "7C0F3A0E00004000800000000000000A",
        "{7c0f3a0e-0000-4000-8000-00000000000b}": "{7c0f3a0e-0000-4000-8000-00000000000b}",
        "auth0|5f7c8ec7c33c6c004bbafe82": "auth0|5f7c8ec7c33c6c004bbafe82",
        "<b>ana</b>": "<b>ana</b>",
        longest: longest,
    }
    for sent, kept in stored.items():
        response = await client.post(url, json={"shared_with": sent})
        assert response.status_code == 201, (sent, response.text)
        assert response.json()["shared_with"] == kept
    listed = {share["shared_with"] for share in (await client.get(f"{url}s")).json()}
    assert listed == set(stored.values())
    refused = {
        "not an email @@": "U+0020 at character 4",
        "a b@example.org": "U+0020 at character 2",
        "user 123": "U+0020 at character 5",
        "user\t123": "U+0009 at character 5",
        "user\u00a0123": "U+00A0 at character 5",
        "user\n123": "U+000A at character 5",
        "user\x01": "U+0001 at character 5",
        "user\x7f": "U+007F at character 5",
        "\u200buser-123": "U+200B at character 1",
        "user\u202e321": "U+202E at character 5",
    }
    for sent, found in refused.items():
        response = await client.post(url, json={"shared_with": sent})
        assert response.status_code == 422, (sent, response.text)
        problem = response.json()["detail"][0]
        assert problem["loc"] == ["body", "shared_with"]
        assert found in problem["msg"], (sent, problem)
        assert "a user id such as user-123" in problem["msg"]
    for sent, why in (("", "blank"), ("  \t ", "blank"), ("u" * 257, "at most 256 characters")):
        response = await client.post(url, json={"shared_with": sent})
        assert response.status_code == 422, (sent, response.text)
        problem = response.json()["detail"][0]
        assert problem["loc"] == ["body", "shared_with"]
        assert why in problem["msg"], (sent, problem)
    assert len((await client.get(f"{url}s")).json()) == len(stored)


async def test_a_user_id_is_echoed_recorded_and_shown(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], "user-123")
    assert created["shared_with"] == "user-123"
    listed = (await client.get(f"/api/packets/{packet['id']}/shares")).json()
    assert [s["shared_with"] for s in listed] == ["user-123"]
    events = await packet_events(client, "packets.packet.shared")
    assert [e["payload"]["shared_with"] for e in events] == ["user-123"]
    opened = (await client.get(f"/api/packets/shared/{created['access_token']}")).json()
    assert opened["share"]["shared_with"] == "user-123"
    marked = await share(client, packet["id"], "<b>ana</b>")
    page = await client.get(f"/api/packets/shared/{marked['access_token']}/view")
    assert "&lt;b&gt;ana&lt;/b&gt;" in page.text
    assert "<b>ana</b>" not in page.text


async def test_an_archived_packet_refuses_a_share_for_anyone(client: httpx.AsyncClient) -> None:
    archived = await finalized_packet(client)
    assert (await client.post(f"/api/packets/{archived['id']}/archive")).status_code == 200
    url = f"/api/packets/{archived['id']}/share"
    for shared_with in (
        "user-123",
        "public",
        "ana@example.org",
        "ana@example",
        "7c0f3a0e-0000-4000-8000-00000000000a",
        "u" * 256,
    ):
        refused = await client.post(url, json={"shared_with": shared_with})
        assert refused.status_code == 409, (shared_with, refused.text)
        assert "archived" in refused.json()["detail"]
    assert (await client.get(f"{url}s")).json() == []


async def test_a_user_id_grants_nothing_to_the_user_it_names(
    client: httpx.AsyncClient, users: Users
) -> None:
    """`shared_with` names the audience; only the token opens the packet. A share naming
    another tenant's user, by their Frame id in any form or by any other id, shows that user
    nothing through the API."""
    A = users.headers("7c0f3a0e-0000-4000-8000-00000000000a")
    other = users.user("7c0f3a0e-0000-4000-8000-00000000000b")
    B = users.headers("7c0f3a0e-0000-4000-8000-00000000000b")
    client.headers.update(A)
    packet = await finalized_packet(client)
    for shared_with in (str(other.id), str(other.id).upper(), other.email, "user-123"):
        await share(client, packet["id"], shared_with)
    pid = packet["id"]
    for path in (f"/{pid}", f"/{pid}/contents", f"/{pid}/shares", f"/{pid}/comments"):
        response = await client.get(f"/api/packets{path}", headers=B)
        assert response.status_code == 404, (path, response.text)
    assert (await client.get("/api/packets/", headers=B)).json()["total"] == 0
    assert (await client.get("/api/packets/count", headers=B)).json() == {"count": 0}
    stats = (await client.get("/api/packets/stats/overview", headers=B)).json()
    assert (stats["total_packets"], stats["total_shares"]) == (0, 0)


async def test_a_public_base_url_makes_share_urls_absolute(
    tmp_path: Path, database_url: str
) -> None:
    config = HostConfig(
        data_dir=tmp_path / "based",
        database_url=database_url,
        public_base_url="https://evidence.example.org/desk",
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inside") as client:
            packet = await finalized_packet(client)
            created = await share(client, packet["id"])
            token = created["access_token"]
            path = f"/api/packets/shared/{token}/view"
            assert created["share_url"] == f"https://evidence.example.org/desk{path}"
            assert (await client.get(path)).status_code == 200
