"""Revoking a signing key: `keys revoke` (refusals, output), `keys list` and GET /keys show it;
a seal the key made before its revocation stays trusted (verify, custody, viewer, export then
import, the CLI), one made after is not; a seal dated by its statement is judged by the
installation's own record when it has one; a revoked key never signs again."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from arkham_shard_packets.host.app import HostConfig, ShardsFailed, create_app

from .bundle_helpers import export
from .custody_helpers import (
    bag_files,
    canonical,
    fingerprint,
    jsonl,
    new_key,
    pack,
    raw_public,
    rebuild_bag,
    rechain,
    restate_packet,
    sha256,
    sign_seal,
    write,
)
from .test_custody_bundles import cli as offline
from .test_import import forget, upload
from .test_seals import cli, data_dir_of, keys, sealed

API = "/api/packets"


def key_file(app: FastAPI) -> Path:
    return data_dir_of(app) / "keys" / "signing-key.pem"


def leaked_key(app: FastAPI) -> Ed25519PrivateKey:
    """The installation's current private key, as whoever copied the file would have it."""
    key = serialization.load_pem_private_key(key_file(app).read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def shifted(moment: str, **delta: float) -> str:
    return (datetime.fromisoformat(moment) + timedelta(**delta)).isoformat(timespec="microseconds")


async def rotate_and_revoke(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, *at: str
) -> tuple[str, str]:
    """The old key's fingerprint and the revocation time `keys revoke` printed."""
    data_dir = data_dir_of(app)
    (old,) = [k["fingerprint"] for k in await keys(client) if k["active"]]
    rotated = await cli(database_url, data_dir, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    revoked = await cli(database_url, data_dir, "keys", "revoke", old, *at)
    assert revoked.returncode == 0, revoked.stderr
    first = revoked.stdout.splitlines()[0]
    assert first.startswith(f"revoked: {old} at "), revoked.stdout
    return old, first.rsplit(" at ", 1)[1]


def forged(
    archive: bytes, key: Ed25519PrivateKey, finalized_at: str, stated: str | None = None
) -> bytes:
    """A sealed bag of the same packet id, rewritten and sealed with `key` at `finalized_at`
    (the statement says `stated` if given), every hash and manifest recomputed."""
    root, files = bag_files(archive, "zip")
    packet = restate_packet(files, name="Forged", finalized_at=finalized_at)
    entries = rechain(
        [
            {
                "packet_id": packet["id"],
                "at": at,
                "actor": "alice",
                "event": event,
                "details": {},
            }
            for at, event in ((packet["created_at"], "created"), (finalized_at, "finalized"))
        ]
    )
    files["custody.jsonl"] = jsonl(entries)
    seal = sign_seal(
        key,
        {
            "format": "arkham-packet-seal/1",
            "packet_id": packet["id"],
            "version": packet["version"],
            "checksum": packet["checksum"],
            "checksum_recipe": 1,
            "finalized_at": finalized_at if stated is None else stated,
            "finalized_by": "alice",
            "custody_head": sha256(canonical(entries[-1])),
            "custody_length": 2,
        },
    )
    files["packet-seal.json"] = json.dumps(seal, indent=2).encode()
    return pack(root, rebuild_bag(files), "zip")


async def test_keys_revoke_refuses_the_active_key_and_unknown_ones_and_is_listed(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    data_dir = data_dir_of(app)
    await sealed(client)
    (first,) = await keys(client)
    active = await cli(database_url, data_dir, "keys", "revoke", first["fingerprint"])
    assert active.returncode == 1
    assert f"{first['fingerprint']} is the active key" in active.stderr
    assert "rotate first" in active.stderr
    unknown = await cli(database_url, data_dir, "keys", "revoke", "sha256:" + "0" * 64)
    assert unknown.returncode == 1
    assert f"no key sha256:{'0' * 64} in this installation's registry" in unknown.stderr
    rotated = await cli(database_url, data_dir, "keys", "rotate")
    assert "keys revoke FINGERPRINT" in rotated.stdout
    old = first["fingerprint"]
    bad_time = await cli(database_url, data_dir, "keys", "revoke", old, "--at", "yesterday")
    assert bad_time.returncode == 2 and "not an ISO 8601 time" in bad_time.stderr
    future = await cli(database_url, data_dir, "keys", "revoke", old, "--at", "2999-01-01")
    assert future.returncode == 1 and "now or from a moment in the past" in future.stderr
    assert all(key["revoked_at"] is None for key in await keys(client))

    at = "2026-01-02T03:04:05+00:00"
    revoked = await cli(database_url, data_dir, "keys", "revoke", old.upper(), "--at", at)
    assert revoked.returncode == 0, revoked.stderr
    shown = "2026-01-02T03:04:05.000000+00:00"
    assert revoked.stdout.splitlines() == [
        f"revoked: {old} at {shown}",
        "its seals made after that are no longer trusted; those made before still are",
        "tell those who check your bundles offline: "
        f"verify --revoked {old}@{shown}, or ARKHAM_PACKETS_REVOKED_KEYS={old}@{shown}",
    ]
    later = await cli(database_url, data_dir, "keys", "revoke", old)  # only ever moves back
    assert later.returncode == 0
    assert later.stdout.startswith(f"{old} was revoked at {shown} already: unchanged")
    listed = await keys(client)
    assert [(k["fingerprint"], k["active"], k["revoked_at"]) for k in listed] == [
        (old, False, shown),
        (listed[1]["fingerprint"], True, None),
    ]
    listing = await cli(database_url, data_dir, "keys", "list")
    assert f"revoked  {old}  " in listing.stdout
    assert listing.stdout.splitlines()[0].endswith(f"  revoked at {shown}")
    assert f"active   {listed[1]['fingerprint']}" in listing.stdout


async def test_a_seal_made_before_the_revocation_stays_trusted(
    app: FastAPI, client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    packet = await sealed(client)
    pid = packet["id"]
    share = (await client.post(f"{API}/{pid}/share", json={"shared_with": "public"})).json()
    _, bundle = await export(client, pid, "zip")
    old, revoked_at = await rotate_and_revoke(client, app, database_url)

    report = (await client.get(f"{API}/{pid}/verify")).json()
    assert (report["valid"], report["signed_by"], report["trusted"]) == (True, old, True)
    assert report["warnings"] == []  # this installation's own record dates the seal
    log = (await client.get(f"{API}/{pid}/custody")).json()
    assert (log["intact"], log["problems"]) == (True, [])
    page = (await client.get(f"{API}/shared/{share['access_token']}/view")).text
    assert "this installation trusts it" in page
    assert f"revoked at {revoked_at}: this installation signed it at " in page
    assert "before, so it is still trusted" in page

    path = str(write(tmp_path / "b.zip", bundle))
    checked = await offline("verify", path, "--trust", old, "--revoked", f"{old}@{revoked_at}")
    assert checked.returncode == 0, checked.stdout
    assert f"key: revoked at {revoked_at}; the seal is dated before" in checked.stdout
    assert "key: trusted" in checked.stdout

    await forget(client, app, pid)  # as if another machine imported it
    imported = await upload(client, bundle)
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert (body["signed_by"], body["trusted"], body["verified"]) == (old, True, True)
    dated = f"the seal is signed by {old}, revoked at {revoked_at}: its statement dates it "
    assert [note for note in body["warnings"] if note.startswith(dated)], body["warnings"]
    assert "nothing here records it" in " ".join(body["warnings"])
    assert (await client.get(f"{API}/{pid}/verify")).json()["trusted"] is True


async def test_a_bundle_forged_with_the_revoked_key_after_its_revocation_is_not_trusted(
    app: FastAPI,
    client: httpx.AsyncClient,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    packet = await sealed(client)
    pid = packet["id"]
    _, archive = await export(client, pid, "zip")
    leaked = leaked_key(app)
    old, revoked_at = await rotate_and_revoke(client, app, database_url)
    after = shifted(revoked_at, seconds=1)
    bad = forged(archive, leaked, after)
    await forget(client, app, pid)

    imported = await upload(client, bad)
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert (body["signed_by"], body["signature_valid"], body["verified"]) == (old, True, True)
    assert body["trusted"] is False
    note = (
        f"the seal is signed by {old}, revoked at {revoked_at}: its statement dates it {after}, "
        "after, so it is not trusted"
    )
    assert note in body["warnings"], body["warnings"]
    report = (await client.get(f"{API}/{pid}/verify")).json()
    assert (report["valid"], report["trusted"]) == (True, False)
    assert note in report["warnings"]
    share = (await client.post(f"{API}/{pid}/share", json={"shared_with": "public"})).json()
    page = (await client.get(f"{API}/shared/{share['access_token']}/view")).text
    assert "a key not trusted here" in page and "after, so it is not trusted" in page

    path = str(write(tmp_path / "forged.zip", bad))
    assert (await offline("verify", path, "--trust", old)).returncode == 0  # not told: trusted
    checked = await offline("verify", path, "--trust", old, "--revoked", f"{old}@{revoked_at}")
    assert checked.returncode == 3, checked.stdout
    assert f"key: REVOKED at {revoked_at}, before this seal was made" in checked.stdout
    assert f"warning: {note}" in checked.stdout
    assert checked.stdout.splitlines()[-1].endswith(
        "UNTRUSTED (it checks, but its key was revoked before it was made)"
    )
    monkeypatch.setenv("ARKHAM_PACKETS_REVOKED_KEYS", f"{old}@{revoked_at}")
    assert (await offline("verify", path)).returncode == 3
    monkeypatch.setenv("ARKHAM_PACKETS_REVOKED_KEYS", f"{old}@last week")
    refused = await offline("verify", path)
    assert refused.returncode == 2 and "is not an ISO 8601 time" in refused.stderr

    # a statement whose time can't be taken to UTC: a problem to report, not a crash
    odd = forged(archive, leaked, after, stated="0001-01-01T00:00:00+01:00")
    unreadable = await upload(client, odd)
    assert unreadable.status_code == 422, unreadable.text
    assert "the seal's statement says finalized_at" in unreadable.json()["detail"]
    monkeypatch.setenv("ARKHAM_PACKETS_REVOKED_KEYS", f"{old}@{revoked_at}")
    odd_checked = await offline("verify", str(write(tmp_path / "odd.zip", odd)))
    assert odd_checked.returncode == 1, odd_checked.stderr
    assert "its statement gives no time it can be dated by" in odd_checked.stdout


async def test_a_backdated_seal_for_a_packet_sealed_here_is_judged_by_this_installations_record(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    """The leaked key signs a statement dated before its revocation, for a packet this
    installation sealed after it with its new key: the installation's own record wins."""
    leaked = leaked_key(app)
    old, revoked_at = await rotate_and_revoke(client, app, database_url)
    packet = await sealed(client)  # sealed here, after the revocation, by the new key
    pid = packet["id"]
    _, archive = await export(client, pid, "zip")
    backdated = shifted(revoked_at, days=-30)
    bad = forged(archive, leaked, backdated)

    skipped = await upload(client, bad, merge_mode="skip")
    assert skipped.status_code == 201, skipped.text
    body = skipped.json()
    assert (body["skipped"], body["signed_by"], body["trusted"]) == (True, old, False)
    (note,) = [note for note in body["warnings"] if "revoked" in note]
    assert note.startswith(
        f"the seal is signed by {old}, revoked at {revoked_at}: this installation sealed the "
        f"packet itself at {packet['updated_at'][:10]}"
    ), note
    assert note.endswith(", with another seal, so this one is not trusted")
    assert (await upload(client, bad)).status_code == 409  # a sealed packet takes no import

    await forget(client, app, pid)  # without that record, only the statement dates it
    trusted = (await upload(client, bad)).json()
    assert trusted["trusted"] is True
    assert f"its statement dates it {backdated}, before" in " ".join(trusted["warnings"])


async def test_a_key_revoked_from_before_a_seal_it_made_here_untrusts_that_seal(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    """The key leaked before it signed: `--at` an earlier moment, and this installation's
    own record of when it signed says after."""
    before = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    packet = await sealed(client)
    old, revoked_at = await rotate_and_revoke(client, app, database_url, "--at", before)
    assert revoked_at == before
    report = (await client.get(f"{API}/{packet['id']}/verify")).json()
    assert (report["valid"], report["signed_by"], report["trusted"]) == (True, old, False)
    (note,) = report["warnings"]
    assert note.startswith(
        f"the seal is signed by {old}, revoked at {before}: this installation signed it at "
    )
    assert note.endswith(", after, so it is not trusted")


async def test_a_revoked_key_put_back_in_its_file_signs_nothing(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    pem = key_file(app).read_bytes()
    await sealed(client)
    old, _ = await rotate_and_revoke(client, app, database_url)
    key_file(app).write_bytes(pem)
    packet = (await client.post(f"{API}/", json={"name": "After"})).json()
    refused = await client.post(f"{API}/{packet['id']}/finalize")
    assert refused.status_code == 503, refused.text
    assert f"is {old} was revoked at" in refused.json()["detail"]
    assert (await client.get(f"{API}/{packet['id']}")).json()["status"] == "draft"


async def test_revoked_keys_configured_for_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: FastAPI, client: httpx.AsyncClient
) -> None:
    """ARKHAM_PACKETS_REVOKED_KEYS revokes a key trusted by ARKHAM_PACKETS_TRUSTED_KEYS (another
    installation's); one that can't be read stops the shard from loading."""
    packet = await sealed(client)
    _, archive = await export(client, packet["id"], "zip")
    other_key = new_key()
    other = fingerprint(raw_public(other_key))
    revoked_at = "2026-01-01T00:00:00.000000+00:00"
    before, after = "2025-12-31T00:00:00.000000+00:00", "2026-01-02T00:00:00.000000+00:00"
    monkeypatch.setenv("ARKHAM_PACKETS_TRUSTED_KEYS", other)
    monkeypatch.setenv("ARKHAM_PACKETS_REVOKED_KEYS", f"{other}@2026-01-01T00:00:00Z")
    receiver = create_app(
        HostConfig(data_dir=tmp_path / "r", database_url=f"sqlite:///{tmp_path / 'r.db'}")
    )
    async with (
        receiver.router.lifespan_context(receiver),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://t") as r,
    ):
        early = (await upload(r, forged(archive, other_key, before))).json()
        assert (early["signed_by"], early["trusted"]) == (other, True)
        await forget(r, receiver, packet["id"])
        late = (await upload(r, forged(archive, other_key, after))).json()
        assert (late["signed_by"], late["trusted"]) == (other, False)
        dated = f"revoked at {revoked_at}: its statement dates it {after}, after"
        assert [note for note in late["warnings"] if dated in note], late["warnings"]
    monkeypatch.setenv("ARKHAM_PACKETS_REVOKED_KEYS", other)  # no time
    broken = create_app(
        HostConfig(data_dir=tmp_path / "b", database_url=f"sqlite:///{tmp_path / 'b.db'}")
    )
    with pytest.raises(ShardsFailed, match="ARKHAM_PACKETS_REVOKED_KEYS"):
        async with broken.router.lifespan_context(broken):
            pass
