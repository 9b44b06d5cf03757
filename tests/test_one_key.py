"""One signing key for servers sharing a database, each with a data directory of its own, as
machines behind a load balancer are: with ARKHAM_PACKETS_KEY_ENCRYPTION_KEY the key is kept in
the database, encrypted, and every server seals with it (made once when servers start at once,
rotated anywhere and used everywhere, moved in from a key file keeping its fingerprint); a
server with another key-encryption key, or without one, refuses to start; without one, a
server whose key file does not hold the active key refuses to start rather than seal with a
key of its own."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError
from sqlalchemy import text

from arkham_shard_packets.host.app import HostConfig, ShardsFailed, create_app

from .bundle_helpers import export
from .conftest import POSTGRES_URL, reset_postgres
from .custody_helpers import (
    check_seal_independently,
    fingerprint,
    new_key,
    private_pem,
    raw_public,
    seal_of,
    write,
)
from .test_seals import cli, keys, sealed

API = "/api/packets"
KEK_SETTING = "ARKHAM_PACKETS_KEY_ENCRYPTION_KEY"
KEK = bytes(range(32))
OTHER_KEK = bytes(range(1, 33))
PROCESSES = 6


def key_file(data_dir: Path) -> Path:
    return data_dir / "keys" / "signing-key.pem"


@pytest.fixture
async def url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database, and no key-encryption key until a test sets one."""
    monkeypatch.delenv(KEK_SETTING, raising=False)
    if POSTGRES_URL:
        await reset_postgres(database_url)
    return database_url


@asynccontextmanager
async def server(data_dir: Path, url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(HostConfig(data_dir=data_dir, database_url=url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield http


async def refused(data_dir: Path, url: str) -> str:
    """Why a server on `data_dir` does not start."""
    app = create_app(HostConfig(data_dir=data_dir, database_url=url))
    with pytest.raises(ShardsFailed) as failed:
        async with app.router.lifespan_context(app):
            pass
    return str(failed.value)


async def stored(url: str) -> list[dict[str, Any]]:
    """The registry's rows as the database holds them, oldest first."""
    from arkham_shard_packets.db.engine import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT * FROM arkham_packet_signing_keys ORDER BY created_at, fingerprint")
            )
            return [dict(row) for row in found.mappings()]
    finally:
        await engine.dispose()


async def migrated(url: str) -> None:
    from arkham_shard_packets.db.engine import create_engine
    from arkham_shard_packets.db.schema import ensure_newest

    engine = create_engine(url)
    try:
        await ensure_newest(engine)
    finally:
        await engine.dispose()


def decrypted(row: dict[str, Any], kek: bytes) -> bytes:
    """The row's private key decrypted as docs/custody.md says it is kept: `aes-256-gcm:` and
    the base64 of a 12-byte nonce, the ciphertext and its tag, the fingerprint authenticated."""
    scheme, body = row["encrypted_private_key"].split(":", 1)
    assert scheme == "aes-256-gcm"
    raw = base64.b64decode(body)
    associated = f"arkham-packets signing key {row['fingerprint']}".encode()
    return AESGCM(kek).decrypt(raw[:12], raw[12:], associated)


async def verified_on(http: httpx.AsyncClient, packet_id: str) -> dict[str, Any]:
    report: dict[str, Any] = (await http.get(f"{API}/{packet_id}/verify")).json()
    assert report["valid"] is True, report["problems"]
    assert (report["signature_valid"], report["trusted"]) == (True, True), report
    return report


async def test_a_seal_made_on_one_server_verifies_on_another(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEK_SETTING, base64.b64encode(KEK).decode())
    async with server(tmp_path / "a", url) as a, server(tmp_path / "b", url) as b:
        first = await sealed(a)
        (key,) = await keys(a)
        assert await keys(b) == [key] and key["active"]
        report = await verified_on(b, first["id"])
        assert report["signed_by"] == key["fingerprint"]
        log = (await b.get(f"{API}/{first['id']}/custody")).json()
        assert log["intact"] is True
        assert log["entries"][-1]["details"]["key_fingerprint"] == key["fingerprint"]
        second = await sealed(b)
        assert (await verified_on(a, second["id"]))["signed_by"] == key["fingerprint"]
        seal = seal_of((await export(b, first["id"], "zip"))[1], "zip")
        check_seal_independently(seal)
        assert seal["key_fingerprint"] == key["fingerprint"]
    # no private key on either machine's disk: it is in the database, encrypted
    assert not key_file(tmp_path / "a").exists() and not key_file(tmp_path / "b").exists()
    (row,) = await stored(url)
    raw = decrypted(row, KEK)
    public = raw_public(Ed25519PrivateKey.from_private_bytes(raw))
    assert fingerprint(public) == key["fingerprint"]
    assert base64.b64encode(raw).decode() not in str(row) and raw.hex() not in str(row)


async def test_processes_starting_at_once_make_one_key(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processes started together on machines of their own, before the installation has a
    key (`init` prepares the key as a server does): they take it under the registry's lock,
    so they agree on the one the first made, and servers started then sign with it."""
    monkeypatch.setenv(KEK_SETTING, KEK.hex())
    await migrated(url)  # so their starts overlap rather than wait on one migration
    started = await asyncio.gather(
        *(cli(url, tmp_path / f"p{n}", "init") for n in range(PROCESSES))
    )
    assert [ran.returncode for ran in started] == [0] * PROCESSES, [r.stderr for r in started]
    (line,) = {ran.stdout.splitlines()[-1] for ran in started}
    assert line.startswith("  signing key sha256:"), line
    (row,) = await stored(url)
    assert line.split()[-1] == row["fingerprint"]
    async with server(tmp_path / "a", url) as a, server(tmp_path / "b", url) as b:
        for http in (a, b):
            report = await verified_on(http, (await sealed(http))["id"])
            assert report["signed_by"] == row["fingerprint"]
    assert len(await stored(url)) == 1


async def test_a_rotation_on_one_server_is_used_by_the_others_next_seal(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEK_SETTING, base64.urlsafe_b64encode(KEK).decode().rstrip("="))
    async with server(tmp_path / "a", url) as a, server(tmp_path / "b", url) as b:
        first = await sealed(a)
        (old,) = await keys(b)
        rotated = await cli(url, tmp_path / "a", "keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        second = await sealed(b)  # B's next seal, with the key rotated from A's machine
        listed = await keys(b)
        assert await keys(a) == listed
        assert [k["fingerprint"] for k in listed if not k["active"]] == [old["fingerprint"]]
        (new,) = [k["fingerprint"] for k in listed if k["active"]]
        assert new != old["fingerprint"] and f"active key: {new}" in rotated.stdout
        assert (await verified_on(a, second["id"]))["signed_by"] == new
        assert (await verified_on(b, first["id"]))["signed_by"] == old["fingerprint"]
    rows = {row["fingerprint"]: row for row in await stored(url)}
    assert rows[old["fingerprint"]]["encrypted_private_key"] is None  # gone with the rotation
    assert (
        fingerprint(raw_public(Ed25519PrivateKey.from_private_bytes(decrypted(rows[new], KEK))))
        == new
    )
    listing = await cli(url, tmp_path / "b", "keys", "list")
    assert listing.returncode == 0, listing.stderr
    assert f"active   {new}" in listing.stdout
    assert f"retired  {old['fingerprint']}" in listing.stdout


async def test_another_or_no_key_encryption_key_refuses_to_start(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEK_SETTING, KEK.hex())
    async with server(tmp_path / "a", url) as a:
        packet = await sealed(a)
        (key,) = await keys(a)
        monkeypatch.setenv(KEK_SETTING, OTHER_KEK.hex())
        why = await refused(tmp_path / "b", url)
        assert (
            f"{KEK_SETTING} is not the key-encryption key the installation's signing key "
            f"{key['fingerprint']} is kept with: give this server the value the other servers "
            "have"
        ) in why
        other = await cli(url, tmp_path / "b", "keys", "rotate")
        assert other.returncode == 1 and f"{KEK_SETTING} is not the key-encryption" in other.stderr
        monkeypatch.delenv(KEK_SETTING)
        why = await refused(tmp_path / "b", url)
        assert (
            f"the installation's signing key {key['fingerprint']} is kept in the database, "
            f"encrypted: set {KEK_SETTING} to the value the other servers have"
        ) in why
        assert not key_file(tmp_path / "b").exists()
        plain = await cli(url, tmp_path / "b", "keys", "rotate")
        assert plain.returncode == 1 and "is kept in the database" in plain.stderr
        monkeypatch.setenv(KEK_SETTING, "not 32 bytes")
        with pytest.raises(ValidationError, match="must be 32 random bytes"):
            await refused(tmp_path / "b", url)
        listing = await cli(url, tmp_path / "b", "keys", "list")
        assert listing.returncode == 2
        assert f"({KEK_SETTING}): must be 32 random bytes" in listing.stderr
        assert "not 32 bytes" not in listing.stderr  # a secret is never repeated
        # the server that started keeps signing with the one key
        assert await keys(a) == [key]
        assert (await verified_on(a, packet["id"]))["signed_by"] == key["fingerprint"]
    assert len(await stored(url)) == 1


async def test_without_a_key_encryption_key_a_server_never_signs_with_a_key_of_its_own(
    tmp_path: Path, url: str
) -> None:
    async with server(tmp_path / "a", url) as a:
        first = await sealed(a)
        (key,) = await keys(a)
        why = await refused(tmp_path / "b", url)
        assert (
            f"the installation signs with {key['fingerprint']}, and this server's key file "
            f"{key_file(tmp_path / 'b')} does not exist: servers sharing a database sign with "
            f"one key: give every server the same {KEK_SETTING} (docs/custody.md), or run "
            "`arkham-packets keys rotate` here to make this server's key the active one"
        ) in why
        assert not key_file(tmp_path / "b").exists()  # no key of its own was made
        write(key_file(tmp_path / "b"), private_pem(new_key()))
        assert "holds another key" in await refused(tmp_path / "b", url)
        async with server(tmp_path / "a", url) as same_data_dir:  # a second process, as today
            second = await sealed(same_data_dir)
            assert (await verified_on(a, second["id"]))["signed_by"] == key["fingerprint"]
        rotated = await cli(url, tmp_path / "b", "keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        (new,) = [k["fingerprint"] for k in await keys(a) if k["active"]]
        draft = (await a.post(f"{API}/", json={"name": "After"})).json()
        answer = await a.post(f"{API}/{draft['id']}/finalize")
        assert answer.status_code == 503, answer.text
        assert answer.json()["detail"].startswith(
            f"the installation signs with {new}, and this server's key file "
            f"{key_file(tmp_path / 'a')} holds another key"
        )
        assert (await a.get(f"{API}/{draft['id']}")).json()["status"] == "draft"
        assert [k["fingerprint"] for k in await keys(a)] == [key["fingerprint"], new]
        async with server(tmp_path / "b", url) as b:
            assert (await verified_on(b, (await sealed(b))["id"]))["signed_by"] == new
            assert (await verified_on(b, first["id"]))["signed_by"] == key["fingerprint"]
    assert "holds another key" in await refused(tmp_path / "a", url)


async def test_a_key_file_moves_into_the_database_keeping_its_fingerprint(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with server(tmp_path / "a", url) as a:  # one machine, its key in its data directory
        first = await sealed(a)
        (key,) = await keys(a)
    monkeypatch.setenv(KEK_SETTING, KEK.hex())
    why = await refused(tmp_path / "c", url)  # not the machine that holds the key
    assert (
        f"the installation's signing key {key['fingerprint']} is kept in a key file, and this "
        f"server's ({key_file(tmp_path / 'c')}) does not hold it: start the server that holds "
        f"it with {KEK_SETTING} set, which moves the key into the database"
    ) in why
    async with server(tmp_path / "a", url) as a, server(tmp_path / "c", url) as c:
        assert await keys(a) == [key] == await keys(c)
        assert (await verified_on(c, first["id"]))["signed_by"] == key["fingerprint"]
        second = await sealed(c)
        assert (await verified_on(a, second["id"]))["signed_by"] == key["fingerprint"]
    (row,) = await stored(url)
    assert (
        fingerprint(raw_public(Ed25519PrivateKey.from_private_bytes(decrypted(row, KEK))))
        == (key["fingerprint"])
    )
    assert f"{key_file(tmp_path / 'a')} holds a private key this server does not read" in (
        caplog.text
    )
    monkeypatch.delenv(KEK_SETTING)  # the file left behind signs nothing on its own
    assert "is kept in the database, encrypted" in await refused(tmp_path / "a", url)


async def test_a_configured_key_file_put_in_is_made_the_active_key_by_rotate(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = write(tmp_path / "secrets" / "packets.pem", private_pem(new_key()))
    monkeypatch.setenv("ARKHAM_PACKETS_SIGNING_KEY_FILE", str(configured))
    async with server(tmp_path / "a", url) as a:
        first = await sealed(a)
        (old,) = await keys(a)
    replacement = new_key()
    write(configured, private_pem(replacement))
    assert "holds another key" in await refused(tmp_path / "a", url)
    rotated = await cli(url, tmp_path / "a", "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    new = fingerprint(raw_public(replacement))
    assert f"active key: {new}" in rotated.stdout
    async with server(tmp_path / "b", url) as b:  # the same configured file on a second one
        assert (await verified_on(b, (await sealed(b))["id"]))["signed_by"] == new
        assert (await verified_on(b, first["id"]))["signed_by"] == old["fingerprint"]


async def test_a_new_key_encryption_key_comes_with_a_new_signing_key(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key-encryption key may have leaked: `keys rotate --new-key-encryption-key` with the
    new one set keeps a new signing key with it; a server still given the old one refuses to
    sign, saying why, until it is given the new one."""
    monkeypatch.setenv(KEK_SETTING, KEK.hex())
    async with server(tmp_path / "a", url) as a:
        first = await sealed(a)
        (old,) = await keys(a)
        changed = {KEK_SETTING: OTHER_KEK.hex()}
        (tmp_path / "b").mkdir()  # another machine's data directory
        plain = await cli(url, tmp_path / "b", "keys", "rotate", **changed)
        assert plain.returncode == 1 and f"{KEK_SETTING} is not the key-encryption" in plain.stderr
        rotated = await cli(
            url, tmp_path / "b", "keys", "rotate", "--new-key-encryption-key", **changed
        )
        assert rotated.returncode == 0, rotated.stderr
        (new,) = [k["fingerprint"] for k in await keys(a) if k["active"]]
        assert new != old["fingerprint"]
        draft = (await a.post(f"{API}/", json={"name": "After"})).json()
        answer = await a.post(f"{API}/{draft['id']}/finalize")
        assert answer.status_code == 503, answer.text
        assert answer.json()["detail"] == (
            f"{KEK_SETTING} is not the key-encryption key the installation's signing key "
            f"{new} is kept with: give this server the value the other servers have"
        )
        monkeypatch.setenv(KEK_SETTING, OTHER_KEK.hex())
        async with server(tmp_path / "b", url) as b:
            assert (await verified_on(b, (await sealed(b))["id"]))["signed_by"] == new
            assert (await verified_on(b, first["id"]))["signed_by"] == old["fingerprint"]
    rows = {row["fingerprint"]: row for row in await stored(url)}
    assert rows[old["fingerprint"]]["encrypted_private_key"] is None
    assert (
        fingerprint(
            raw_public(Ed25519PrivateKey.from_private_bytes(decrypted(rows[new], OTHER_KEK)))
        )
        == new
    )
    monkeypatch.delenv(KEK_SETTING)
    file_mode = await cli(url, tmp_path / "b", "keys", "rotate", "--new-key-encryption-key")
    assert file_mode.returncode == 1
    assert f"a new key-encryption key is given by setting {KEK_SETTING} to it" in (file_mode.stderr)
