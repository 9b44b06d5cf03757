"""Packets sealed before signed seals (before migration 0009), after `db upgrade`.

Such a packet has a checksum and no signed seal, and its custody log starts at the upgrade. It
verifies when its checksum matches (`signed: false`, a warning), its export verifies and imports
unsigned, and its share page says so. An administrator (or the operator's command line) can
sign its seal later, as an attestation that says so; every export then carries it.

The old packets are made for real: by the API at head, then the database is downgraded to
0008 (which drops the signing keys, the seals and the custody logs, all that 0009 added), and
the host started again upgrades it, as `db upgrade` does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.migrate import current_revision, downgrade
from arkham_shard_packets.db.revision import HEAD_REVISION
from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.host.auth import HostAuth

from .bundle_helpers import export, packet_with_files
from .conftest import POSTGRES_URL, make_packet, reset_postgres
from .custody_helpers import Files, canonical, check_seal_independently, rewrite, seal_of, write
from .frame_users import CUSTODY_TENANT, Users
from .test_custody_bundles import cli
from .test_export import unpack
from .test_import import forget, upload
from .test_seals import readme_code

API = "/api/packets"
UNSIGNED = "sealed before signed seals: the checksum shows the contents are unchanged"
ATTESTATION = "arkham-packet-attestation/1"


@dataclass
class Old:
    """Packets sealed and shared at revision 0008, in a database left at 0008."""

    data_dir: Path
    database_url: str
    auth: HostAuth
    packet_ids: list[str]
    tokens: list[str]  # a public share link of each

    @property
    def database(self) -> tuple[str, Path]:
        return self.database_url, self.data_dir


@asynccontextmanager
async def running(old: Old) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The host at head on the old database: starting it upgrades the database."""
    app = create_app(
        HostConfig(data_dir=old.data_dir, database_url=old.database_url, auth=old.auth)
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        yield app, http


async def sealed_before_upgrade(
    tmp_path: Path, database_url: str, users: Users, count: int = 1
) -> Old:
    if POSTGRES_URL:
        await reset_postgres(database_url)
    old = Old(tmp_path / "data", database_url, users.auth, [], [])
    async with running(old) as (_, http):
        http.headers.update(users.headers(CUSTODY_TENANT))
        for _ in range(count):
            packet = await packet_with_files(http)
            finalized = await http.post(f"{API}/{packet['id']}/finalize")
            assert finalized.status_code == 200, finalized.text
            share = await http.post(f"{API}/{packet['id']}/share", json={"shared_with": "public"})
            old.packet_ids.append(packet["id"])
            old.tokens.append(share.json()["access_token"])
    engine = create_engine(database_url)
    try:
        await downgrade(engine, "0008")
        assert await current_revision(engine) == "0008"
    finally:
        await engine.dispose()
    return old


def rewrite_first_entry(files: Files) -> None:
    lines = files["custody.jsonl"].splitlines(keepends=True)
    entry = json.loads(lines[0])
    entry["details"]["note"] = "the history before the upgrade, rewritten"
    lines[0] = canonical(entry) + b"\n"
    files["custody.jsonl"] = b"".join(lines)


async def own_key_file(old: Old, tmp_path: Path) -> Path:
    path = tmp_path / "ours.pem"
    exported = await cli("keys", "export", "-o", str(path), database=old.database)
    assert exported.returncode == 0, exported.stderr
    return path


async def test_an_old_seal_verifies_unsigned_and_its_bundle_imports(
    tmp_path: Path, database_url: str, users: Users
) -> None:
    old = await sealed_before_upgrade(tmp_path, database_url, users)
    (pid,), (token,) = old.packet_ids, old.tokens
    async with running(old) as (app, http):
        assert await current_revision(app.state.packets_shard.services.database.engine) == (
            HEAD_REVISION
        )
        http.headers.update(users.headers(CUSTODY_TENANT))
        report = (await http.get(f"{API}/{pid}/verify")).json()
        assert report["valid"] is True, report["problems"]
        assert (report["signed"], report["signature_valid"], report["signed_by"]) == (
            False,
            None,
            None,
        )
        assert (report["trusted"], report["attested_at"], report["custody_intact"]) == (
            False,
            None,
            True,
        )
        assert report["problems"] == [] and report["warnings"][0].startswith(UNSIGNED)
        log = (await http.get(f"{API}/{pid}/custody")).json()
        assert log["entries"][0]["event"] == "log_started" and log["problems"] == []
        assert (log["covered_entries"], log["covered_by"], log["unproven_entries"]) == (
            0,
            None,
            None,
        )

        page = (await http.get(f"{API}/shared/{token}/view")).text
        assert "sealed before signed seals" in page and "does not check" not in page
        said = "1 entry. No signature covers any custody entry; entry 1 was recorded here, and no"
        assert said in page

        body, archive = await export(http, pid, "zip")
        assert body["errors"] == []
        bundle = write(tmp_path / "old.zip", archive)
        checked = await cli("verify", str(bundle))
        assert checked.returncode == 3, checked.stdout  # checks, but no trusted key signed it
        assert "seal: not signed (sealed before signed seals)" in checked.stdout
        assert "INVALID" not in checked.stdout and "problem:" not in checked.stdout
        assert checked.stdout.splitlines()[-1].endswith(
            "UNTRUSTED (it checks, but no key signed it)"
        )
        assert "the bundle's own account, which no signature covers: not proven" in checked.stdout
        assert "no signature covers them: the packet was sealed before signed seals" in (
            checked.stdout
        )
        trusting = await cli(
            "verify", str(bundle), "--trust", str(await own_key_file(old, tmp_path))
        )
        assert trusting.returncode == 3, trusting.stdout  # checks, but no trusted key signed it
        _, document = await export(http, pid, "json")
        assert (await cli("verify", str(write(tmp_path / "old.json", document)))).returncode == 3

        # A bad custody chain is still refused, unsigned or not.
        broken = rewrite(archive, "zip", rewrite_first_entry)
        await forget(http, app, pid)
        refused = await upload(http, broken)
        assert refused.status_code == 422, refused.text
        assert "custody entry 2 does not chain onto entry 1" in refused.json()["detail"]

        imported = await upload(http, archive)
        assert imported.status_code == 201, imported.text
        answer = imported.json()
        assert (answer["verified"], answer["unverified"], answer["signed_by"]) == (
            True,
            False,
            None,
        )
        assert (answer["trusted"], answer["signature_valid"], answer["errors"]) == (
            False,
            None,
            [],
        )
        assert any(note.startswith(UNSIGNED) for note in answer["warnings"]), answer["warnings"]
        # a tenant's import is a packet of its own (bundles.md, which id)
        again = (await http.get(f"{API}/{answer['packet_id']}/verify")).json()
        assert (again["valid"], again["signed"]) == (True, False), again["problems"]
        await forget(http, app, answer["packet_id"])

        await forget(http, app, pid)
        by_cli = await cli("import", str(bundle), database=old.database)
        assert by_cli.returncode == 0, by_cli.stderr
        assert "(verified and sealed)" in by_cli.stdout
        assert "signed by nobody (sealed before signed seals)" in by_cli.stdout
        assert "warning: sealed before signed seals" in by_cli.stderr


async def test_a_removed_seal_is_refused(
    client: httpx.AsyncClient, app: FastAPI, engine: Any
) -> None:
    """A packet sealed since signed seals has a `finalized` custody entry naming its key:
    without its seal (in a bundle, or in the database), the seal was taken out."""
    packet = await packet_with_files(client)
    await client.post(f"{API}/{packet['id']}/finalize")
    _, archive = await export(client, packet["id"], "zip")
    other = await make_packet(client, "Another")
    await client.post(f"{API}/{other['id']}/finalize")
    async with engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM arkham_packet_seals WHERE packet_id = :id"), {"id": other["id"]}
        )
    behind = (await client.get(f"{API}/{other['id']}/verify")).json()
    assert (behind["valid"], behind["signed"], behind["warnings"]) == (False, False, [])
    assert any("custody entry" in p and "the seal was removed" in p for p in behind["problems"])
    await forget(client, app, packet["id"])

    def without_seal(files: dict[str, bytes]) -> None:
        del files["packet-seal.json"]

    stripped = rewrite(archive, "zip", without_seal)
    refused = await upload(client, stripped)
    assert refused.status_code == 422, refused.text
    assert "records that its seal was signed with sha256:" in refused.json()["detail"]
    accepted = await client.post(
        f"{API}/import",
        files={"file": ("b.zip", stripped)},
        data={"merge_mode": "replace", "allow_unverified": "true"},
    )
    assert accepted.status_code == 201 and accepted.json()["unverified"] is True
    report = (await client.get(f"{API}/{packet['id']}/verify")).json()
    assert report["valid"] is False and report["signed"] is False


async def test_an_admin_attests_an_old_seal(
    tmp_path: Path, database_url: str, users: Users
) -> None:
    old = await sealed_before_upgrade(tmp_path, database_url, users)
    (pid,), (token,) = old.packet_ids, old.tokens
    analyst = users.headers(CUSTODY_TENANT)
    admin = users.headers(CUSTODY_TENANT, "admin")
    admin_id = str(users.user(CUSTODY_TENANT, "admin").id)
    async with running(old) as (app, http):
        refused = await http.post(f"{API}/{pid}/attest", headers=analyst)
        assert refused.status_code == 403, refused.text
        assert "only an admin may do this" in refused.json()["detail"]
        draft = (await http.post(f"{API}/", json={"name": "New"}, headers=analyst)).json()
        not_sealed = await http.post(f"{API}/{draft['id']}/attest", headers=admin)
        assert not_sealed.status_code == 409 and "never sealed" in not_sealed.json()["detail"]
        assert (await http.post(f"{API}/no-such/attest", headers=admin)).status_code == 404

        response = await http.post(f"{API}/{pid}/attest", headers=admin)
        assert response.status_code == 200, response.text
        attested = response.json()
        (key,) = (await http.get(f"{API}/keys")).json()["keys"]
        log = (await http.get(f"{API}/{pid}/custody", headers=analyst)).json()
        assert attested["attested_by"] == admin_id
        assert attested["key_fingerprint"] == key["fingerprint"]
        assert (attested["custody_length"], attested["custody_head"]) == (
            log["length"],
            log["head"],
        )
        assert attested["attested_at"] > attested["finalized_at"]
        verify_before = await http.get(f"{API}/{pid}/verify", headers=analyst)
        assert attested["finalized_at"] == verify_before.json()["finalized_at"]
        entry = log["entries"][-1]
        assert (entry["event"], entry["actor"]) == ("attested", admin_id)
        assert entry["details"]["attested_at"] == attested["attested_at"]
        assert entry["details"]["key_fingerprint"] == key["fingerprint"]
        twice = await http.post(f"{API}/{pid}/attest", headers=admin)
        assert twice.status_code == 409 and "signed already" in twice.json()["detail"]
        sealed_now = await http.post(f"{API}/{draft['id']}/finalize", headers=analyst)
        assert sealed_now.status_code == 200
        signed = await http.post(f"{API}/{draft['id']}/attest", headers=admin)
        assert signed.status_code == 409 and "signed at finalize" in signed.json()["detail"]

        report = (await http.get(f"{API}/{pid}/verify", headers=analyst)).json()
        assert report["valid"] is True, report["problems"]
        assert (report["signed"], report["signed_by"], report["trusted"]) == (
            True,
            key["fingerprint"],
            True,
        )
        assert report["attested_at"] == attested["attested_at"] and report["warnings"] == []
        page = (await http.get(f"{API}/shared/{token}/view")).text
        assert "signed later (attested" in page and "does not check" not in page

        http.headers.update(analyst)
        _, archive = await export(http, pid, "zip")
        seal = seal_of(archive, "zip")
        check_seal_independently(seal)
        assert seal["statement"]["format"] == ATTESTATION
        assert seal["statement"]["attested_at"] == attested["attested_at"]
        assert seal["statement"]["finalized_at"] == attested["finalized_at"]
        bag = unpack(archive, "zip", tmp_path / "bag")
        recipe = readme_code("## Checking a seal with any Ed25519 library")["check_seal"]
        assert recipe(bag, key["fingerprint"])["attested_at"] == attested["attested_at"]
        bundle = write(tmp_path / "attested.zip", archive)
        trusted = await cli("verify", str(bundle), "--trust", key["fingerprint"])
        assert trusted.returncode == 0, trusted.stdout
        assert f"signed later, by an attestation of {key['fingerprint']}" in trusted.stdout

        await forget(http, app, pid)
        imported = (await upload(http, archive)).json()
        assert (imported["signed_by"], imported["trusted"]) == (key["fingerprint"], True)
        assert imported["attested_at"] == attested["attested_at"]
        assert not any(note.startswith(UNSIGNED) for note in imported["warnings"])
        again = (await http.get(f"{API}/{imported['packet_id']}/verify")).json()
        assert (again["valid"], again["attested_at"]) == (True, attested["attested_at"])


async def test_the_operator_attests_every_old_seal_from_the_command_line(
    tmp_path: Path, database_url: str, users: Users
) -> None:
    old = await sealed_before_upgrade(tmp_path, database_url, users, count=2)
    good, tampered = old.packet_ids
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE arkham_packet_contents SET content_title = 'changed'"
                    " WHERE packet_id = :id"
                ),
                {"id": tampered},
            )
    finally:
        await engine.dispose()
    usage = await cli("seals", "attest", database=old.database)
    assert usage.returncode == 2 and "--all" in usage.stderr

    done = await cli("seals", "attest", "--all", database=old.database)  # upgrades first
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"packet {good} version 2: attested at " in done.stdout
    assert f"packet {tampered}: not attested: packet {tampered} does not verify" in done.stdout
    async with running(old) as (_, http):
        http.headers.update(users.headers(CUSTODY_TENANT))
        report = (await http.get(f"{API}/{good}/verify")).json()
        assert (report["valid"], report["signed"]) == (True, True), report["problems"]
        assert report["attested_at"] is not None
        log = (await http.get(f"{API}/{good}/custody")).json()
        assert (log["entries"][-1]["event"], log["entries"][-1]["actor"]) == (
            "attested",
            "system",
        )
        broken = (await http.get(f"{API}/{tampered}/verify")).json()
        assert (broken["valid"], broken["signed"]) == (False, False)
        await make_packet(http, "a draft is never attested")
    again = await cli("seals", "attest", good, database=old.database)
    assert again.returncode == 1
    assert "it is not a sealed packet without a seal" in again.stdout
