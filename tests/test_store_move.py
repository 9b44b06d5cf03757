"""Moving an installation into the bucket (`arkham-packets store migrate --to s3`, issue 27 item
8), on a real S3 endpoint (moto_server, or PACKETS_TEST_S3_URL's bucket): files and exports made
through the real app on the local store are served, byte for byte, by a server on the s3 store
with a data directory of its own; a move that stops resumes and sends nothing twice; damage in
the bucket is found and sent again, damage in the data directory named and kept out; while the
move runs a server reads what is not copied yet from its data directory."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update

from arkham_shard_packets.cli import main
from arkham_shard_packets.cli.banner import banner
from arkham_shard_packets.config import Settings
from arkham_shard_packets.core.file_modes import PRIVATE
from arkham_shard_packets.core.store import blob_key
from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.tables import packet_exports
from arkham_shard_packets.errors import StoreUnavailable
from arkham_shard_packets.host.app import HostConfig
from arkham_shard_packets.stores import build_store
from arkham_shard_packets.stores.fallback import FallbackStore
from arkham_shard_packets.stores.s3 import S3Store

from .bundle_helpers import attach, packet_with_files
from .conftest import add_item, make_packet
from .s3_bucket import Bucket
from .test_cli import last_bar, on_a_terminal
from .test_s3_store import server

API = "/api/packets"


@pytest.fixture
def bucket(s3_bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> str:
    """The S3 settings of a prefix of the test's own, while the servers still keep their files
    in the data directory (ARKHAM_PACKETS_STORE=local): that prefix."""
    prefix = s3_bucket.new_prefix()
    for name, value in s3_bucket.settings(prefix).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ARKHAM_PACKETS_STORE", "local")
    monkeypatch.delenv("ARKHAM_PACKETS_STORE_FALLBACK", raising=False)
    # the signing key in the database, so that a server on another machine seals with it
    monkeypatch.setenv("ARKHAM_PACKETS_KEY_ENCRYPTION_KEY", os.urandom(32).hex())
    return prefix


@dataclass
class Installation:
    packet_id: str
    downloads: dict[str, bytes]  # every route that serves a stored file or export: its bytes
    old_export: str  # the id of an export whose row names its file by path, as before 0.4.0


async def installation(data_dir: Path, database: str) -> Installation:
    """Made through the real app on the local store: a sealed, shared packet with two files and
    two exports (one of them recorded as exports were before the store), and a draft with a
    third file."""
    downloads: dict[str, bytes] = {}
    async with server(data_dir, database) as http:
        packet = await packet_with_files(http)
        pid = packet["id"]
        draft = await make_packet(http, "Draft")
        item = await add_item(http, draft["id"])
        assert (await attach(http, draft["id"], item["id"], b"draft scan\n" * 300)).is_success
        downloads[f"{API}/{draft['id']}/contents/{item['id']}/file"] = b"draft scan\n" * 300
        assert (await http.post(f"{API}/{pid}/finalize")).status_code == 200
        token = (await http.post(f"{API}/{pid}/share", json={"shared_with": "public"})).json()[
            "access_token"
        ]
        for item in (await http.get(f"{API}/{pid}/contents")).json():
            if item["file"] is not None:
                owner = f"{API}/{pid}/contents/{item['id']}/file"
                downloads[owner] = (await http.get(owner)).content
                link = f"{API}/shared/{token}/contents/{item['id']}/file"
                downloads[link] = (await http.get(link)).content
        exports = []
        for kind in ("zip", "tar.gz"):
            answer = (await http.post(f"{API}/{pid}/export", json={"format": kind})).json()
            downloads[answer["download_url"]] = (await http.get(answer["download_url"])).content
            exports.append(answer)
    old = exports[1]
    engine = create_engine(database)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(packet_exports)
                .where(packet_exports.c.id == old["export_id"])
                .values(store_key=None, file_path=str(data_dir / old["file_path"]))
            )
    finally:
        await engine.dispose()
    assert all(downloads.values())
    return Installation(pid, downloads, old["export_id"])


def local_objects(data_dir: Path) -> dict[str, bytes]:
    """The local store's objects: attached files and export bundles, by key."""
    found = {}
    for folder in ("files", "exports"):
        for path in (data_dir / folder).rglob("*"):
            if path.is_file() and not any(part.startswith(".") for part in path.parts):
                found[path.relative_to(data_dir).as_posix()] = path.read_bytes()
    return found


async def bucket_objects(s3_bucket: Bucket, prefix: str) -> dict[str, bytes]:
    keys = [key for key in await s3_bucket.keys(prefix) if not key.startswith(".check/")]
    return {key: await s3_bucket.read(prefix + key) for key in keys}


async def migrate(
    data_dir: Path,
    database: str,
    capsys: pytest.CaptureFixture[str],
    *more: str,
) -> tuple[int, str, str]:
    where = ["--data-dir", str(data_dir), "--database-url", database, "--quiet", *more]
    code = await asyncio.to_thread(main, ["store", "migrate", "--to", "s3", *where])
    out, err = capsys.readouterr()
    return code, out, err


@contextmanager
def puts(monkeypatch: pytest.MonkeyPatch, fail_after: int | None = None) -> Iterator[list[str]]:
    """The keys the s3 store is sent while the block runs; with `fail_after`, every put after
    that many fails as a bucket that stopped answering does."""
    sent: list[str] = []
    started: list[str] = []
    original = S3Store.put

    async def put(store: S3Store, key: str, source: Path) -> None:
        if fail_after is not None and len(started) >= fail_after:
            raise StoreUnavailable("the file store is unavailable (connection reset); try again")
        started.append(key)
        await original(store, key, source)
        sent.append(key)

    with monkeypatch.context() as patched:
        patched.setattr(S3Store, "put", put)
        yield sent


async def served(
    data_dir: Path,
    database: str,
    made: Installation,
) -> None:
    """A server on `data_dir` answers every download of the installation with its bytes."""
    async with server(data_dir, database) as http:
        for url, body in made.downloads.items():
            answer = await http.get(url)
            assert answer.status_code == 200, (url, answer.text)
            assert answer.content == body, url
        verdict = (await http.get(f"{API}/{made.packet_id}/verify")).json()
        assert verdict["valid"] is True, verdict


async def test_an_installation_moves_into_the_bucket_and_any_server_serves_it(
    tmp_path: Path,
    database_url: str,
    bucket: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "desk"
    made = await installation(data_dir, database_url)
    elsewhere = tmp_path / "elsewhere.zip"
    where = ["--data-dir", str(data_dir), "--database-url", database_url]
    assert (
        await asyncio.to_thread(main, ["export", made.packet_id, "-o", str(elsewhere), *where]) == 0
    )
    capsys.readouterr()
    local = local_objects(data_dir)
    assert len([key for key in local if key.startswith("files/")]) == 3
    assert len([key for key in local if key.startswith("exports/")]) == 2

    command = ["store", "migrate", "--to", "s3", *where]
    status, printed, shown = await asyncio.to_thread(on_a_terminal, *command)
    assert status == 0, shown
    count = len(local)
    bar = last_bar(shown, "migrate")
    assert re.search(rf"migrate 100%\|.*\| ([\d.]+ KiB) of \1, {count} of {count} objects", bar)
    lines = printed.splitlines()
    assert lines[0].startswith(f"copied {count} of {count} objects (")
    assert lines[0].endswith(f"into s3://{s3_bucket.name}/{bucket} at {s3_bucket.endpoint_url}")
    assert "1 export made before exports were stored now named by its key in the bucket" in lines
    assert f"1 export named by a path outside {data_dir / 'exports'}" in printed
    assert lines[-1].startswith(f"every attached file and export of {data_dir} is in the bucket")
    assert "ARKHAM_PACKETS_STORE=s3 without ARKHAM_PACKETS_STORE_FALLBACK" in lines[-1]
    assert await bucket_objects(s3_bucket, bucket) == local
    assert local_objects(data_dir) == local  # nothing local removed
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            old = (
                await conn.execute(
                    select(packet_exports.c.store_key, packet_exports.c.file_path).where(
                        packet_exports.c.id == made.old_export
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    assert old.store_key == old.file_path and old.store_key in local

    monkeypatch.setenv("ARKHAM_PACKETS_STORE", "s3")
    await served(tmp_path / "another-machine", database_url, made)

    with puts(monkeypatch) as sent:  # a finished move, run again: checks, sends nothing
        code, out, err = await migrate(data_dir, database_url, capsys)
    assert (code, err, sent) == (0, "", [])
    assert out.startswith(f"copied 0 of {count} objects (0 B) into")
    assert f"\n{count} were in the bucket already, read back and checked (" in out


async def test_a_move_that_stopped_resumes_and_sends_nothing_twice(
    tmp_path: Path,
    database_url: str,
    bucket: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "desk"
    made = await installation(data_dir, database_url)
    local = local_objects(data_dir)
    with puts(monkeypatch, fail_after=2) as first:
        code, out, err = await migrate(data_dir, database_url, capsys, "--jobs", "3")
    assert code == 1
    assert err == "stopped: the file store is unavailable (connection reset); try again\n"
    assert out.splitlines()[0].startswith(f"copied 2 of {len(local)} objects")
    assert out.splitlines()[-1] == (
        "run the command again: it copies only what is not in the bucket yet"
    )
    assert len(first) == 2 and sorted(await s3_bucket.keys(bucket)) == sorted(first)

    with puts(monkeypatch) as second:
        code, out, err = await migrate(data_dir, database_url, capsys, "--jobs", "3")
    assert (code, err) == (0, ""), out
    assert sorted(first + second) == sorted(local)  # each sent once
    assert "\n2 were in the bucket already, read back and checked" in out
    assert await bucket_objects(s3_bucket, bucket) == local
    monkeypatch.setenv("ARKHAM_PACKETS_STORE", "s3")
    await served(tmp_path / "another-machine", database_url, made)


async def test_damage_in_the_bucket_is_sent_again_and_damage_at_home_is_named(
    tmp_path: Path,
    database_url: str,
    bucket: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "desk"
    await installation(data_dir, database_url)
    local = local_objects(data_dir)
    assert (await migrate(data_dir, database_url, capsys))[0] == 0
    blobs = sorted(key for key in local if key.startswith("files/"))
    export = sorted(key for key in local if key.startswith("exports/"))[0]
    altered, removed = blobs[0], blobs[1]
    await s3_bucket.write(bucket + altered, bytes(len(local[altered])))  # same size, other bytes
    await s3_bucket.write(bucket + export, local[export][:-100])  # cut short, as by a crash
    await s3_bucket.remove(bucket + removed)
    with puts(monkeypatch) as sent:
        code, out, err = await migrate(data_dir, database_url, capsys)
    assert (code, err) == (0, ""), out
    assert sorted(sent) == sorted([altered, export, removed])
    assert await bucket_objects(s3_bucket, bucket) == local

    damaged = data_dir / blobs[2]
    damaged.chmod(0o600)
    damaged.write_bytes(b"x" * len(local[blobs[2]]))
    await s3_bucket.remove(bucket + blobs[2])
    code, out, err = await migrate(data_dir, database_url, capsys)
    assert code == 1
    digest = hashlib.sha256(b"x" * len(local[blobs[2]])).hexdigest()
    assert err == (
        f"failed: {blobs[2]}: damaged in the data directory: its SHA-256 is {digest}, not "
        f"{blobs[2].rsplit('/', 1)[1]}; left out of the bucket\n"
    )
    assert "1 object not moved (above); the rest are in the bucket" in out
    assert blobs[2] not in await s3_bucket.keys(bucket)


async def test_while_it_moves_a_server_reads_what_is_not_in_the_bucket_yet(
    tmp_path: Path,
    database_url: str,
    bucket: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "desk"
    made = await installation(data_dir, database_url)
    local = local_objects(data_dir)
    monkeypatch.setenv("ARKHAM_PACKETS_STORE", "s3")
    monkeypatch.setenv("ARKHAM_PACKETS_STORE_FALLBACK", "local")
    await served(data_dir, database_url, made)  # nothing copied yet: all from the data directory
    assert await s3_bucket.keys(bucket) == {}

    async with server(data_dir, database_url) as http:  # a new file goes into the bucket only
        packet = await make_packet(http, "During the move")
        item = await add_item(http, packet["id"])
        scan = b"filed during the move\n" * 40
        assert (await attach(http, packet["id"], item["id"], scan)).status_code == 200
        made.downloads[f"{API}/{packet['id']}/contents/{item['id']}/file"] = scan
    new = blob_key(hashlib.sha256(scan).hexdigest())
    assert new in await s3_bucket.keys(bucket) and new not in local_objects(data_dir)

    with puts(monkeypatch, fail_after=2):
        assert (await migrate(data_dir, database_url, capsys, "--jobs", "1"))[0] == 1
    assert len(await s3_bucket.keys(bucket)) == 3
    await served(data_dir, database_url, made)  # two copied, the rest from the data directory
    assert (await migrate(data_dir, database_url, capsys))[0] == 0
    assert await bucket_objects(s3_bucket, bucket) == local | {new: scan}

    monkeypatch.delenv("ARKHAM_PACKETS_STORE_FALLBACK")  # the switch
    await served(tmp_path / "another-machine", database_url, made)


async def test_a_move_refuses_in_one_line_what_it_cannot_use(
    tmp_path: Path,
    empty_database_url: str,
    bucket: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database_url = empty_database_url  # no installation there (conftest.py's is one already)
    data_dir = tmp_path / "desk"
    data_dir.mkdir()
    monkeypatch.setenv("ARKHAM_PACKETS_S3_BUCKET", "packets-no-such-bucket")
    code, out, err = await migrate(data_dir, database_url, capsys)
    where = f"s3://packets-no-such-bucket/{bucket} at {s3_bucket.endpoint_url}"
    assert (code, out) == (2, "")
    assert err == f"arkham-packets: error: can't use the bucket {where}: no such bucket (404)\n"
    monkeypatch.delenv("ARKHAM_PACKETS_S3_BUCKET")
    code, out, err = await migrate(data_dir, database_url, capsys)
    assert (code, out) == (2, "")
    assert err.startswith("arkham-packets: error: store migrate --to s3 needs the bucket: set ")
    assert len(err.splitlines()) == 1
    monkeypatch.setenv("ARKHAM_PACKETS_S3_BUCKET", s3_bucket.name)
    code, out, err = await migrate(tmp_path / "nowhere", database_url, capsys)
    assert (code, err) == (
        2,
        f"arkham-packets: error: no data directory at {tmp_path}/nowhere: nothing to move\n",
    )
    code, out, err = await migrate(data_dir, database_url, capsys, "--jobs", "0")
    assert (code, err) == (2, "arkham-packets: error: --jobs 0: give 1 to 64\n")
    code, out, err = await migrate(data_dir, database_url, capsys)  # no installation there
    assert code == 2 and "`arkham-packets init` makes one" in err
    init = ["init", "--data-dir", str(data_dir), "--database-url", database_url]
    assert await asyncio.to_thread(main, init) == 0
    capsys.readouterr()
    code, out, err = await migrate(data_dir, database_url, capsys)  # an empty installation
    assert code == 0 and out.startswith("copied 0 of 0 objects (0 B) into s3://")


def test_the_banner_says_the_installation_is_moving(
    tmp_path: Path, bucket: str, s3_bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_STORE", "s3")
    monkeypatch.setenv("ARKHAM_PACKETS_STORE_FALLBACK", "local")
    shown = banner(HostConfig(data_dir=tmp_path), "127.0.0.1", 8100)
    where = f"s3://{s3_bucket.name}/{bucket} at {s3_bucket.endpoint_url}"
    assert (
        f"\n  files     {where}\n"
        "            and the data directory for those not in it yet (moving)\n"
    ) in shown


def test_the_fallback_is_read_only_beside_the_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("ARKHAM_PACKETS_"):
            monkeypatch.delenv(name)
    moving = Settings(store="s3", s3_bucket="evidence", store_fallback="local")
    built = build_store(moving, tmp_path, PRIVATE)
    assert isinstance(built, FallbackStore) and built.backend == "s3"
    assert built.location == f"s3://evidence/, and {tmp_path} for what is not there yet"
    assert Settings(store_fallback="").store_fallback is None
    with pytest.raises(ValueError):
        Settings(store_fallback="s3")
    with pytest.raises(Exception, match="it needs ARKHAM_PACKETS_STORE=s3"):
        build_store(Settings(store_fallback="local"), tmp_path, PRIVATE)
