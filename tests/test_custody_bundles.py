"""Bundles that prove less than they claim: a changed seal or custody log is refused by import
and by `arkham-packets verify`, even with every manifest recomputed; a bundle forged with every
hash recomputed but signed by an unknown key imports as not trusted; a caller may accept a
bundle that fails as unverified, and then it says so everywhere."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.host.app import HostConfig, ShardsFailed, create_app

from .bundle_helpers import database_rows, export, leftover_files
from .cli_runs import run_cli
from .conftest import add_item, make_packet
from .custody_helpers import (
    Files,
    bag_files,
    canonical,
    custody_of,
    fingerprint,
    jsonl,
    new_key,
    pack,
    public_pem,
    raw_public,
    rebuild_bag,
    rechain,
    restate_packet,
    rewrite,
    sha256,
    sign_seal,
    write,
)
from .test_import import forget, upload

API = "/api/packets"


async def cli(*args: str, database: tuple[str, Path] | None = None) -> Any:
    command = list(args)
    if args[0] in ("verify", "import"):
        command.append("--quiet")
    if database is not None:
        command += ["--database-url", database[0], "--data-dir", str(database[1])]
    return await run_cli(*command)


async def sealed_and_shared(client: httpx.AsyncClient) -> str:
    packet = (await client.post(f"{API}/", json={"name": "Harbor"})).json()
    await add_item(client, packet["id"], "d1", data={"pages": 2})
    await add_item(client, packet["id"], "d2")
    await client.post(f"{API}/{packet['id']}/finalize")
    await client.post(f"{API}/{packet['id']}/share", json={"shared_with": "public"})
    return str(packet["id"])


def lines_of(files: Files) -> list[bytes]:
    return files["custody.jsonl"].splitlines(keepends=True)


def change_statement(files: Files) -> None:
    seal = json.loads(files["packet-seal.json"])
    seal["statement"]["finalized_by"] = "mallory"
    files["packet-seal.json"] = json.dumps(seal).encode()


def change_signature(files: Files) -> None:
    seal = json.loads(files["packet-seal.json"])
    seal["signature"] = base64.b64encode(bytes(64)).decode()
    files["packet-seal.json"] = json.dumps(seal).encode()


def change_key(files: Files) -> None:
    seal = json.loads(files["packet-seal.json"])
    seal["public_key"] = base64.b64encode(raw_public(new_key())).decode()
    files["packet-seal.json"] = json.dumps(seal).encode()


def change_entry(files: Files) -> None:
    lines = lines_of(files)
    lines[1] = lines[1].replace(b'"d1"', b'"d9"')
    files["custody.jsonl"] = b"".join(lines)


def swap_entries(files: Files) -> None:
    lines = lines_of(files)
    lines[1], lines[2] = lines[2], lines[1]
    files["custody.jsonl"] = b"".join(lines)


def remove_entry(files: Files) -> None:
    lines = lines_of(files)
    del lines[1]
    files["custody.jsonl"] = b"".join(lines)


TAMPERING: dict[str, tuple[Callable[[Files], None], str]] = {
    "statement": (change_statement, "the seal's signature does not check"),
    "signature": (change_signature, "the seal's signature does not check"),
    "key": (change_key, "the seal's public key does not have the fingerprint it names"),
    "one entry": (change_entry, "custody entry 3 does not chain onto entry 2"),
    "order": (swap_entries, "custody entry 2 is numbered 3"),
    "removed entry": (remove_entry, "custody entry 2 is numbered 3"),
}


def tampered_json(archive: bytes, change: Callable[[Files], None]) -> bytes:
    """The same change, made to the json format's `seal` and `custody`."""
    document = json.loads(archive)
    files: Files = {
        "packet-seal.json": json.dumps(document["seal"]).encode(),
        "custody.jsonl": jsonl(document["custody"]),
    }
    change(files)
    document["seal"] = json.loads(files["packet-seal.json"])
    document["custody"] = [json.loads(line) for line in files["custody.jsonl"].splitlines()]
    return json.dumps(document).encode()


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
@pytest.mark.parametrize("kind", sorted(TAMPERING))
async def test_a_changed_seal_or_log_is_refused_by_import_and_the_cli(
    client: httpx.AsyncClient, app: FastAPI, engine: Any, tmp_path: Path, fmt: str, kind: str
) -> None:
    change, expected = TAMPERING[kind]
    pid = await sealed_and_shared(client)
    _, archive = await export(client, pid, fmt)
    bad = tampered_json(archive, change) if fmt == "json" else rewrite(archive, fmt, change)
    await forget(client, app, pid)
    before = await database_rows(engine)
    response = await upload(client, bad, name=f"b.{fmt}")
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("unverified bundle: ") and expected in detail, detail
    assert "allow_unverified" in detail
    assert await database_rows(engine) == before
    assert leftover_files(app.state.packets_shard.services.data_dir / "tmp") == []
    checked = await cli("verify", str(write(tmp_path / f"b.{fmt}", bad)))
    assert checked.returncode == 1, checked.stdout
    assert f"problem: {expected}" in checked.stdout
    assert ": INVALID (" in checked.stdout.splitlines()[-1]
    assert "files and checksum OK" in checked.stdout.splitlines()[0]


async def test_the_untampered_bundle_is_proven_and_the_cli_says_what_is_not(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    pid = await sealed_and_shared(client)
    _, archive = await export(client, pid, "tar.gz")
    bundle = write(tmp_path / "b.tar.gz", archive)
    plain = await cli("verify", str(bundle))
    assert plain.returncode == 3, plain.stdout  # it checks, but no key is trusted
    out = plain.stdout
    assert "OK (BagIt bag in tar.gz)" in out
    assert "the signature checks" in out
    assert (
        "proven: the packet's history from its creation to its seal (custody entries 1 to 4)" in out
    )
    assert "not proven: who holds sha256:" in out
    assert "not proven: custody entry 5: the bundle's own account after the seal" in out
    assert "unaltered" not in out.split("custody entries 1 to 4) is complete and unaltered")[1]
    data_dir = Path(app.state.packets_shard.services.data_dir)
    key_file = tmp_path / "ours.pem"
    exported = await cli("keys", "export", "-o", str(key_file), database=(database_url, data_dir))
    assert exported.returncode == 0, exported.stderr
    trusted = await cli("verify", str(bundle), "--trust", str(key_file))
    assert trusted.returncode == 0, trusted.stdout
    assert "key: trusted" in trusted.stdout
    other = write(tmp_path / "other.pem", public_pem(new_key()))
    untrusted = await cli("verify", str(bundle), "--trust", str(other))
    assert untrusted.returncode == 3
    assert "key: NOT trusted" in untrusted.stdout
    assert untrusted.stdout.splitlines()[-1].endswith(
        "UNTRUSTED (it checks, but none of the trusted keys (--trust, "
        "ARKHAM_PACKETS_TRUSTED_KEYS) signed it)"
    )
    unreadable = await cli("verify", str(bundle), "--trust", str(tmp_path / "none.pem"))
    assert unreadable.returncode == 2


def forge(archive: bytes, key: Any) -> bytes:
    """What the issue warns of: a bundle claiming alice sealed it in 2001, every hash and
    manifest recomputed, the custody log rewritten, the seal signed by the forger's key."""
    root, files = bag_files(archive, "zip")
    packet = restate_packet(
        files,
        name="Forged",
        created_by="alice",
        created_at="2001-09-10T08:00:00.000000+00:00",
        finalized_at="2001-09-11T08:46:00.000000+00:00",
    )
    entries = rechain(
        [
            {
                "packet_id": packet["id"],
                "at": packet["created_at"],
                "actor": "alice",
                "event": "created",
                "details": {},
            },
            {
                "packet_id": packet["id"],
                "at": packet["finalized_at"],
                "actor": "alice",
                "event": "finalized",
                "details": {},
            },
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
            "finalized_at": packet["finalized_at"],
            "finalized_by": "alice",
            "custody_head": sha256(canonical(entries[-1])),
            "custody_length": 2,
        },
    )
    files["packet-seal.json"] = json.dumps(seal, indent=2).encode()
    return pack(root, rebuild_bag(files), "zip")


async def test_a_forged_bundle_signed_by_an_unknown_key_is_not_trusted(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, database_url: str, monkeypatch: Any
) -> None:
    pid = await sealed_and_shared(client)
    _, archive = await export(client, pid, "zip")
    forger = new_key()
    forged = forge(archive, forger)
    await forget(client, app, pid)
    response = await upload(client, forged)
    assert response.status_code == 201, response.text
    body = response.json()
    forger_fingerprint = fingerprint(raw_public(forger))
    assert body["signed_by"] == forger_fingerprint
    assert (body["trusted"], body["signature_valid"], body["custody_intact"]) == (False, True, True)
    assert body["verified"] is True and body["unverified"] is False
    assert (
        f"the seal is signed by {forger_fingerprint}, a key this installation does not trust"
        in body["warnings"]
    )
    assert body["errors"] == []
    report = (await client.get(f"{API}/{pid}/verify")).json()
    assert (report["signed_by"], report["trusted"]) == (forger_fingerprint, False)
    log = (await client.get(f"{API}/{pid}/custody")).json()
    assert log["entries"][-1]["details"]["trusted"] is False

    data_dir = Path(app.state.packets_shard.services.data_dir)
    ours = tmp_path / "ours.pem"
    await cli("keys", "export", "-o", str(ours), database=(database_url, data_dir))
    bundle = write(tmp_path / "forged.zip", forged)
    checked = await cli("verify", str(bundle), "--trust", str(ours))
    assert checked.returncode == 3, checked.stdout
    assert f"seal: signed by {forger_fingerprint}" in checked.stdout
    assert "key: NOT trusted" in checked.stdout
    assert (await cli("verify", str(bundle), "--trust", forger_fingerprint)).returncode == 0

    if app.state.packets_shard.services.database.dialect != "sqlite":
        return  # the second host below needs a database of its own
    monkeypatch.setenv("ARKHAM_PACKETS_TRUSTED_KEYS", f"{tmp_path / 'nope'}")
    broken = create_app(
        HostConfig(data_dir=tmp_path / "d2", database_url=f"sqlite:///{tmp_path / 'd2.db'}")
    )
    with pytest.raises(ShardsFailed, match="nope"):  # a trusted key that can't be read
        async with broken.router.lifespan_context(broken):
            pass
    monkeypatch.setenv("ARKHAM_PACKETS_TRUSTED_KEYS", f" {forger_fingerprint} , {ours}")
    other = create_app(
        HostConfig(data_dir=tmp_path / "d3", database_url=f"sqlite:///{tmp_path / 'd3.db'}")
    )
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://t") as http,
    ):
        trusting = await upload(http, forged)
        assert trusting.status_code == 201, trusting.text
        assert trusting.json()["trusted"] is True


async def test_an_unverified_import_is_marked_everywhere(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, database_url: str
) -> None:
    pid = await sealed_and_shared(client)
    _, archive = await export(client, pid, "zip")
    bad = rewrite(archive, "zip", swap_entries)
    await forget(client, app, pid)
    response = await client.post(
        f"{API}/import",
        files={"file": ("b.zip", bad)},
        data={"merge_mode": "replace", "allow_unverified": "true"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["unverified"], body["verified"], body["custody_intact"]) == (True, False, False)
    assert body["signed_by"] is not None  # the seal itself still checks
    unverified = "imported as unverified: custody entry 2 is numbered 3"
    assert any(note.startswith(unverified) for note in body["warnings"]), body["warnings"]
    assert body["errors"] == []  # imported, as the caller asked: marked, not failed
    report = (await client.get(f"{API}/{pid}/verify")).json()
    assert report["valid"] is False and report["custody_intact"] is False
    assert any("records an import accepted unverified" in p for p in report["problems"])
    log = (await client.get(f"{API}/{pid}/custody")).json()
    imported = log["entries"][-1]
    assert imported["event"] == "imported" and imported["details"]["unverified"] is True
    assert imported["details"]["problems"][0].startswith("custody entry 2 is numbered 3")
    versions = (await client.get(f"{API}/{pid}/versions")).json()
    assert versions[0]["changes_summary"].startswith("UNVERIFIED (its seal or custody log")
    share = (await client.post(f"{API}/{pid}/share", json={"shared_with": "public"})).json()
    page = (await client.get(f"{API}/shared/{share['access_token']}/view")).text
    assert "does not check" in page and "accepted unverified" in page
    _, again = await export(client, pid, "zip")
    assert custody_of(again, "zip")[-3]["details"]["unverified"] is True
    recheck = await cli("verify", str(write(tmp_path / "again.zip", again)))
    assert recheck.returncode == 1
    assert "records an import accepted unverified" in recheck.stdout

    data_dir = Path(app.state.packets_shard.services.data_dir)
    dropped = write(data_dir / "imports" / "bad.zip", bad)
    await forget(client, app, pid)
    refused = await client.post(f"{API}/import", json={"file_path": str(dropped)})
    assert refused.status_code == 422
    accepted = await client.post(
        f"{API}/import", json={"file_path": str(dropped), "allow_unverified": True}
    )
    assert accepted.status_code == 201 and accepted.json()["unverified"] is True
    logged = (await client.get(f"{API}/{pid}/custody")).json()["entries"][-1]["details"]
    assert logged["source"] == "file:bad.zip"  # no server folders in a log that travels
    await forget(client, app, pid)
    by_cli = await cli(
        "import", str(dropped), "--allow-unverified", database=(database_url, data_dir)
    )
    assert by_cli.returncode == 0, by_cli.stderr
    assert "UNVERIFIED" in by_cli.stdout
    assert "custody chain intact: no" in by_cli.stdout


async def test_a_bundle_without_its_log_is_imported_with_a_warning_but_not_one_unlisted(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """A bundle exported before custody logs carries none: nothing in it is wrong, it proves
    less. A log that is there but not in the tag manifest was slipped in: refused."""
    packet = await make_packet(client)
    await add_item(client, packet["id"], "d1")
    _, archive = await export(client, packet["id"], "zip")
    await forget(client, app, packet["id"])

    def without_log(files: Files) -> None:
        del files["custody.jsonl"]

    missing = await upload(client, rewrite(archive, "zip", without_log))
    assert missing.status_code == 201, missing.text
    body = missing.json()
    assert (body["errors"], body["unverified"], body["custody_intact"]) == ([], False, False)
    no_log = "the bundle carries no custody log (custody.jsonl): nothing records the packet's"
    assert [note for note in body["warnings"] if note.startswith(no_log)], body["warnings"]
    log = (await client.get(f"{API}/{packet['id']}/custody")).json()
    assert [entry["event"] for entry in log["entries"]] == ["imported"]
    assert log["intact"] is True
    await forget(client, app, packet["id"])

    root, files = bag_files(archive, "zip")
    files = rebuild_bag(files)
    files["tagmanifest-sha256.txt"] = b"".join(
        line
        for line in files["tagmanifest-sha256.txt"].splitlines(keepends=True)
        if not line.endswith(b"custody.jsonl\n")
    )
    unlisted = await upload(client, pack(root, files, "zip"))
    assert unlisted.status_code == 422
    assert "custody.jsonl is not listed in tagmanifest-sha256.txt" in unlisted.json()["detail"]
    assert (await upload(client, archive)).status_code == 201  # the draft as exported is fine


async def test_a_custody_log_over_the_bound_is_refused_before_it_is_read(
    client: httpx.AsyncClient, app: FastAPI, engine: Any
) -> None:
    import os

    packet = await make_packet(client)
    _, archive = await export(client, packet["id"], "zip")
    await forget(client, app, packet["id"])

    def oversized(files: Files) -> None:
        files["custody.jsonl"] += os.urandom(8 * 1024 * 1024 + 1).hex().encode()

    before = await database_rows(engine)
    refused = await upload(client, rewrite(archive, "zip", oversized))
    assert refused.status_code == 422, refused.text
    assert "custody.jsonl is larger than 16777216 bytes" in refused.json()["detail"]
    assert await database_rows(engine) == before
