"""The custody log: every event of a packet's life, chained by hashes, served in order with its
head; GET /verify and GET /custody catch an entry changed, moved or removed behind the API."""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from .bundle_helpers import attach, export
from .conftest import add_item, make_packet
from .custody_helpers import canonical, check_chain_independently, sha256
from .frame_users import Users, person
from .test_import import forget, upload

API = "/api/packets"


async def custody(client: httpx.AsyncClient, packet_id: str, **params: Any) -> Any:
    response = await client.get(f"{API}/{packet_id}/custody", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def verify(client: httpx.AsyncClient, packet_id: str) -> Any:
    response = await client.get(f"{API}/{packet_id}/verify")
    assert response.status_code == 200, response.text
    return response.json()


async def a_sealed_history(client: httpx.AsyncClient, users: Users) -> tuple[str, str, str]:
    """A packet through most of its life, by two people and a share link: the packet's id,
    and the actor ids of alice (who makes every call that names no one) and bob."""
    alice, alice_id = person(users, "alice")
    bob, bob_id = person(users, "bob")
    client.headers.update(alice)
    packet = (await client.post(f"{API}/", json={"name": "Harbor"}, headers=alice)).json()
    pid = packet["id"]
    await client.put(f"{API}/{pid}", json={"description": "Shipping"}, headers=alice)
    memo = (
        await client.post(
            f"{API}/{pid}/contents",
            json={"content_type": "document", "content_id": "d1"},
            headers=bob,
        )
    ).json()
    spare = await add_item(client, pid, "d2")
    assert (await attach(client, pid, memo["id"], b"scan")).status_code == 200
    await client.post(f"{API}/{pid}/versions", json={"changes_summary": "first draft"})
    await client.delete(f"{API}/{pid}/contents/{spare['id']}", headers=bob)
    await client.post(f"{API}/{pid}/versions/2/restore")
    edit = (
        await client.post(
            f"{API}/{pid}/share", json={"shared_with": "bob@example.org", "permissions": "edit"}
        )
    ).json()
    added = await client.post(
        f"{API}/shared/{edit['access_token']}/contents",
        json={"content_type": "claim", "content_id": "c1"},
    )
    assert added.status_code == 201
    await client.delete(f"{API}/{pid}/shares/{edit['id']}")
    assert (await client.post(f"{API}/{pid}/finalize", headers=alice)).status_code == 200
    view = (await client.post(f"{API}/{pid}/share", json={"shared_with": "public"})).json()
    assert (await client.get(f"{API}/shared/{view['access_token']}")).status_code == 200
    await export(client, pid, "zip")
    await client.delete(f"{API}/{pid}", headers=alice)
    return pid, alice_id, bob_id


async def test_every_event_is_logged_in_order_by_whom(
    client: httpx.AsyncClient, users: Users
) -> None:
    pid, alice, bob = await a_sealed_history(client, users)
    log = await custody(client, pid)
    events = [(e["event"], e["actor"]) for e in log["entries"]]
    assert events == [
        ("created", alice),
        ("edited", alice),
        ("item_added", bob),
        ("item_added", alice),
        ("file_attached", alice),
        ("version_recorded", alice),
        ("item_removed", bob),
        ("version_restored", alice),
        ("shared", alice),
        ("item_added", events[9][1]),
        ("link_used", events[9][1]),
        ("link_revoked", alice),
        ("finalized", alice),
        ("shared", alice),
        ("link_used", events[14][1]),
        ("exported", alice),
        ("export_downloaded", alice),
        ("archived", alice),
    ]
    assert events[9][1].startswith("share:") and events[14][1].startswith("share:")
    entries = log["entries"]
    assert entries[1]["details"] == {"fields": ["description"]}
    assert entries[4]["details"]["sha256"] == sha256(b"scan")
    assert entries[7]["details"] == {"from_version": 2, "version": 3}
    assert entries[10]["details"]["action"] == "edit"
    assert entries[15]["details"]["format"] == "zip"
    assert entries[17]["details"] == {"previous_status": "shared"}
    assert all(entry["packet_id"] == pid for entry in entries)
    hashes = check_chain_independently(entries)
    assert log["head"] == hashes[-1]
    assert (log["length"], log["intact"], log["from_creation"], log["problems"]) == (
        18,
        True,
        True,
        [],
    )
    report = await verify(client, pid)
    assert report["valid"] is True, report["problems"]
    assert (report["custody_intact"], report["custody_head"]) == (True, log["head"])
    assert report["custody_length"] == 18
    sliced = await custody(client, pid, limit=3, offset=2)
    assert sliced["entries"] == entries[2:5]
    assert sliced["length"] == 18
    assert (await client.get(f"{API}/{pid}/custody", params={"limit": 0})).status_code == 422
    assert (await client.get(f"{API}/nope/custody")).status_code == 404


async def test_a_refused_change_logs_nothing(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    await client.post(f"{API}/{packet['id']}/finalize")
    before = await custody(client, packet["id"])
    refused = await client.post(
        f"{API}/{packet['id']}/contents", json={"content_type": "claim", "content_id": "x"}
    )
    assert refused.status_code == 409
    assert await custody(client, packet["id"]) == before


async def entry_text(engine: Any, pid: str, position: int) -> str:
    async with engine.connect() as conn:
        found: str = (
            await conn.execute(
                text(
                    "SELECT entry FROM arkham_packet_custody WHERE packet_id = :p AND position = :n"
                ),
                {"p": pid, "n": position},
            )
        ).scalar_one()
    return found


async def tamper(engine: Any, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        assert (await conn.execute(text(sql), params)).rowcount >= 1, sql


async def edit_entry(engine: Any, pid: str) -> str:
    forged = (await entry_text(engine, pid, 3)).replace('"item_added"', '"item_removed"')
    await tamper(
        engine,
        "UPDATE arkham_packet_custody SET entry = :e WHERE packet_id = :p AND position = 3",
        e=forged,
        p=pid,
    )
    return "custody entry 4 does not chain onto entry 3"


async def swap_entries(engine: Any, pid: str) -> str:
    second, third = await entry_text(engine, pid, 2), await entry_text(engine, pid, 3)
    for position, entry in ((2, third), (3, second)):
        await tamper(
            engine,
            "UPDATE arkham_packet_custody SET entry = :e WHERE packet_id = :p AND position = :n",
            e=entry,
            p=pid,
            n=position,
        )
    return "custody entry 2 is numbered 3"


async def remove_entry(engine: Any, pid: str) -> str:
    await tamper(
        engine, "DELETE FROM arkham_packet_custody WHERE packet_id = :p AND position = 2", p=pid
    )
    return "custody entry 2 is numbered 3"


async def cut_the_end(engine: Any, pid: str) -> str:
    """The last entries before the seal removed: only the signed head shows it."""
    await tamper(
        engine, "DELETE FROM arkham_packet_custody WHERE packet_id = :p AND position >= 4", p=pid
    )
    return "the seal covers custody entries 1 to 4, the log holds 3"


async def edit_statement(engine: Any, pid: str) -> str:
    await tamper(
        engine,
        "UPDATE arkham_packet_seals SET statement = REPLACE(statement, "
        '\'"finalized_by":"system"\', \'"finalized_by":"mallory"\') '
        "WHERE packet_id = :p",
        p=pid,
    )
    return "the seal's signature does not check"


async def replace_signature(engine: Any, pid: str) -> str:
    forged = "A" * 86 + "=="
    await tamper(
        engine,
        "UPDATE arkham_packet_seals SET signature = :s WHERE packet_id = :p",
        s=forged,
        p=pid,
    )
    return "the seal's signature does not check"


@pytest.mark.parametrize(
    "damage",
    [edit_entry, swap_entries, remove_entry, cut_the_end, edit_statement, replace_signature],
)
async def test_verify_catches_tampering_behind_the_api(
    client: httpx.AsyncClient, engine: Any, damage: Any
) -> None:
    packet = (await client.post(f"{API}/", json={"name": "Case"})).json()
    pid = packet["id"]
    await add_item(client, pid, "d1")
    await add_item(client, pid, "d2")
    await client.post(f"{API}/{pid}/finalize")
    await client.post(f"{API}/{pid}/share", json={"shared_with": "public"})
    assert (await verify(client, pid))["valid"] is True
    expected = await damage(engine, pid)
    report = await verify(client, pid)
    assert report["valid"] is False
    assert any(expected in problem for problem in report["problems"]), report["problems"]
    chain_damage = damage in (edit_entry, swap_entries, remove_entry)
    assert report["custody_intact"] is not chain_damage
    assert (await custody(client, pid))["intact"] is not chain_damage
    signature_damage = damage in (edit_statement, replace_signature)
    assert report["signature_valid"] is not signature_damage
    assert (report["signed_by"] is None) is signature_damage


async def test_an_import_is_logged_on_the_receiving_side(
    client: httpx.AsyncClient, app: Any
) -> None:
    packet = await make_packet(client)
    pid = packet["id"]
    await add_item(client, pid, "d1")
    await client.post(f"{API}/{pid}/finalize")
    _, archive = await export(client, pid, "tar.gz")
    carried = (await custody(client, pid))["entries"][:-2]  # before the export was recorded
    await forget(client, app, pid)
    response = await upload(client, archive, name="b.tar.gz")
    assert response.status_code == 201, response.text
    log = await custody(client, pid)
    assert log["entries"][:-1] == carried  # the sender's history, as it was sent
    imported = log["entries"][-1]
    assert imported["event"] == "imported"
    assert imported["details"]["bundle_custody_head"] == sha256(canonical(carried[-1]))
    assert imported["details"]["signed_by"] == (await verify(client, pid))["signed_by"]
    assert imported["details"]["trusted"] is True  # this installation's own key
    assert imported["details"]["unverified"] is False
    assert imported["details"]["source"] == "upload:b.tar.gz"
    assert log["intact"] and log["from_creation"]
    assert (await verify(client, pid))["valid"] is True


async def test_a_draft_replaced_by_a_sealed_bundle_keeps_its_own_log(
    client: httpx.AsyncClient, app: Any
) -> None:
    """The sealed packet's history replaces the draft's as its log; the draft's log stays,
    superseded, and the import entry names its head."""
    packet = await make_packet(client)
    pid = packet["id"]
    await add_item(client, pid, "d1")
    _, draft_bundle = await export(client, pid, "zip")
    await client.post(f"{API}/{pid}/finalize")
    _, sealed_bundle = await export(client, pid, "zip")
    await forget(client, app, pid)
    assert (await upload(client, draft_bundle)).status_code == 201
    await add_item(client, pid, "d2")
    local = await custody(client, pid)
    replaced = await upload(client, sealed_bundle, "replace")
    assert replaced.status_code == 201, replaced.text
    assert replaced.json()["verified"] is True
    log = await custody(client, pid)
    assert log["entries"][-1]["details"]["superseded"] == {
        "chain": 1,
        "head": local["head"],
        "entries": local["length"],
    }
    assert log["superseded"] == [
        {"chain": 1, "head": local["head"], "entries": local["length"], "intact": True}
    ]
    report = await verify(client, pid)
    assert report["valid"] is True, report["problems"]


async def test_packets_older_than_the_log_say_where_it_starts(
    tmp_path: Path, empty_database_url: str
) -> None:
    database_url = empty_database_url
    from arkham_shard_packets.db.engine import create_engine
    from arkham_shard_packets.db.migrate import upgrade
    from arkham_shard_packets.host.app import HostConfig, create_app

    from .conftest import POSTGRES_URL, reset_postgres

    if POSTGRES_URL:
        await reset_postgres(database_url)
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0008")  # the revision before the custody log
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO arkham_packets (id, name, created_at, updated_at)"
                    " VALUES ('p-old', 'Old', '2026-01-01T00:00:00.000000+00:00',"
                    " '2026-01-01T00:00:00.000000+00:00')"
                )
            )
    finally:
        await engine.dispose()
    app = create_app(HostConfig(data_dir=tmp_path / "d", database_url=database_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        await http.put(f"{API}/p-old", json={"name": "Renamed"})
        log = await custody(http, "p-old")
    assert [e["event"] for e in log["entries"]] == ["log_started", "edited"]
    assert log["entries"][0]["details"]["status"] == "draft"
    assert log["intact"] is True and log["from_creation"] is False
    check_chain_independently(log["entries"])


async def test_the_viewer_page_says_who_sealed_and_whether_it_checks(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await make_packet(client)
    await add_item(client, packet["id"], "d1")
    draft_link = (
        await client.post(f"{API}/{packet['id']}/share", json={"shared_with": "public"})
    ).json()
    page = (await client.get(f"{API}/shared/{draft_link['access_token']}/view")).text
    assert "not sealed (a draft has no seal)" in page
    await client.post(f"{API}/{packet['id']}/finalize")
    signer = (await verify(client, packet["id"]))["signed_by"]
    page = (await client.get(f"{API}/shared/{draft_link['access_token']}/view")).text
    assert f"key <code>{signer}</code> (this installation trusts it)" in page
    assert '<strong class="holds">checks</strong>' in page
    await replace_signature(engine, packet["id"])
    page = (await client.get(f"{API}/shared/{draft_link['access_token']}/view")).text
    assert "does not check" in page
    assert "the seal's signature does not check" in html.unescape(page)


async def test_allow_unverified_is_a_yes_or_no(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    _, archive = await export(client, packet["id"], "zip")
    response = await client.post(
        f"{API}/import",
        files={"file": ("b.zip", io.BytesIO(archive))},
        data={"merge_mode": "replace", "allow_unverified": "maybe"},
    )
    assert response.status_code == 422
    assert "allow_unverified must be true or false" in response.json()["detail"]
