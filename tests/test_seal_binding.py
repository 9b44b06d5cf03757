"""A signed seal is bound to its packet's id (issue 25, item 3): a bundle that names another
packet than its seal, or whose custody log switches to another id after the seal, is refused
by import and by `arkham-packets verify`, however carefully every hash and manifest was
recomputed; a packet legitimately imported under a new id still exports and verifies, under
the id its seal names."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from .bundle_helpers import database_rows, export
from .custody_helpers import (
    Files,
    bag_files,
    canonical,
    custody_of,
    rewrite,
    seal_of,
    sha256,
    write,
)
from .frame_users import Users
from .test_custody_bundles import cli, sealed_and_shared
from .test_import import forget, upload

API = "/api/packets"
NEW_ID = "6f1d9c1e-0000-4000-8000-00000000f04d"


def switched_log(lines: list[bytes], new_id: str) -> list[bytes]:
    """The log with an `imported` entry appended that switches it to `new_id`, chained on."""
    last = json.loads(lines[-1])
    entry = {
        "seq": last["seq"] + 1,
        "prev": sha256(canonical(last)),
        "packet_id": new_id,
        "at": "2031-01-01T00:00:00.000000+00:00",
        "actor": "mallory",
        "event": "imported",
        "details": {"bundle_packet_id": last["packet_id"], "source": "upload:x.zip"},
    }
    return [*lines, canonical(entry) + b"\n"]


def re_id(new_id: str) -> Callable[[Files], None]:
    """What the issue did: packet.id and bag-info changed, an `imported` entry switching the
    log to the new id appended, every manifest recomputed (by `rewrite`)."""

    def change(files: Files) -> None:
        document = json.loads(files["data/packet.json"])
        old_id = document["packet"]["id"]
        document["packet"]["id"] = new_id
        files["data/packet.json"] = (
            json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        ).encode()
        files["bag-info.txt"] = files["bag-info.txt"].replace(old_id.encode(), new_id.encode())
        lines = files["custody.jsonl"].splitlines(keepends=True)
        files["custody.jsonl"] = b"".join(switched_log(lines, new_id))

    return change


def re_id_json(archive: bytes, new_id: str) -> bytes:
    document = json.loads(archive)
    document["packet"]["id"] = new_id
    lines = [canonical(entry) + b"\n" for entry in document["custody"]]
    document["custody"] = [json.loads(line) for line in switched_log(lines, new_id)]
    return json.dumps(document).encode()


def packet_of(archive: bytes, fmt: str) -> Any:
    if fmt == "json":
        return json.loads(archive)["packet"]
    return json.loads(bag_files(archive, fmt)[1]["data/packet.json"])["packet"]


def forged(archive: bytes, fmt: str, new_id: str) -> bytes:
    return re_id_json(archive, new_id) if fmt == "json" else rewrite(archive, fmt, re_id(new_id))


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
async def test_a_seal_moved_to_another_packet_id_is_refused(
    client: httpx.AsyncClient, app: FastAPI, engine: Any, tmp_path: Path, fmt: str
) -> None:
    pid = await sealed_and_shared(client)
    _, archive = await export(client, pid, fmt)
    bad = forged(archive, fmt, NEW_ID)
    await forget(client, app, pid)
    before = await database_rows(engine)
    response = await upload(client, bad, name=f"b.{fmt}")
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert f"the seal is about packet {pid}, not packet {NEW_ID}" in detail, detail
    assert await database_rows(engine) == before

    checked = await cli("verify", str(write(tmp_path / f"b.{fmt}", bad)))
    assert checked.returncode == 1, checked.stdout
    assert "proven: the packet's history" not in checked.stdout
    assert f"problem: the seal is about packet {pid}, not packet {NEW_ID}" in (checked.stdout)
    assert ": INVALID (" in checked.stdout.splitlines()[-1]

    accepted = await client.post(
        f"{API}/import",
        files={"file": (f"b.{fmt}", bad)},
        data={"allow_unverified": "true"},
    )
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert (body["packet_id"], body["unverified"], body["trusted"]) == (NEW_ID, True, True)
    report = (await client.get(f"{API}/{NEW_ID}/verify")).json()
    assert report["valid"] is False
    assert any("records an import accepted unverified" in p for p in report["problems"])


async def test_a_seal_is_about_the_bundles_packet_even_without_a_switch_in_the_log(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    """The id changed in packet.json and bag-info alone: the log then names another packet."""
    pid = await sealed_and_shared(client)
    _, archive = await export(client, pid, "json")
    document = json.loads(archive)
    document["packet"]["id"] = NEW_ID
    for entry in document["custody"]:
        entry["packet_id"] = NEW_ID
    bad = json.dumps(document).encode()
    await forget(client, app, pid)
    response = await upload(client, bad, name="b.json")
    assert response.status_code == 422
    assert f"the seal is about packet {pid}, not packet {NEW_ID}" in (response.json()["detail"])


async def own_id_elsewhere(app: FastAPI, packet_id: str) -> None:
    """Another tenant holds `packet_id`: an import of that id takes a new one."""
    from sqlalchemy import update

    from arkham_shard_packets.db import tables

    engine = app.state.packets_shard.services.database.engine
    async with engine.begin() as conn:
        await conn.execute(
            update(tables.packets)
            .where(tables.packets.c.id == packet_id)
            .values(tenant_id=str(uuid.uuid4()))
        )


@pytest.mark.parametrize("fmt", ["zip", "json"])
async def test_a_packet_imported_under_a_new_id_exports_under_its_seals_id(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, fmt: str
) -> None:
    pid = await sealed_and_shared(client)
    _, archive = await export(client, pid, fmt)
    await own_id_elsewhere(app, pid)
    imported = await upload(client, archive, name=f"b.{fmt}")
    assert imported.status_code == 201, imported.text
    body = imported.json()
    new_id = body["packet_id"]
    assert new_id != pid
    assert (body["verified"], body["trusted"], body["custody_intact"]) == (True, True, True)
    report = (await client.get(f"{API}/{new_id}/verify")).json()
    assert report["valid"] is True, report["problems"]
    assert any(
        f"the seal is about packet {pid}: this installation imported it as packet {new_id}" in note
        for note in report["warnings"]
    ), report["warnings"]

    _, again = await export(client, new_id, fmt)
    assert seal_of(again, fmt)["statement"]["packet_id"] == pid
    assert packet_of(again, fmt)["id"] == pid  # the id its seal names
    log = custody_of(again, fmt)
    assert log[-1]["packet_id"] == new_id and log[-1]["event"] == "imported"
    again_file = write(tmp_path / f"again.{fmt}", again)
    checked = await cli("verify", str(again_file), "--trust", body["signed_by"])
    assert checked.returncode == 0, checked.stdout
    # and it imports again elsewhere, as the packet its seal names
    await forget(client, app, new_id)
    await forget(client, app, pid)
    back = await upload(client, again, name=f"again.{fmt}")
    assert back.status_code == 201, back.text
    assert back.json()["packet_id"] == pid
    assert (back.json()["verified"], back.json()["unverified"]) == (True, False)
    assert (await client.get(f"{API}/{pid}/verify")).json()["valid"] is True


async def test_the_documented_recipe_checks_the_packet_id_too(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    from .test_seals import keys, readme_code

    pid = await sealed_and_shared(client)
    (key,) = await keys(client)
    _, archive = await export(client, pid, "json")
    check_seal = readme_code("## Checking a seal with any Ed25519 library")["check_seal"]
    assert check_seal(write(tmp_path / "b.json", archive), key["fingerprint"])["packet_id"] == pid
    moved = write(tmp_path / "moved.json", forged(archive, "json", NEW_ID))
    with pytest.raises(AssertionError, match="the seal is about another packet"):
        check_seal(moved, key["fingerprint"])


OWNER, IMPORTER, ELSEWHERE = (
    "7c0f3a0e-0000-4000-8000-0000000005b1",
    "7c0f3a0e-0000-4000-8000-0000000005b2",
    "7c0f3a0e-0000-4000-8000-0000000005b3",
)


async def tenant_export(client: httpx.AsyncClient, headers: dict[str, str], pid: str) -> bytes:
    made = await client.post(f"{API}/{pid}/export", json={"format": "zip"}, headers=headers)
    assert made.status_code == 200, made.text
    download = await client.get(made.json()["download_url"], headers=headers)
    assert download.status_code == 200, download.text
    return download.content


def renamed(new_id: str) -> Callable[[Files], None]:
    """packet.json and bag-info moved to `new_id`, the log left as it is, manifests rebuilt."""

    def change(files: Files) -> None:
        document = json.loads(files["data/packet.json"])
        old_id = document["packet"]["id"]
        document["packet"]["id"] = new_id
        files["data/packet.json"] = (
            json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        ).encode()
        files["bag-info.txt"] = files["bag-info.txt"].replace(old_id.encode(), new_id.encode())

    return change


async def test_a_tenants_import_under_its_own_id_verifies_exports_and_imports_elsewhere(
    client: httpx.AsyncClient, users: Users, tmp_path: Path
) -> None:
    """A caller with a tenant always imports another tenant's bundle under an id of its own
    (bundles/packet_ids.py): the seal, which names the bundle's id, still holds there, in its
    re-export and in a third tenant; a re-export moved to another id does not."""
    from arkham_shard_packets.bundles.packet_ids import own_id

    from .test_import_ids import imported, sealed_bundle

    owner, importer, elsewhere = (users.headers(t) for t in (OWNER, IMPORTER, ELSEWHERE))
    pid, bundle = await sealed_bundle(client, owner)
    status, answer = await imported(client, importer, bundle)
    assert status == 201, answer
    mine = answer["packet_id"]
    assert mine == own_id(IMPORTER, pid) != pid
    assert (answer["verified"], answer["trusted"], answer["custody_intact"]) == (True,) * 3
    assert answer["errors"] == []
    assert (
        f"imported as packet {mine}: the bundle's seal and custody log name it {pid}"
        in (answer["warnings"])
    )
    report = (await client.get(f"{API}/{mine}/verify", headers=importer)).json()
    assert report["valid"] is True, report["problems"]
    assert any(
        f"the seal is about packet {pid}: this installation imported it as packet {mine}" in note
        for note in report["warnings"]
    ), report["warnings"]

    again = await tenant_export(client, importer, mine)
    seal = seal_of(again, "zip")
    assert seal["statement"]["packet_id"] == packet_of(again, "zip")["id"] == pid
    log = custody_of(again, "zip")
    switch = next(entry for entry in log if entry["packet_id"] == mine)
    assert switch["event"] == "imported" and switch["details"]["bundle_packet_id"] == pid
    checked = await cli(
        "verify", str(write(tmp_path / "again.zip", again)), "--trust", seal["key_fingerprint"]
    )
    assert checked.returncode == 0, checked.stdout
    covered = seal["statement"]["custody_length"]
    assert log[covered:] == [switch]  # after the seal: the import that gave it its id
    assert (
        f"custody entries 1 to {covered} are covered by the seal signed by "
        f"{seal['key_fingerprint']}; entry {covered + 1} is the bundle's own account"
    ) in checked.stdout

    # the importer's tenant finds its packet again; a third tenant makes one of its own
    status, skipped = await imported(client, importer, again, "skip")
    assert (status, skipped["packet_id"], skipped["skipped"]) == (201, mine, True)
    status, third = await imported(client, elsewhere, again)
    assert status == 201, third
    theirs = third["packet_id"]
    assert theirs == own_id(ELSEWHERE, pid)
    assert (third["verified"], third["trusted"], third["unverified"]) == (True, True, False)
    assert (third["covered_entries"], third["unproven_entries"]) == (
        covered,
        {"first": covered + 1, "last": covered + 1},
    )
    report = (await client.get(f"{API}/{theirs}/verify", headers=elsewhere)).json()
    assert report["valid"] is True, report["problems"]
    assert any(f"imported it as packet {theirs}" in note for note in report["warnings"])

    # the re-export moved to another id: with a switch appended, or named as the log's end is
    for forged_id, change in ((NEW_ID, re_id(NEW_ID)), (mine, renamed(mine))):
        bad = rewrite(again, "zip", change)
        status, refused = await imported(client, elsewhere, bad)
        assert status == 422, refused
        assert f"the seal is about packet {pid}, not packet {forged_id}" in refused["detail"]
        checked = await cli(
            "verify", str(write(tmp_path / "bad.zip", bad)), "--trust", seal["key_fingerprint"]
        )
        assert checked.returncode == 1, checked.stdout
        assert f"problem: the seal is about packet {pid}, not packet {forged_id}" in checked.stdout
