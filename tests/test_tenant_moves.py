"""An admin moves a packet of no tenant into a tenant: the packet and every row of it change
tenant at once, the move is in its custody log and the tenant's feed, and from then on the
packet is that tenant's alone (require_user off here; tests/test_tenant_walk.py has it on)."""

from __future__ import annotations

from typing import Any

import httpx

from arkham_shard_packets.api import PREFIX as API

from .conftest import add_item, make_packet, packet_events
from .frame_users import Users
from .test_tenant_walk import packet_tenants, tenant_rows

TENANT_A = "7c0f3a0e-0000-4000-8000-0000000000d1"
TENANT_B = "7c0f3a0e-0000-4000-8000-0000000000d2"


async def tenantless_packet(client: httpx.AsyncClient, name: str) -> str:
    """A packet as the Shell's page makes one (no token): items, a file, a version, a share."""
    packet: str = (await make_packet(client, name))["id"]
    entry = (await add_item(client, packet, "doc-1"))["id"]
    await add_item(client, packet, "ent-1", "entity")
    attached = await client.put(
        f"{API}/{packet}/contents/{entry}/file", files={"file": ("a.txt", b"evidence")}
    )
    assert attached.status_code == 200, attached.text
    assert (await client.post(f"{API}/{packet}/versions", json={})).status_code == 201
    shared = await client.post(f"{API}/{packet}/share", json={"shared_with": "public"})
    assert shared.status_code == 201
    return packet


async def count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    answer = await client.get(f"{API}/count", headers=headers)
    return int(answer.json()["count"])


async def test_an_admin_moves_a_tenantless_packet_and_all_its_rows(
    client: httpx.AsyncClient, users: Users, engine: Any
) -> None:
    admin = users.headers(TENANT_A, role="admin")
    admin_id = str(users.user(TENANT_A, role="admin").id)
    analyst_a, analyst_b = users.headers(TENANT_A), users.headers(TENANT_B)
    packet = await tenantless_packet(client, "From the Shell")
    other = await tenantless_packet(client, "Also from the Shell")
    assert await count(client, {}) == await count(client, analyst_b) == 2
    stats_b = (await client.get(f"{API}/stats/overview", headers=analyst_b)).json()
    assert (stats_b["total_contents"], stats_b["total_shares"]) == (4, 2)

    moved = await client.post(f"{API}/{packet}/tenant", headers=admin)
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["tenant_id"], body["moved_by"], body["packet"]["id"]) == (
        TENANT_A,
        admin_id,
        packet,
    )
    rows = await packet_tenants(engine, {packet})
    assert rows.pop("arkham_packet_outbox") == {None, TENANT_A}
    assert set(rows) >= {
        "arkham_packets",
        "arkham_packet_contents",
        "arkham_packet_versions",
        "arkham_packet_shares",
        "arkham_packet_custody",
    }
    assert all(found == {TENANT_A} for found in rows.values()), rows

    # Now the tenant's alone: anonymous callers and other tenants lost it, counts follow.
    assert (await client.get(f"{API}/{packet}")).status_code == 404
    assert (await client.get(f"{API}/{packet}", headers=analyst_b)).status_code == 404
    assert (await client.get(f"{API}/{packet}", headers=analyst_a)).status_code == 200
    assert await count(client, {}) == await count(client, analyst_b) == 1
    assert await count(client, analyst_a) == 2
    stats_b = (await client.get(f"{API}/stats/overview", headers=analyst_b)).json()
    assert (stats_b["total_contents"], stats_b["total_shares"]) == (2, 1)
    stats_a = (await client.get(f"{API}/stats/overview", headers=analyst_a)).json()
    assert (stats_a["total_contents"], stats_a["total_versions"]) == (4, 4)

    log = (await client.get(f"{API}/{packet}/custody", headers=analyst_a)).json()
    assert log["intact"] is True
    assert log["entries"][-1] | {"at": None, "prev": None} == {
        "seq": log["length"],
        "prev": None,
        "packet_id": packet,
        "at": None,
        "actor": admin_id,
        "event": "moved_to_tenant",
        "details": {"tenant_id": TENANT_A},
    }
    feed = (await client.get(f"{API}/events", headers=analyst_a)).json()["events"]
    assert feed[-1]["payload"] == {
        "packet_id": packet,
        "changes": ["tenant"],
        "tenant_id": TENANT_A,
    }
    anonymous_feed = (await client.get(f"{API}/events")).json()["events"]
    assert all(e["payload"].get("changes") != ["tenant"] for e in anonymous_feed)
    (on_bus, *_) = await packet_events(client, "packets.packet.updated", headers=analyst_a)
    assert on_bus["payload"]["tenant_id"] == TENANT_A

    # It goes on as the tenant's: what is added there belongs to the tenant.
    before = await tenant_rows(engine, None)
    await client.post(
        f"{API}/{packet}/contents",
        json={"content_type": "claim", "content_id": "later"},
        headers=analyst_a,
    )
    assert await tenant_rows(engine, None) == before
    assert (await client.get(f"{API}/{packet}/custody", headers=analyst_a)).json()["intact"]

    # Into a tenant named in the body, in any spelling of its UUID.
    into_b = await client.post(
        f"{API}/{other}/tenant", json={"tenant_id": TENANT_B.upper()}, headers=admin
    )
    assert into_b.status_code == 200 and into_b.json()["tenant_id"] == TENANT_B
    assert (await client.get(f"{API}/{other}", headers=analyst_b)).status_code == 200
    assert await count(client, {}) == 0


async def test_only_an_admin_moves_only_a_tenantless_packet(
    client: httpx.AsyncClient, users: Users, engine: Any
) -> None:
    admin = users.headers(TENANT_A, role="admin")
    packet = (await make_packet(client, "Shell"))["id"]
    before = await tenant_rows(engine, None)
    for headers, status, detail in [
        ({}, 401, "only a signed-in Frame admin may do this"),
        (users.headers(TENANT_A), 403, "only an admin may do this"),
        (users.headers(TENANT_A, role="viewer"), 403, "only an admin may do this"),
        ({"Authorization": "Bearer not-a-token"}, 401, "the bearer token is invalid"),
    ]:
        refused = await client.post(f"{API}/{packet}/tenant", headers=headers)
        assert refused.status_code == status, refused.text
        assert detail in refused.json()["detail"]
    for body in ({"tenant_id": "not-a-uuid"}, {"tenant": TENANT_A}):
        invalid = await client.post(f"{API}/{packet}/tenant", json=body, headers=admin)
        assert invalid.status_code == 422, invalid.text
    assert await tenant_rows(engine, None) == before

    unknown = await client.post(f"{API}/no-such-packet/tenant", headers=admin)
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "packet no-such-packet not found"}
    own = (await client.post(f"{API}/", json={"name": "A's"}, headers=admin)).json()["id"]
    foreign = (
        await client.post(f"{API}/", json={"name": "B's"}, headers=users.headers(TENANT_B))
    ).json()["id"]
    assert (await client.post(f"{API}/{packet}/tenant", headers=admin)).status_code == 200
    for taken in (packet, own, foreign):
        conflict = await client.post(f"{API}/{taken}/tenant", headers=admin)
        assert conflict.status_code == 409, conflict.text
        assert "belongs to a tenant already" in conflict.json()["detail"]
