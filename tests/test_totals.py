"""The badge count, list totals and statistics come from tallies kept by triggers: they must
match the tables themselves after any mix of changes, through the API or not."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import and_, delete, func, inspect, or_, select, update

from arkham_shard_packets.core.clock import now_text
from arkham_shard_packets.db.migrate import downgrade, upgrade
from arkham_shard_packets.db.tables import (
    packet_contents,
    packet_shares,
    packet_tallies,
    packet_versions,
    packets,
)
from arkham_shard_packets.packets import totals

from .conftest import add_item, make_packet
from .frame_users import Users
from .share_helpers import in_seconds

TENANT_ID = "7c0f3a0e-0000-4000-8000-0000000000aa"


@pytest.fixture
def tenant(users: Users) -> dict[str, str]:
    """Headers of a Frame user of tenant TENANT_ID."""
    return users.headers(TENANT_ID)


async def truth(engine: Any, tenant: str | None = None) -> dict[str, Any]:
    """What the statistics should say, counted straight from the packets and items: a
    tenant's user counts the tenantless ones beside its own (require_user is off)."""

    def owned(table: Any) -> Any:
        column = table.c.tenant_id
        return column.is_(None) if tenant is None else or_(column == tenant, column.is_(None))

    owned_packets, owned_items = owned(packets), owned(packet_contents)
    async with engine.connect() as conn:

        async def grouped(column: Any, where: Any) -> dict[str, int]:
            rows = await conn.execute(select(column, func.count()).where(where).group_by(column))
            return {key: n for key, n in rows.all()}

        by_status = await grouped(packets.c.status, owned_packets)
        sums = (
            await conn.execute(
                select(
                    func.coalesce(func.sum(packets.c.contents_count), 0),
                    func.coalesce(func.sum(packets.c.size_bytes), 0),
                ).where(owned_packets)
            )
        ).one()
        total = sum(by_status.values())
        versions = await conn.scalar(
            select(func.count()).select_from(packet_versions).where(owned(packet_versions))
        )
        live = and_(owned(packet_shares), packet_shares.c.revoked_at.is_(None))
        shares = await conn.scalar(select(func.count()).select_from(packet_shares).where(live))
        expires = packet_shares.c.expires_at
        active = await conn.scalar(
            select(func.count())
            .select_from(packet_shares)
            .where(live, or_(expires.is_(None), expires > now_text()))
        )
        return {
            "total_packets": total,
            "by_status": by_status,
            "by_visibility": await grouped(packets.c.visibility, owned_packets),
            "by_content_type": await grouped(packet_contents.c.content_type, owned_items),
            "avg_contents_per_packet": round(int(sums[0]) / total, 3) if total else 0.0,
            "avg_size_bytes": round(int(sums[1]) / total, 3) if total else 0.0,
            "total_versions": versions,
            "total_shares": shares,
            "active_shares": active,
            "expired_shares": shares - active,
        }


async def assert_totals_match(
    client: httpx.AsyncClient, engine: Any, headers: dict[str, str] | None = None
) -> None:
    expected = await truth(engine, None if headers is None else TENANT_ID)
    stats = (await client.get("/api/packets/stats/overview", headers=headers)).json()
    for key, value in expected.items():
        assert stats[key] == value, key
    assert stats["total_contents"] == sum(expected["by_content_type"].values())
    count = (await client.get("/api/packets/count", headers=headers)).json()["count"]
    assert count == expected["total_packets"]
    for status, n in expected["by_status"].items():
        badge = await client.get("/api/packets/count", params={"status": status}, headers=headers)
        assert badge.json()["count"] == n
        listed = await client.get("/api/packets/", params={"status": status}, headers=headers)
        assert listed.json()["total"] == n
    for visibility, n in expected["by_visibility"].items():
        listed = await client.get(
            "/api/packets/", params={"visibility": visibility}, headers=headers
        )
        assert listed.json()["total"] == n


async def tally_rows(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(packet_tallies))).scalar())


async def churn(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
    """Creates, edits, fills, empties, finalizes and archives a handful of packets."""
    made = []
    for i in range(6):
        response = await client.post(
            "/api/packets/",
            json={"name": f"p{i}", "visibility": ["private", "team", "public"][i % 3]},
            headers=headers,
        )
        made.append(response.json()["id"])
    for i, packet_id in enumerate(made):
        for j in range(i):
            response = await client.post(
                f"/api/packets/{packet_id}/contents",
                json={
                    "content_type": ["document", "entity", "claim"][j % 3],
                    "content_id": f"c{j}",
                    "data": {"n": j} if j % 2 else None,
                },
                headers=headers,
            )
            assert response.status_code == 201
    first_items = (await client.get(f"/api/packets/{made[5]}/contents", headers=headers)).json()
    for entry in first_items[:2]:
        await client.delete(f"/api/packets/{made[5]}/contents/{entry['id']}", headers=headers)
    await client.put(f"/api/packets/{made[0]}", json={"visibility": "public"}, headers=headers)
    await client.put(f"/api/packets/{made[1]}", json={"name": "renamed"}, headers=headers)
    await client.post(f"/api/packets/{made[2]}/finalize", headers=headers)
    await client.post(f"/api/packets/{made[3]}/finalize", headers=headers)
    shares = []
    for body in ({}, {"expires_at": in_seconds(3600)}, {"expires_at": in_seconds(7200)}):
        response = await client.post(
            f"/api/packets/{made[2]}/share",
            json={"shared_with": "x@example.org", **body},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        shares.append(response.json()["id"])
    await client.delete(f"/api/packets/{made[2]}/shares/{shares[2]}", headers=headers)
    await client.delete(f"/api/packets/{made[3]}", headers=headers)
    await client.post(f"/api/packets/{made[4]}/archive", headers=headers)


async def test_totals_follow_every_kind_of_change(
    client: httpx.AsyncClient, engine: Any, tenant: dict[str, str]
) -> None:
    await assert_totals_match(client, engine)
    await churn(client)
    await churn(client, tenant)
    await assert_totals_match(client, engine)
    await assert_totals_match(client, engine, tenant)


async def test_folding_keeps_the_sums(
    client: httpx.AsyncClient, engine: Any, monkeypatch: pytest.MonkeyPatch, tenant: dict[str, str]
) -> None:
    monkeypatch.setattr(totals, "FOLD_AFTER", 4)
    await churn(client)
    await churn(client, tenant)
    before = await tally_rows(engine)
    await assert_totals_match(client, engine)
    after = await tally_rows(engine)
    assert after < before
    await assert_totals_match(client, engine)
    await assert_totals_match(client, engine, tenant)
    await churn(client)
    await assert_totals_match(client, engine)
    assert await tally_rows(engine) <= after + 30


async def test_writes_outside_the_api_are_counted(client: httpx.AsyncClient, engine: Any) -> None:
    kept = await make_packet(client, "kept")
    gone = await make_packet(client, "gone")
    await add_item(client, gone["id"], "d1")
    await add_item(client, kept["id"], "m1", "matrix")
    async with engine.begin() as conn:
        await conn.execute(delete(packet_contents).where(packet_contents.c.packet_id == gone["id"]))
        await conn.execute(delete(packet_versions).where(packet_versions.c.packet_id == gone["id"]))
        await conn.execute(delete(packets).where(packets.c.id == gone["id"]))
        await conn.execute(
            update(packets).where(packets.c.id == kept["id"]).values(status="shared")
        )
        await conn.execute(
            update(packet_shares).values(expires_at="2020-01-01T00:00:00.000000+00:00")
        )
    await assert_totals_match(client, engine)
    stats = (await client.get("/api/packets/stats/overview")).json()
    assert stats["by_status"] == {"shared": 1}
    assert stats["by_content_type"] == {"matrix": 1}


async def test_shares_that_expire_leave_the_active_count(
    client: httpx.AsyncClient, engine: Any
) -> None:
    await churn(client)
    before = (await client.get("/api/packets/stats/overview")).json()
    assert (before["total_shares"], before["active_shares"]) == (2, 2)
    async with engine.begin() as conn:
        await conn.execute(
            update(packet_shares)
            .where(packet_shares.c.expires_at.is_not(None))
            .values(expires_at="2020-01-01T00:00:00.000000+00:00")
        )
    await assert_totals_match(client, engine)
    after = (await client.get("/api/packets/stats/overview")).json()
    assert (after["active_shares"], after["expired_shares"]) == (1, 1)


async def test_the_migration_sums_what_is_already_there(
    client: httpx.AsyncClient, engine: Any, tenant: dict[str, str]
) -> None:
    """A database from before the tallies gets them summed from its rows: taken down to the
    revision before them, and back up."""
    await churn(client)
    await churn(client, tenant)
    await downgrade(engine, "0005")
    async with engine.connect() as conn:
        assert not await conn.run_sync(lambda sync: inspect(sync).has_table(packet_tallies.name))
    await upgrade(engine)
    await assert_totals_match(client, engine)
    await assert_totals_match(client, engine, tenant)
    await churn(client)
    await assert_totals_match(client, engine)
