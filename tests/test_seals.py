"""Signed seals: the installation's key (its file, GET /keys, rotation, a configured key), the
seal finalize signs, and a third party checking it in every export format with nothing but
the `cryptography` package."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from arkham_shard_packets.host.app import HostConfig, ShardsFailed, create_app

from .bundle_helpers import export, packet_with_files
from .cli_runs import run_cli
from .conftest import add_item, make_packet
from .custody_helpers import (
    canonical,
    check_chain_independently,
    check_seal_independently,
    custody_of,
    fingerprint,
    new_key,
    private_pem,
    raw_public,
    seal_of,
    sha256,
    write,
)
from .frame_users import Users, person

API = "/api/packets"


async def cli(database_url: str, data_dir: Path, *args: str, **env: str) -> Any:
    return await run_cli(
        *args, "--database-url", database_url, "--data-dir", str(data_dir), env=env
    )


async def keys(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/keys")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["keys"]
    return listed


async def sealed(client: httpx.AsyncClient) -> dict[str, Any]:
    packet = await make_packet(client)
    await add_item(client, packet["id"], "d1")
    response = await client.post(f"{API}/{packet['id']}/finalize")
    assert response.status_code == 200, response.text
    finalized: dict[str, Any] = response.json()
    return finalized


def data_dir_of(app: FastAPI) -> Path:
    return Path(app.state.packets_shard.services.data_dir)


async def test_the_key_file_is_made_at_first_start_for_the_owner_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    path = data_dir_of(app) / "keys" / "signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    raw = raw_public(key)
    (listed,) = await keys(client)
    assert listed["fingerprint"] == fingerprint(raw)
    assert base64.b64decode(listed["public_key"]) == raw
    assert (listed["algorithm"], listed["active"]) == ("ed25519", True)
    assert listed["created_at"].endswith("+00:00")


async def test_finalize_signs_a_seal_that_verify_checks(client: httpx.AsyncClient) -> None:
    packet = await sealed(client)
    (key,) = await keys(client)
    report = (await client.get(f"{API}/{packet['id']}/verify")).json()
    assert report["valid"] is True, report["problems"]
    assert report["signed_by"] == key["fingerprint"]
    assert (report["signature_valid"], report["trusted"]) == (True, True)
    assert report["custody_intact"] is True
    log = (await client.get(f"{API}/{packet['id']}/custody")).json()
    assert log["entries"][-1]["event"] == "finalized"
    assert log["entries"][-1]["details"]["key_fingerprint"] == key["fingerprint"]


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
async def test_a_third_party_checks_the_exported_seal_with_cryptography_alone(
    client: httpx.AsyncClient, users: Users, fmt: str
) -> None:
    alice, alice_id = person(users, "alice")
    client.headers.update(alice)
    packet = await packet_with_files(client)
    finalized = (await client.post(f"{API}/{packet['id']}/finalize")).json()
    await client.post(f"{API}/{packet['id']}/share", json={"shared_with": "public"})
    _, archive = await export(client, packet["id"], fmt)
    seal = seal_of(archive, fmt)
    check_seal_independently(seal)  # raises InvalidSignature otherwise
    (key,) = await keys(client)
    assert seal["key_fingerprint"] == key["fingerprint"]
    statement = seal["statement"]
    assert statement["packet_id"] == packet["id"]
    assert statement["version"] == finalized["version"]
    assert statement["checksum"] == finalized["checksum"]
    assert statement["checksum_recipe"] == 1
    assert statement["finalized_by"] == alice_id
    assert statement["finalized_at"] == finalized["updated_at"]
    entries = custody_of(archive, fmt)
    hashes = check_chain_independently(entries)
    assert entries[0]["event"] == "created"
    assert hashes[statement["custody_length"] - 1] == statement["custody_head"]
    assert entries[statement["custody_length"] - 1]["event"] == "finalized"
    assert entries[-1]["event"] == "shared"  # what happened after the seal travels too
    # and a single changed byte of the statement no longer checks
    forged = {**seal, "statement": {**statement, "finalized_by": "mallory"}}
    with pytest.raises(InvalidSignature):
        check_seal_independently(forged)


async def test_rotation_keeps_old_seals_verifiable(
    app: FastAPI, client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    first = await sealed(client)
    _, old_bundle = await export(client, first["id"], "zip")
    (old_key,) = await keys(client)
    data_dir = data_dir_of(app)
    rotated = await cli(database_url, data_dir, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    listed = await keys(client)
    assert [k["active"] for k in listed] == [False, True]
    assert listed[0]["fingerprint"] == old_key["fingerprint"]
    new_fingerprint = listed[1]["fingerprint"]
    assert f"active key: {new_fingerprint}" in rotated.stdout
    path = data_dir / "keys" / "signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = await sealed(client)  # the running server signs with the new key at once
    new_report = (await client.get(f"{API}/{second['id']}/verify")).json()
    assert new_report["signed_by"] == new_fingerprint
    old_report = (await client.get(f"{API}/{first['id']}/verify")).json()
    assert old_report["valid"] is True and old_report["signed_by"] == old_key["fingerprint"]
    assert old_report["trusted"] is True  # a retired key of this installation is still its own
    check_seal_independently(seal_of((await export(client, first["id"], "zip"))[1], "zip"))
    check_seal_independently(seal_of(old_bundle, "zip"))
    listing = await cli(database_url, data_dir, "keys", "list")
    assert f"retired  {old_key['fingerprint']}" in listing.stdout
    assert f"active   {new_fingerprint}" in listing.stdout
    exported = await cli(
        database_url, data_dir, "keys", "export", old_key["fingerprint"], "-o", str(tmp_path / "k")
    )
    assert exported.returncode == 0, exported.stderr
    loaded = serialization.load_pem_public_key((tmp_path / "k").read_bytes())
    assert (
        fingerprint(loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        == old_key["fingerprint"]
    )
    unknown = await cli(database_url, data_dir, "keys", "export", "sha256:" + "0" * 64)
    assert unknown.returncode == 1 and "no key" in unknown.stderr


async def test_a_configured_key_signs_and_is_not_rotated_by_the_cli(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import POSTGRES_URL, reset_postgres

    if POSTGRES_URL:
        await reset_postgres(database_url)
    key = new_key()
    pem = write(tmp_path / "secrets" / "packets.pem", private_pem(key))
    monkeypatch.setenv("ARKHAM_PACKETS_SIGNING_KEY_FILE", str(pem))
    data_dir = tmp_path / "data"
    app = create_app(HostConfig(data_dir=data_dir, database_url=database_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        packet = await sealed(http)
        report = (await http.get(f"{API}/{packet['id']}/verify")).json()
        assert report["signed_by"] == fingerprint(raw_public(key))
        assert [k["fingerprint"] for k in await keys(http)] == [fingerprint(raw_public(key))]
    assert not (data_dir / "keys" / "signing-key.pem").exists()
    refused = await cli(database_url, data_dir, "keys", "rotate")
    assert refused.returncode == 1
    assert "ARKHAM_PACKETS_SIGNING_KEY_FILE" in refused.stderr


async def test_a_missing_configured_key_stops_the_shard_from_loading(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_SIGNING_KEY_FILE", str(tmp_path / "nowhere.pem"))
    app = create_app(HostConfig(data_dir=tmp_path / "data", database_url=database_url))
    with pytest.raises(ShardsFailed, match=r"nowhere\.pem"):
        async with app.router.lifespan_context(app):
            pass


def readme_code(heading: str) -> dict[str, Any]:
    """What the first Python block under `heading` in docs/custody.md defines."""
    path = Path(__file__).resolve().parent.parent / "docs" / "custody.md"
    after = path.read_text(encoding="utf-8").split(heading, 1)[1].split("```python", 1)[1]
    code = after.split("\n", 1)[1].split("```", 1)[0]  # past the fence's info string
    namespace: dict[str, Any] = {}
    exec(compile(code, str(path), "exec"), namespace)
    return namespace


async def test_the_readme_shows_how_to_check_a_seal(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    from .test_export import unpack

    packet = await sealed(client)
    _, archive = await export(client, packet["id"], "zip")
    bag = unpack(archive, "zip", tmp_path / "bag")
    namespace = readme_code("## Checking a seal with any Ed25519 library")
    (key,) = await keys(client)
    statement = namespace["check_seal"](bag, key["fingerprint"])
    assert statement["packet_id"] == packet["id"]
    seal_file = bag / "packet-seal.json"
    seal_file.write_text(seal_file.read_text().replace(packet["id"], "0" * 8 + packet["id"][8:]))
    with pytest.raises(InvalidSignature):
        namespace["check_seal"](bag, key["fingerprint"])
    with pytest.raises(AssertionError):
        namespace["check_seal"](unpack(archive, "zip", tmp_path / "again"), "sha256:" + "1" * 64)
    _, document = await export(client, packet["id"], "json")
    bundle = write(tmp_path / "b.json", document)
    assert namespace["check_seal"](bundle, key["fingerprint"]) == statement
    forged = json.loads(document)
    forged["custody"][1]["at"] = "2001-09-11T08:46:00.000000+00:00"
    with pytest.raises(AssertionError, match="entry 3 is out of its chain"):
        namespace["check_seal"](
            write(tmp_path / "c.json", json.dumps(forged).encode()), key["fingerprint"]
        )


def test_private_keys_are_written_for_cryptography_to_read(tmp_path: Path) -> None:
    """The key file is made without loading cryptography; cryptography reads it, and the
    public key PEM we write is the one cryptography writes."""
    from arkham_shard_packets.sealing import signing

    pem = signing.new_private_pem()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    loaded = signing.load_private_key(pem)
    assert loaded.public_key == raw_public(key)
    theirs = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert signing.public_key_pem(loaded.public_key).encode() == theirs
    assert signing.public_key_from_text(theirs.decode()) == loaded.public_key
    assert signing.new_private_pem() != pem
    assert sha256(canonical({"b": 1, "a": "é"})) == sha256('{"a":"é","b":1}'.encode())


async def test_a_server_that_signs_and_checks_nothing_never_loads_cryptography(
    tmp_path: Path, database_url: str
) -> None:
    """cryptography's native library costs a process about 10 MB: start-up (the key file
    included), drafts, their export and their import must not load it."""
    from .conftest import POSTGRES_URL, reset_postgres

    if POSTGRES_URL:
        await reset_postgres(database_url)
    probe = (
        "import asyncio, sys, httpx\n"
        "from pathlib import Path\n"
        "from arkham_shard_packets.host.app import HostConfig, ShardsFailed, create_app\n"
        "async def main():\n"
        "    app = create_app(HostConfig(data_dir=Path(sys.argv[1]), database_url=sys.argv[2]))\n"
        "    transport = httpx.ASGITransport(app=app)\n"
        "    async with app.router.lifespan_context(app), httpx.AsyncClient(\n"
        "        transport=transport, base_url='http://t') as http:\n"
        "        pid = (await http.post('/api/packets/', json={'name': 'n'})).json()['id']\n"
        "        await http.post(f'/api/packets/{pid}/contents',\n"
        "                        json={'content_type': 'claim', 'content_id': 'c'})\n"
        "        done = (await http.post(f'/api/packets/{pid}/export', json={})).json()\n"
        "        archive = (await http.get(done['download_url'])).content\n"
        "        got = await http.post('/api/packets/import', files={'file': ('b.zip', archive)})\n"
        "        assert got.status_code == 201, got.text\n"
        "        assert (await http.get(f'/api/packets/{pid}/verify')).status_code == 200\n"
        "    print(sorted(m for m in sys.modules if m.startswith('cryptography')))\n"
        "asyncio.run(main())\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        probe,
        str(tmp_path / "data"),
        database_url,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    assert out.decode().strip() == "[]"
    assert (tmp_path / "data" / "keys" / "signing-key.pem").is_file()
