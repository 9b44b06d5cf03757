"""A link used without end grows its packet's custody log by at most one entry an hour, whose
counts add up to the access log's; every export of the packet stays importable, and the link
refuses uses past its limit a minute, in every process (issue 25, item 6)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.core.clock import to_text
from arkham_shard_packets.db.scope import Scope
from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.models import ShareAction
from arkham_shard_packets.sharing.uses import Use, write_uses

from .bundle_helpers import export
from .conftest import settle
from .custody_helpers import write
from .share_helpers import access_actions, finalized_packet, share, share_row
from .test_custody_bundles import cli
from .test_import import forget, upload

API = "/api/packets"
FLOOD = 60_000  # link reads the review sent: a 19 MB log before, past the import's 16 MiB
HOURS = 40
ADDRESS = "203.0.113.9"


async def link_entries(client: httpx.AsyncClient, packet_id: str) -> list[Any]:
    log = (await client.get(f"{API}/{packet_id}/custody", params={"limit": 10_000})).json()
    return [entry for entry in log["entries"] if entry["event"] == "link_used"]


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def test_a_link_used_again_and_again_within_an_hour_enters_custody_once(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await finalized_packet(client)
    pid = packet["id"]
    link = await share(client, pid)
    url = f"{API}/shared/{link['access_token']}"
    other = await share(client, pid, permissions="comment")
    for _ in range(40):
        assert (await client.get(url)).status_code == 200
    for _ in range(5):
        assert (await client.get(f"{url}/view")).status_code == 200
    for _ in range(2):
        assert (await client.get(f"{url}/bundle")).status_code == 200
    comment = {"author": "Rita", "body": "seen"}
    other_url = f"{API}/shared/{other['access_token']}"
    assert (await client.post(f"{other_url}/comments", json=comment)).status_code == 201
    assert (await client.get(other_url)).status_code == 200
    await settle(client)

    assert len(await access_actions(engine, link["id"])) == 47
    assert (await share_row(engine, link["id"]))["access_count"] == 47
    entries = await link_entries(client, pid)
    assert len(entries) <= 4  # two links, each at most twice if the test spans an hour's end
    # one entry for each link: its first use, opening the hour (unless it began just before)
    firsts: dict[str, Any] = {}
    for entry in entries:
        firsts.setdefault(entry["details"]["share_id"], entry["details"])
    assert entries[0]["details"]["share_id"] == link["id"]
    assert firsts[link["id"]]["action"] == "read" and "previous" not in firsts[link["id"]]
    assert firsts[other["id"]]["action"] == "comment" and "previous" not in firsts[other["id"]]


async def test_each_entry_counts_its_links_previous_hour_from_the_access_log(
    client: httpx.AsyncClient, app: FastAPI, engine: Any
) -> None:
    packet = await finalized_packet(client)
    pid = packet["id"]
    link = await share(client, pid)
    services = app.state.packets_shard.services
    (shared,) = await services.shares.of_packet(Scope(), pid)
    scope = Scope(actor=f"share:{shared.id}")
    start = hour_of(datetime.now(timezone.utc)) - timedelta(hours=10)
    kinds = (ShareAction.READ, ShareAction.VIEW, ShareAction.READ, ShareAction.DOWNLOAD)
    # hours 0, 1, 2 and 7 before the latest ones, each use a minute apart; 3 to 6 see none
    planned = {0: 5, 1: 60, 2: 7, 7: 12}
    uses = [
        Use(shared, scope, kinds[n % 4], ADDRESS, to_text(start + timedelta(hours=h, minutes=n)))
        for h, count in planned.items()
        for n in range(count)
    ]
    await write_uses(services.share_uses.tx, uses[:30])  # in two passes, as a writer would
    await write_uses(services.share_uses.tx, uses[30:])
    assert (await client.get(f"{API}/shared/{link['access_token']}")).status_code == 200
    await settle(client)

    entries = [e["details"] for e in await link_entries(client, pid)]
    hours = [start + timedelta(hours=h) for h in planned]
    assert [datetime.fromisoformat(e["hour"]) for e in entries[:-1]] == hours
    assert datetime.fromisoformat(entries[-1]["hour"]) >= start + timedelta(hours=10)  # now's
    assert "previous" not in entries[0]
    for entry, hour, count in zip(entries[1:], hours, planned.values(), strict=True):
        assert datetime.fromisoformat(entry["previous"]["hour"]) == hour
        expected: dict[str, int] = {}
        for n in range(count):
            expected[kinds[n % 4].value] = expected.get(kinds[n % 4].value, 0) + 1
        assert entry["previous"]["uses"] == expected
    counted = sum(sum(e["previous"]["uses"].values()) for e in entries[1:])
    assert counted + 1 == len(uses) + 1 == (await share_row(engine, shared.id))["access_count"]


@pytest.mark.parametrize("fmt", ["zip", "json"])
async def test_every_export_of_a_heavily_used_link_s_packet_imports_and_verifies(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, fmt: str
) -> None:
    packet = await finalized_packet(client)
    pid = packet["id"]
    link = await share(client, pid)
    services = app.state.packets_shard.services
    (shared,) = await services.shares.of_packet(Scope(), pid)
    scope = Scope(actor=f"share:{shared.id}")
    start = hour_of(datetime.now(timezone.utc)) - timedelta(hours=HOURS)
    step = timedelta(hours=HOURS) / FLOOD
    uses = [
        Use(shared, scope, ShareAction.READ, ADDRESS, to_text(start + n * step))
        for n in range(FLOOD)
    ]
    for first in range(0, FLOOD, 10_000):  # the writer's passes
        await write_uses(services.share_uses.tx, uses[first : first + 10_000])
    assert (await client.get(f"{API}/shared/{link['access_token']}")).status_code == 200
    await settle(client)

    assert (await client.get(f"{API}/{pid}/verify")).json()["valid"] is True
    _, archive = await export(client, pid, fmt)
    bundle = write(tmp_path / f"flooded.{fmt}", archive)
    key = (await client.get(f"{API}/keys")).json()["keys"][0]["fingerprint"]
    checked = await cli("verify", str(bundle), "--trust", key)
    assert checked.returncode == 0, checked.stdout
    await forget(client, app, pid)
    imported = await upload(client, archive, name=f"flooded.{fmt}")
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["verified"] and body["custody_intact"] and body["trusted"], body
    log = (await client.get(f"{API}/{pid}/custody")).json()
    assert log["intact"] and log["length"] < 60  # one link_used entry an hour
    assert (await client.get(f"{API}/{pid}/verify")).json()["valid"] is True


async def test_a_link_refuses_uses_past_its_limit_a_minute_in_every_process(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, engine: Any
) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_SHARE_LINK_USES_PER_MINUTE", "6")
    first = create_app(HostConfig(data_dir=tmp_path / "one", database_url=database_url))
    second = create_app(HostConfig(data_dir=tmp_path / "two", database_url=database_url))
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        one = httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://one")
        two = httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://two")
        async with one, two:
            packet = await finalized_packet(one)
            link = await share(one, packet["id"], permissions="comment")
            spare = await share(one, packet["id"])
            url = f"{API}/shared/{link['access_token']}"
            for _ in range(3):
                assert (await one.get(url)).status_code == 200
            assert (await one.get(f"{url}/view")).status_code == 200
            assert (
                await one.post(f"{url}/comments", json={"author": "a", "b": 1})
            ).status_code == 422
            assert (
                await one.post(f"{url}/comments", json={"author": "a", "body": "b"})
            ).status_code == 201
            await settle(one)
            assert (await two.get(url)).status_code == 200  # the sixth, in another process
            await settle(two)
            for refused in (
                await one.get(url),
                await two.get(f"{url}/view"),
                await two.get(f"{url}/bundle"),
                await one.post(f"{url}/comments", json={"author": "a", "body": "c"}),
            ):
                assert refused.status_code == 429, refused.text
                wait = int(refused.headers["Retry-After"])
                assert 1 <= wait <= 60
                if "json" in refused.headers["content-type"]:
                    assert refused.json()["detail"] == (
                        "this share link was used 6 times within a minute, as often as a link "
                        f"may be; try again in {wait} seconds"
                    )
                else:
                    assert "opened too often within a minute" in refused.text
            assert (await one.get(f"{API}/shared/{spare['access_token']}")).status_code == 200
            await settle(one)
    # the refused uses were never logged, nor counted
    assert len(await access_actions(engine, link["id"])) == 6
    assert (await share_row(engine, link["id"]))["access_count"] == 6


async def test_uses_just_written_are_counted_once_while_the_writer_finishes(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window a loaded machine opened: the writer's batch committed, the process still
    holding it as unwritten. The uses in it count once, not twice."""
    from arkham_shard_packets.sharing import uses as use_log

    monkeypatch.setenv("ARKHAM_PACKETS_SHARE_LINK_USES_PER_MINUTE", "6")
    committed, finish = asyncio.Event(), asyncio.Event()

    async def write_then_hold(tx: Any, batch: Any) -> None:
        await write_uses(tx, batch)
        committed.set()
        await finish.wait()

    app = create_app(HostConfig(data_dir=tmp_path, database_url=database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://one") as client:
            packet = await finalized_packet(client)
            link = await share(client, packet["id"])
            url = f"{API}/shared/{link['access_token']}"
            monkeypatch.setattr(use_log, "write_uses", write_then_hold)
            try:
                for _ in range(4):
                    assert (await client.get(url)).status_code == 200
                await asyncio.wait_for(committed.wait(), 10)
                answers = [(await client.get(url)).status_code for _ in range(3)]
            finally:
                finish.set()
            assert answers == [200, 200, 429]  # the fifth and sixth, then one too many
            await settle(client)
