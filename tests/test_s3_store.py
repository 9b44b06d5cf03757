"""The store on its two backends, and the s3 one through the real app on a real S3 endpoint
(moto_server on 127.0.0.1, or PACKETS_TEST_S3_URL's bucket): two servers with separate data
directories sharing one database and one bucket serve each other's files, exports and share
links; nothing of a file stays on either machine; a bucket that can't be used stops the start
in one line, and one lost later is a 503, never a 500."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.cli import main
from arkham_shard_packets.cli.banner import banner
from arkham_shard_packets.config import Settings
from arkham_shard_packets.core.byte_ranges import WHOLE, Wanted
from arkham_shard_packets.core.file_modes import PRIVATE
from arkham_shard_packets.core.store import (
    ObjectMissing,
    Store,
    StoreUnusable,
    blob_key,
    download,
    open_part,
    read_range,
)
from arkham_shard_packets.errors import RangeNotSatisfiable
from arkham_shard_packets.frame.seam import with_frame_config
from arkham_shard_packets.host.app import HostConfig, ShardsFailed, create_app
from arkham_shard_packets.stores import build_store
from arkham_shard_packets.stores.local import LocalStore
from arkham_shard_packets.stores.s3 import S3Store
from arkham_shard_packets.stores.s3_session import new_session

from .bundle_helpers import attach, packet_with_files
from .conftest import add_item, make_packet
from .live_host import free_port
from .s3_bucket import S3_URL, Bucket

API = "/api/packets"
MIB = 1024 * 1024


@asynccontextmanager
async def server(data_dir: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A host of its own (its own data directory) on the shared database and store."""
    app = create_app(HostConfig(data_dir=data_dir, database_url=database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


def app_of(http: httpx.AsyncClient) -> FastAPI:
    app: FastAPI = http.app  # type: ignore[attr-defined]
    return app


def files_on_disk(data_dir: Path) -> list[Path]:
    """What a data directory holds outside its scratch and its database: on the s3 store, no
    attached file and no export, ever."""
    kept = []
    for path in data_dir.rglob("*"):
        place = path.relative_to(data_dir).parts
        if path.is_file() and place[0] in ("files", "exports"):
            kept.append(path)
    return kept


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Store]:
    if request.param == "local":
        yield LocalStore(tmp_path / "data", PRIVATE)
        return
    s3 = S3Store(
        s3_bucket.name,
        s3_bucket.new_prefix(),
        staging=tmp_path / "spool",
        endpoint_url=s3_bucket.endpoint_url,
        region=s3_bucket.region,
        addressing_style="path",
        part_bytes=5 * MIB,  # S3's smallest part: a 12 MiB file goes up in three
    )
    for name, value in s3_bucket.credentials.items():
        monkeypatch.setenv(name, value)
    try:
        yield s3
    finally:
        await s3.close()


def test_s3_sessions_share_what_botocore_read_of_its_services() -> None:
    """Every S3 session of a process shares one reader of botocore's service descriptions: a
    session of its own read their JSON files again, about 0.2 s of CPU for every client."""
    first, second = new_session(), new_session()
    assert first is not second
    assert first.get_component("data_loader") is second.get_component("data_loader")


async def test_a_store_keeps_reads_lists_and_deletes_objects(store: Store, tmp_path: Path) -> None:
    await store.check()
    source = tmp_path / "evidence.bin"
    data = os.urandom(12 * MIB + 12345)
    source.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    key = blob_key(digest)

    assert await store.size(key) is None
    with pytest.raises(ObjectMissing):
        await store.open(key)
    await store.put(key, source)
    assert source.read_bytes() == data  # the caller's file stays
    assert await store.size(key) == len(data)
    assert await store.sha256(key) == digest

    whole = await store.open(key)
    assert whole.size == len(data)
    assert b"".join([chunk async for chunk in whole.chunks()]) == data
    part = await store.open(key, 5 * MIB - 3, 5 * MIB + 7)
    assert part.size == len(data)
    assert b"".join([chunk async for chunk in part.chunks()]) == data[5 * MIB - 3 : 5 * MIB + 7]
    tail = b"".join([c async for c in read_range(store, key, len(data) - 10, len(data))])
    assert tail == data[-10:]
    empty = await store.open(key, len(data), len(data) + 5)
    assert [chunk async for chunk in empty.chunks()] == []
    copy = tmp_path / "copy.bin"
    assert await download(store, key, copy) == len(data)
    assert copy.read_bytes() == data

    small = tmp_path / "small.zip"
    small.write_bytes(b"PK bundle")
    await store.put("exports/packet-1.zip", small)
    listed = {found.key: found.size async for found in store.list("files/")}
    assert listed == {key: len(data)}
    exports = [found.key async for found in store.list("exports/")]
    assert exports == ["exports/packet-1.zip"]

    unread = await store.open("exports/packet-1.zip")
    await unread.aclose()  # opened, never read: closed all the same
    await store.delete(key)
    await store.delete(key)  # gone already: no error
    assert await store.size(key) is None
    assert await store.sha256(key) is None


async def test_a_download_opens_only_the_part_it_answers(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "film.bin"
    data = os.urandom(3000)
    source.write_bytes(data)
    key = blob_key(hashlib.sha256(data).hexdigest())
    await store.put(key, source)

    async def answered(wanted: Wanted) -> tuple[Any, bytes]:
        opened, span = await open_part(partial(store.open, key), len(data), wanted, None)
        start, length = (0, opened.size) if span is None else (span.start, span.length)
        try:
            return span, b"".join([chunk async for chunk in opened.read(start, length)])
        finally:
            opened.close()

    span, part = await answered(Wanted("bytes=1000-1999"))
    assert (span.content_range, part) == ("bytes 1000-1999/3000", data[1000:2000])
    span, tail = await answered(Wanted("bytes=-10"))
    assert (span.content_range, tail) == ("bytes 2990-2999/3000", data[-10:])
    assert await answered(WHOLE) == (None, data)
    with pytest.raises(RangeNotSatisfiable):
        await answered(Wanted("bytes=3000-"))
    await store.delete(key)  # lost: that is the answer, whatever the range
    for wanted in (Wanted("bytes=3000-"), Wanted("bytes=0-5"), WHOLE):
        with pytest.raises(ObjectMissing):
            await answered(wanted)


async def test_two_servers_one_database_one_bucket_serve_each_others_files(
    tmp_path: Path, database_url: str, s3_store: str, s3_bucket: Bucket
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    async with server(one, database_url) as a, server(two, database_url) as b:
        packet = await packet_with_files(a)
        pid = packet["id"]
        items = (await a.get(f"{API}/{pid}/contents")).json()
        letter = next(item for item in items if item["content_id"] == "doc-1")
        stored = await a.get(f"{API}/{pid}/contents/{letter['id']}/file")
        assert stored.status_code == 200
        from_b = await b.get(f"{API}/{pid}/contents/{letter['id']}/file")
        assert from_b.status_code == 200, from_b.text
        assert from_b.content == stored.content
        digest = letter["file"]["sha256"]
        assert blob_key(digest) in await s3_bucket.keys(s3_store)

        assert (await a.post(f"{API}/{pid}/finalize")).status_code == 200
        assert (await b.get(f"{API}/{pid}/verify")).json()["valid"] is True
        exported = await a.post(f"{API}/{pid}/export", json={"format": "zip"})
        assert exported.status_code == 200, exported.text
        answer = exported.json()
        assert answer["file_path"] == f"exports/{Path(answer['file_path']).name}"
        bundle = await b.get(answer["download_url"])
        assert bundle.status_code == 200, bundle.text
        assert hashlib.sha256(bundle.content).hexdigest() == answer["sha256"]
        assert answer["file_path"] in await s3_bucket.keys(s3_store)

        shared = await a.post(f"{API}/{pid}/share", json={"shared_with": "public"})
        token = shared.json()["access_token"]
        link = await b.get(f"{API}/shared/{token}/contents/{letter['id']}/file")
        assert link.status_code == 200, link.text
        assert link.content == stored.content

        # an export's place, as its answer named it, imports on the other server
        again = await b.post(
            f"{API}/import", json={"file_path": answer["file_path"], "merge_mode": "skip"}
        )
        assert again.status_code == 201, again.text
        assert again.json()["skipped"] is True
        assert again.json()["import_source"] == answer["file_path"]
        uploaded = await b.post(
            f"{API}/import",
            files={"file": ("bundle.zip", bundle.content, "application/zip")},
            data={"merge_mode": "skip"},
        )
        assert uploaded.status_code == 201, uploaded.text
    assert files_on_disk(one) == [] and files_on_disk(two) == []


async def test_a_released_file_leaves_the_bucket(
    tmp_path: Path, database_url: str, s3_store: str, s3_bucket: Bucket
) -> None:
    async with server(tmp_path / "one", database_url) as http:
        packet = await make_packet(http)
        item = await add_item(http, packet["id"])
        first, second = b"first draft\n" * 100, b"second draft\n" * 100
        assert (await attach(http, packet["id"], item["id"], first)).status_code == 200
        assert (await attach(http, packet["id"], item["id"], second)).status_code == 200
        keys = await s3_bucket.keys(s3_store)
        assert blob_key(hashlib.sha256(first).hexdigest()) not in keys
        assert blob_key(hashlib.sha256(second).hexdigest()) in keys
        removed = await http.delete(f"{API}/{packet['id']}/contents/{item['id']}")
        assert removed.status_code == 204, removed.text
        assert [key for key in await s3_bucket.keys(s3_store) if key.startswith("files/")] == []


async def test_a_large_file_goes_up_in_parts_and_comes_back_whole(
    tmp_path: Path, database_url: str, s3_store: str, s3_bucket: Bucket
) -> None:
    data = os.urandom(20 * MIB + 1)  # three parts of 8 MiB
    async with server(tmp_path / "one", database_url) as http:
        packet = await make_packet(http)
        item = await add_item(http, packet["id"])
        assert (await attach(http, packet["id"], item["id"], data)).status_code == 200
        got = await http.get(f"{API}/{packet['id']}/contents/{item['id']}/file")
        assert got.content == data
    key = blob_key(hashlib.sha256(data).hexdigest())
    assert (await s3_bucket.keys(s3_store))[key] == len(data)


async def test_damage_in_the_bucket_is_found(
    tmp_path: Path, database_url: str, s3_store: str, s3_bucket: Bucket
) -> None:
    async with server(tmp_path / "one", database_url) as http:
        packet = await make_packet(http)
        item = await add_item(http, packet["id"])
        data = b"the ledger as filed\n" * 50
        assert (await attach(http, packet["id"], item["id"], data)).status_code == 200
        assert (await http.post(f"{API}/{packet['id']}/finalize")).status_code == 200
        key = s3_store + blob_key(hashlib.sha256(data).hexdigest())
        await s3_bucket.write(key, b"the ledger, altered\n")
        verdict = (await http.get(f"{API}/{packet['id']}/verify")).json()
        assert verdict["valid"] is False
        assert any("no longer hashes" in problem for problem in verdict["problems"])
        await s3_bucket.remove(key)
        gone = await http.get(f"{API}/{packet['id']}/contents/{item['id']}/file")
        assert gone.status_code == 409
        assert "is missing" in gone.json()["detail"]
        export = await http.post(f"{API}/{packet['id']}/export", json={"format": "zip"})
        assert export.status_code == 409
        assert "is missing" in export.json()["detail"]


def test_the_banner_names_the_bucket(tmp_path: Path, s3_store: str, s3_bucket: Bucket) -> None:
    shown = banner(HostConfig(data_dir=tmp_path), "127.0.0.1", 8100)
    where = f"s3://{s3_bucket.name}/{s3_store} at {s3_bucket.endpoint_url}"
    assert f"\n  files     {where}\n" in shown


async def test_health_reports_the_store(tmp_path: Path, database_url: str, s3_store: str) -> None:
    async with server(tmp_path / "one", database_url) as http:
        shard = await http.get(f"{API}/health")
        assert shard.json()["store"] == {"backend": "s3", "reachable": True}
        host = await http.get("/api/health")
        assert host.json()["stores"] == {"packets": {"backend": "s3", "reachable": True}}


async def test_a_sweep_leaves_nothing_in_the_bucket_that_nothing_names(
    tmp_path: Path,
    database_url: str,
    s3_store: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_RECOVERY_GRACE_SECONDS", "0")
    async with server(tmp_path / "one", database_url) as http:
        packet = await make_packet(http)
        item = await add_item(http, packet["id"])
        data = b"kept\n"
        assert (await attach(http, packet["id"], item["id"], data)).status_code == 200
        await s3_bucket.write(s3_store + blob_key("ab" * 32), b"nobody names me")
        await s3_bucket.write(s3_store + "exports/packet-x-v1-killed.zip", b"PK unrecorded")
        swept = await app_of(http).state.packets_shard.services.recovery.sweep()
        assert (swept.blobs, swept.exports) == (1, 1)
        kept = blob_key(hashlib.sha256(data).hexdigest())
        assert sorted(await s3_bucket.keys(s3_store)) == [kept]


@pytest.mark.skipif(S3_URL is not None, reason="makes and deletes a bucket: moto_server only")
async def test_a_bucket_lost_while_serving_is_a_503(
    tmp_path: Path,
    database_url: str,
    s3_store: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lost = "packets-lost-" + os.urandom(4).hex()
    await s3_bucket.make_bucket(lost)
    monkeypatch.setenv("ARKHAM_PACKETS_S3_BUCKET", lost)
    async with server(tmp_path / "one", database_url) as http:
        packet = await make_packet(http)
        item = await add_item(http, packet["id"])
        assert (await attach(http, packet["id"], item["id"], b"evidence\n")).status_code == 200
        await s3_bucket.drop_bucket(lost)
        gone = await http.get(f"{API}/{packet['id']}/contents/{item['id']}/file")
        assert gone.status_code == 503, gone.text
        assert gone.headers["retry-after"] == "5"
        assert gone.json()["detail"].startswith("the file store is unavailable (NoSuchBucket")
        other = await add_item(http, packet["id"], "doc-2")
        refused = await attach(http, packet["id"], other["id"], b"more\n")
        assert refused.status_code == 503, refused.text
        health = await http.get(f"{API}/health")
        assert health.status_code == 200
        assert health.json()["store"] == {"backend": "s3", "reachable": False}


async def test_the_command_line_exports_into_the_bucket_and_imports_from_it(
    tmp_path: Path,
    database_url: str,
    s3_store: str,
    s3_bucket: Bucket,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with server(tmp_path / "one", database_url) as http:
        packet = await packet_with_files(http)
        assert (await http.post(f"{API}/{packet['id']}/finalize")).status_code == 200
    desk = ["--data-dir", str(tmp_path / "desk"), "--database-url", database_url, "--quiet"]
    (tmp_path / "desk").mkdir(mode=0o700)  # another machine's data directory: scratch only
    code = await asyncio.to_thread(main, ["export", packet["id"], *desk])
    assert code == 0
    place, sizes = capsys.readouterr().out.splitlines()
    assert place.startswith("exports/packet-") and place in await s3_bucket.keys(s3_store)
    bundle = await s3_bucket.read(s3_store + place)
    assert sizes == f"  {len(bundle)} bytes, sha256 {hashlib.sha256(bundle).hexdigest()}"
    assert files_on_disk(tmp_path / "desk") == []

    (tmp_path / "bundle.zip").write_bytes(bundle)
    other = [*desk, "--database-url", f"sqlite:///{tmp_path / 'other.db'}"]
    other_desk = ["--data-dir", str(tmp_path / "desk"), "--database-url", other[-1]]
    assert await asyncio.to_thread(main, ["init", *other_desk]) == 0
    code = await asyncio.to_thread(main, ["import", str(tmp_path / "bundle.zip"), *other])
    assert code == 0, capsys.readouterr().err
    assert "verified and sealed" in capsys.readouterr().out

    monkeypatch.delenv("ARKHAM_PACKETS_S3_BUCKET")
    code = await asyncio.to_thread(main, ["export", packet["id"], *desk])
    assert code == 2
    assert capsys.readouterr().err == (
        "arkham-packets: error: ARKHAM_PACKETS_STORE is s3, but no bucket is set "
        "(ARKHAM_PACKETS_S3_BUCKET)\n"
    )


def refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str) -> str:
    port, data_dir = str(free_port()), str(tmp_path / "d")
    code = main(["serve", "--port", port, "--data-dir", data_dir, "--database-url", database_url])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


async def test_a_bucket_that_cannot_be_used_stops_the_start_in_one_line(
    tmp_path: Path,
    database_url: str,
    s3_store: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_S3_BUCKET", "packets-no-such-bucket")
    app = create_app(HostConfig(data_dir=tmp_path / "one", database_url=database_url))
    with pytest.raises(ShardsFailed) as refused:
        async with app.router.lifespan_context(app):
            pass
    where = f"s3://packets-no-such-bucket/{s3_store} at {s3_bucket.endpoint_url}"
    assert str(refused.value) == f"packets: can't use the bucket {where}: no such bucket (404)"


def test_serve_refuses_a_bucket_it_cannot_use(
    tmp_path: Path,
    database_url: str,
    s3_store: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_S3_BUCKET", "packets-no-such-bucket")
    err = refusal(tmp_path, capsys, database_url)
    assert err.startswith("arkham-packets: error: can't use the bucket s3://packets-no-such")
    assert err.endswith("no such bucket (404)")
    monkeypatch.delenv("ARKHAM_PACKETS_S3_BUCKET")
    err = refusal(tmp_path, capsys, database_url)
    assert err == (
        "arkham-packets: error: ARKHAM_PACKETS_STORE is s3, but no bucket is set "
        "(ARKHAM_PACKETS_S3_BUCKET)"
    )
    monkeypatch.setenv("ARKHAM_PACKETS_S3_BUCKET", s3_bucket.name)
    monkeypatch.setenv("ARKHAM_PACKETS_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    err = refusal(tmp_path, capsys, database_url)
    assert "can't use the bucket" in err and "nothing answers at 127.0.0.1:" in err
    assert err.endswith("(Connection refused); check ARKHAM_PACKETS_S3_ENDPOINT_URL")


async def test_an_endpoint_nobody_answers_at_is_refused_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No listener, no such host: said as such, before the client's retries (about 10 s)."""
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    for endpoint, why in [
        (f"http://127.0.0.1:{free_port()}", "(Connection refused)"),
        ("http://no-such-host.invalid:9000", "(unknown host)"),
    ]:
        store = S3Store("evidence", staging=tmp_path / "staging", endpoint_url=endpoint)
        with pytest.raises(StoreUnusable) as refused:
            await store.check()
        host_port = endpoint.removeprefix("http://")
        assert f"nothing answers at {host_port} {why}" in str(refused.value)
        await store.close()


async def test_behind_a_proxy_the_endpoint_is_left_to_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a proxy carries the requests, no direct connection is tried: the endpoint may
    only be reachable through it. The client's own failure is what is said."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    store = S3Store(
        "evidence", staging=tmp_path / "staging", endpoint_url="http://s3.internal:9000"
    )
    with pytest.raises(StoreUnusable) as refused:
        await store.check()
    assert "nothing answers at" not in str(refused.value)
    assert str(refused.value).startswith("can't use the bucket s3://evidence/")
    await store.close()


def test_the_store_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ARKHAM_PACKETS_"):
            monkeypatch.delenv(name)
    assert Settings().store == "local"
    assert isinstance(build_store(Settings(), tmp_path, PRIVATE), LocalStore)
    assert Settings(s3_prefix="/evidence/2026/").s3_prefix == "evidence/2026/"
    assert Settings(s3_prefix="").s3_prefix == ""
    for bad in ("a//b", "../up", "a/./b"):
        with pytest.raises(ValueError, match="folder names"):
            Settings(s3_prefix=bad)
    with pytest.raises(ValueError):
        Settings(store="ftp")
    with pytest.raises(StoreUnusable, match="no bucket is set"):
        build_store(Settings(store="s3"), tmp_path, PRIVATE)


class FrameConfig:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str) -> Any:
        return self.values.get(key)


class Frame:
    """What the Frame offers a shard, as far as its settings go: a config service."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.config = FrameConfig(values)

    def get_service(self, name: str) -> Any:
        return self.config if name == "config" else None


def test_the_frame_config_gives_the_store_the_environment_leaves_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("ARKHAM_PACKETS_"):
            monkeypatch.delenv(name)
    frame = Frame(
        {
            "packets.store": "s3",
            "packets.s3_bucket": "evidence",
            "packets.s3_prefix": "newsroom",
            "packets.s3_addressing_style": "path",
            "packets.max_file_bytes": 5,  # not a store setting: the environment's alone
        }
    )
    settings = with_frame_config(Settings(), frame)
    assert (settings.store, settings.s3_bucket) == ("s3", "evidence")
    assert settings.s3_prefix == "newsroom/"
    assert settings.s3_addressing_style == "path"
    assert settings.max_file_bytes == Settings().max_file_bytes
    monkeypatch.setenv("ARKHAM_PACKETS_S3_BUCKET", "from-the-environment")
    assert with_frame_config(Settings(), frame).s3_bucket == "from-the-environment"
    assert with_frame_config(Settings(), object()) == Settings()
