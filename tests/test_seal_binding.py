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
