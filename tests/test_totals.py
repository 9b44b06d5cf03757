"""The badge count, list totals and statistics come from tallies kept by triggers: they must
match the tables themselves after any mix of changes, through the API or not."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, text, update

from arkham_shard_packets.db.engine import create_schema
from arkham_shard_packets.db.tables import packet_contents, packet_tallies, packets
from arkham_shard_packets.services import totals

from .conftest import TENANT_HEADER, add_item, make_packet

TENANT = {TENANT_HEADER: "7c0f3a0e-0000-4000-8000-0000000000aa"}


async def truth(engine: Any, tenant: str | None = None) -> dict[str, Any]:
    """What the statistics should say, counted straight from the packets and items."""
    owned_packets = (
        packets.c.tenant_id.is_(None) if tenant is None else packets.c.tenant_id == tenant
    )
    owned_items = (
        packet_contents.c.tenant_id.is_(None)
        if tenant is None
        else packet_contents.c.tenant_id == tenant
    )
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
        return {
            "total_packets": total,
            "by_status": by_status,
            "by_visibility": await grouped(packets.c.visibility, owned_packets),
            "by_content_type": await grouped(packet_contents.c.content_type, owned_items),
            "avg_contents_per_packet": round(sums[0] / total, 3) if total else 0.0,
            "avg_size_bytes": round(sums[1] / total, 3) if total else 0.0,
        }


async def assert_totals_match(
    client: httpx.AsyncClient, engine: Any, headers: dict[str, str] | None = None
) -> None:
    expected = await truth(engine, (headers or {}).get(TENANT_HEADER))
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
    for entry in first_items["items"][:2]:
        await client.delete(f"/api/packets/{made[5]}/contents/{entry['id']}", headers=headers)
    await client.put(f"/api/packets/{made[0]}", json={"visibility": "public"}, headers=headers)
    await client.put(f"/api/packets/{made[1]}", json={"name": "renamed"}, headers=headers)
    await client.post(f"/api/packets/{made[2]}/finalize", headers=headers)
    await client.post(f"/api/packets/{made[3]}/finalize", headers=headers)
    await client.delete(f"/api/packets/{made[3]}", headers=headers)
    await client.post(f"/api/packets/{made[4]}/archive", headers=headers)


async def test_totals_follow_every_kind_of_change(client: httpx.AsyncClient, engine: Any) -> None:
    await assert_totals_match(client, engine)
    await churn(client)
    await churn(client, TENANT)
    await assert_totals_match(client, engine)
    await assert_totals_match(client, engine, TENANT)


async def test_folding_keeps_the_sums(
    client: httpx.AsyncClient, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(totals, "FOLD_AFTER", 4)
    await churn(client)
    await churn(client, TENANT)
    before = await tally_rows(engine)
    await assert_totals_match(client, engine)
    after = await tally_rows(engine)
    assert after < before
    await assert_totals_match(client, engine)
    await assert_totals_match(client, engine, TENANT)
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
        await conn.execute(delete(packets).where(packets.c.id == gone["id"]))
        await conn.execute(
            update(packets).where(packets.c.id == kept["id"]).values(status="shared")
        )
    await assert_totals_match(client, engine)
    stats = (await client.get("/api/packets/stats/overview")).json()
    assert stats["by_status"] == {"shared": 1}
    assert stats["by_content_type"] == {"matrix": 1}


async def test_tallies_are_rebuilt_when_missing(client: httpx.AsyncClient, engine: Any) -> None:
    """A database from before the tallies gets them, summed from the rows already there."""
    await churn(client)
    await churn(client, TENANT)
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE {packet_tallies.name}"))
    await create_schema(engine)
    await assert_totals_match(client, engine)
    await assert_totals_match(client, engine, TENANT)
    await churn(client)
    await assert_totals_match(client, engine)
