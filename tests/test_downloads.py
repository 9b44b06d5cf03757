"""Downloads answer a `Range` (RFC 9110): the owner's attached files, a share link's files and
exports give 206 with the part asked for, 416 past the end, the whole file (200) for what may
be ignored; a resumed download reassembles the file; each answer with bytes is logged as a
download is, a 416 is not; a link's password, expiry, revocation and pace hold for ranges."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.host.app import HostConfig, create_app

from . import stored
from .bundle_helpers import attach, packet_with_files
from .clock import Clock
from .conftest import add_item, make_packet
from .share_helpers import PASSWORD_HEADER, access_actions, in_seconds, share, share_row

API = "/api/packets"
MiB = 1024 * 1024


def file_url(packet_id: str, entry_id: str) -> str:
    return f"{API}/{packet_id}/contents/{entry_id}/file"


def link_file_url(link: Any, entry_id: str) -> str:
    return f"{API}/shared/{link['access_token']}/contents/{entry_id}/file"


async def packet_with_file(
    client: httpx.AsyncClient, content: bytes, name: str = "clip.mp4", finalize: bool = True
) -> tuple[Any, Any]:
    packet = await make_packet(client, "Harbor footage")
    entry = await add_item(client, packet["id"], "doc-1", content_title="Footage")
    sent = await attach(client, packet["id"], entry["id"], content, name, "video/mp4")
    assert sent.status_code == 200, sent.text
    if finalize:
        assert (await client.post(f"{API}/{packet['id']}/finalize")).status_code == 200
    return packet, entry


async def ranged(client: httpx.AsyncClient, url: str, value: str, **headers: str) -> httpx.Response:
    return await client.get(url, headers={"Range": value, **headers})


def assert_part(answer: httpx.Response, content: bytes, start: int, end: int) -> None:
    assert answer.status_code == 206, answer.text
    assert answer.content == content[start : end + 1]
    assert answer.headers["content-range"] == f"bytes {start}-{end}/{len(content)}"
    assert answer.headers["content-length"] == str(end - start + 1)
    assert answer.headers["accept-ranges"] == "bytes"


def assert_whole(answer: httpx.Response, content: bytes) -> None:
    assert answer.status_code == 200, answer.text
    assert answer.content == content
    assert answer.headers["content-length"] == str(len(content))
    assert answer.headers["accept-ranges"] == "bytes"
    assert "content-range" not in answer.headers


def assert_unsatisfiable(answer: httpx.Response, size: int) -> None:
    assert answer.status_code == 416, answer.text
    assert answer.headers["content-range"] == f"bytes */{size}"
    assert answer.json()["detail"] == f"the requested range is not within the file's {size} bytes"


async def check_ranges(client: httpx.AsyncClient, url: str, content: bytes, etag: str) -> None:
    """The answers every ranged route gives, for `content` of more than 1,000 bytes."""
    size = len(content)
    whole = await client.get(url)
    assert_whole(whole, content)
    assert whole.headers["etag"] == etag
    assert_part(await ranged(client, url, "bytes=0-99"), content, 0, 99)
    assert_part(await ranged(client, url, "bytes=100-"), content, 100, size - 1)
    assert_part(await ranged(client, url, "bytes=-50"), content, size - 50, size - 1)
    assert_part(await ranged(client, url, f"bytes=-{size * 3}"), content, 0, size - 1)
    assert_part(
        await ranged(client, url, f"bytes={size - 1}-{size * 5}"), content, size - 1, size - 1
    )
    assert_part(await ranged(client, url, "BYTES = 7-7 ,"), content, 7, 7)
    assert (await ranged(client, url, "bytes=7-8")).headers["etag"] == etag
    assert_unsatisfiable(await ranged(client, url, f"bytes={size}-"), size)
    assert_unsatisfiable(await ranged(client, url, f"bytes={size}-{size + 10}"), size)
    assert_unsatisfiable(await ranged(client, url, "bytes=-0"), size)
    # What may be ignored is: the whole file.
    for ignored in ("bytes=0-1,5-6", "bytes=5-1", "bytes=a-b", "items=0-5", "bytes 0-5", "0-5"):
        assert_whole(await ranged(client, url, ignored), content)
    # If-Range: the range only while the file is the one the ETag names.
    assert_part(await ranged(client, url, "bytes=10-19", **{"If-Range": etag}), content, 10, 19)
    for stale in ('"' + "0" * 64 + '"', f"W/{etag}", "Wed, 21 Oct 2015 07:28:00 GMT", etag[1:]):
        assert_whole(await ranged(client, url, "bytes=10-19", **{"If-Range": stale}), content)
    # Without a Range, If-Range means nothing.
    assert_whole(await client.get(url, headers={"If-Range": etag}), content)


async def test_the_owner_downloads_any_range_of_a_file(client: httpx.AsyncClient) -> None:
    content = os.urandom(5000)
    packet, entry = await packet_with_file(client, content, finalize=False)
    etag = f'"{hashlib.sha256(content).hexdigest()}"'
    await check_ranges(client, file_url(packet["id"], entry["id"]), content, etag)
    part = await ranged(client, file_url(packet["id"], entry["id"]), "bytes=0-9")
    assert part.headers["content-type"] == "video/mp4"
    assert "attachment" in part.headers["content-disposition"]
    assert part.headers["x-content-type-options"] == "nosniff"


async def test_ranges_of_an_empty_file_and_of_no_file(client: httpx.AsyncClient) -> None:
    packet, entry = await packet_with_file(client, b"", finalize=False)
    url = file_url(packet["id"], entry["id"])
    assert_unsatisfiable(await ranged(client, url, "bytes=0-"), 0)
    assert_unsatisfiable(await ranged(client, url, "bytes=-0"), 0)
    empty = await ranged(client, url, "bytes=-5")  # the whole of nothing
    assert (empty.status_code, empty.content, empty.headers["content-length"]) == (200, b"", "0")
    bare = await add_item(client, packet["id"], "doc-2")
    missing = await ranged(client, file_url(packet["id"], bare["id"]), "bytes=0-5")
    assert missing.status_code == 404
    assert "has no attached file" in missing.json()["detail"]


async def test_a_range_of_a_lost_file_says_the_file_is_lost(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    content = os.urandom(100)
    packet, entry = await packet_with_file(client, content, finalize=False)
    digest = hashlib.sha256(content).hexdigest()
    await stored.remove(app, f"files/{digest[:2]}/{digest}")  # on either store
    for value in ("bytes=0-5", "bytes=500-"):
        lost = await ranged(client, file_url(packet["id"], entry["id"]), value)
        assert lost.status_code == 409, lost.text
        assert lost.json()["detail"] == f"the stored file {digest} is missing"


async def test_a_resumed_download_of_5_mb_is_the_file(client: httpx.AsyncClient) -> None:
    content = os.urandom(5 * MiB + 12345)
    packet, entry = await packet_with_file(client, content, finalize=False)
    url = file_url(packet["id"], entry["id"])
    # The first attempt breaks off after 1.5 MiB; the download resumes from there, in parts
    # of odd sizes, each only while the file is still the one it began.
    received = bytearray()
    async with client.stream("GET", url) as first:
        assert first.status_code == 200
        etag = first.headers["etag"]
        async for chunk in first.aiter_raw():
            received += chunk
            if len(received) >= 3 * MiB // 2:
                break
    del received[3 * MiB // 2 :]
    step = MiB + 333
    while len(received) < len(content):
        start = len(received)
        end = min(start + step, len(content)) - 1
        part = await ranged(client, url, f"bytes={start}-", **{"If-Range": etag})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes {start}-{len(content) - 1}/{len(content)}"
        received += part.content[: end - start + 1]
    assert bytes(received) == content
    assert f'"{hashlib.sha256(received).hexdigest()}"' == etag


async def test_a_link_downloads_ranges_each_logged_as_a_download(
    client: httpx.AsyncClient, engine: Any
) -> None:
    content = os.urandom(3000)
    packet, entry = await packet_with_file(client, content)
    link = await share(client, packet["id"])
    url = link_file_url(link, entry["id"])
    etag = f'"{hashlib.sha256(content).hexdigest()}"'
    part = await ranged(client, url, "bytes=1000-1999")
    assert_part(part, content, 1000, 1999)
    assert part.headers["cache-control"] == "no-store"
    assert part.headers["etag"] == etag
    assert_unsatisfiable(await ranged(client, url, "bytes=3000-"), 3000)
    assert_whole(await ranged(client, url, "bytes=5-1"), content)
    # Every answer with bytes is one download in the access log and the count; a 416 gave
    # nothing and is not there.
    assert await access_actions(engine, link["id"]) == ["download", "download"]
    assert (await share_row(engine, link["id"]))["access_count"] == 2
    await check_ranges(client, url, content, etag)


async def test_a_links_checks_hold_for_ranges(
    client: httpx.AsyncClient, engine: Any, clock: Clock
) -> None:
    content = os.urandom(2000)
    packet, entry = await packet_with_file(client, content)
    guarded = await share(client, packet["id"], password="correct horse")
    url = link_file_url(guarded, entry["id"])
    assert (await ranged(client, url, "bytes=0-9")).status_code == 401
    wrong = await ranged(client, url, "bytes=0-9", **{PASSWORD_HEADER: "wrong horse"})
    assert wrong.status_code == 401
    right = await ranged(client, url, "bytes=0-9", **{PASSWORD_HEADER: "correct horse"})
    assert_part(right, content, 0, 9)
    past = await ranged(client, url, "bytes=2000-", **{PASSWORD_HEADER: "correct horse"})
    assert_unsatisfiable(past, 2000)
    assert await access_actions(engine, guarded["id"]) == ["password_failure", "download"]
    # The viewer page's button posts the password: a POST answers the whole file, no ranges.
    posted = await client.post(
        url, data={"password": "correct horse"}, headers={"Range": "bytes=0-9"}
    )
    assert (posted.status_code, posted.content) == (200, content)
    assert posted.headers["accept-ranges"] == "none"

    brief = await share(client, packet["id"], expires_at=in_seconds(60))
    revoked = await share(client, packet["id"])
    assert_part(
        await ranged(client, link_file_url(revoked, entry["id"]), "bytes=0-0"), content, 0, 0
    )
    deleted = await client.delete(f"{API}/{packet['id']}/shares/{revoked['id']}")
    assert deleted.status_code == 204
    for value in ("bytes=0-0", "bytes=5000-"):
        gone = await ranged(client, link_file_url(revoked, entry["id"]), value)
        assert gone.status_code == 404
        assert gone.json()["detail"] == "this share link does not exist or has been revoked"
    clock.past(brief["expires_at"])
    for value in ("bytes=0-0", "bytes=5000-"):
        expired = await ranged(client, link_file_url(brief, entry["id"]), value)
        assert expired.status_code == 410
        assert expired.json()["detail"] == f"this share link expired at {brief['expires_at']}"
    assert await access_actions(engine, brief["id"]) == []
    assert await access_actions(engine, revoked["id"]) == ["download"]


async def test_a_links_bundle_is_always_whole(client: httpx.AsyncClient) -> None:
    """Made anew for every request (its custody log grows), a bundle has no ranges to offer."""
    packet, _ = await packet_with_file(client, os.urandom(100))
    link = await share(client, packet["id"])
    bundle = await ranged(client, f"{API}/shared/{link['access_token']}/bundle", "bytes=0-9")
    assert bundle.status_code == 200
    assert bundle.headers["accept-ranges"] == "none"
    assert len(bundle.content) == int(bundle.headers["content-length"]) > 10


async def test_ranges_count_against_a_links_pace(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, app: FastAPI
) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_SHARE_LINK_USES_PER_MINUTE", "3")
    paced = create_app(HostConfig(data_dir=tmp_path / "paced", database_url=database_url))
    async with paced.router.lifespan_context(paced):
        transport = httpx.ASGITransport(app=paced)
        async with httpx.AsyncClient(transport=transport, base_url="http://paced") as client:
            content = os.urandom(1000)
            packet, entry = await packet_with_file(client, content)
            link = await share(client, packet["id"])
            url = link_file_url(link, entry["id"])
            assert_part(await ranged(client, url, "bytes=0-499"), content, 0, 499)
            assert_unsatisfiable(await ranged(client, url, "bytes=1000-"), 1000)  # not a use
            assert_part(await ranged(client, url, "bytes=500-"), content, 500, 999)
            assert_whole(await client.get(url), content)
            refused = await ranged(client, url, "bytes=0-0")
            assert refused.status_code == 429
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            engine = paced.state.packets_shard.services.database.engine
            assert await access_actions(engine, link["id"]) == ["download"] * 3


async def downloads_in_custody(client: httpx.AsyncClient, packet_id: str) -> list[Any]:
    log = (await client.get(f"{API}/{packet_id}/custody")).json()
    return [e["details"] for e in log["entries"] if e["event"] == "export_downloaded"]


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
async def test_an_export_downloaded_in_ranges_is_the_export(
    client: httpx.AsyncClient, fmt: str
) -> None:
    packet = await packet_with_files(client)
    pid = packet["id"]
    exported = await client.post(f"{API}/{pid}/export", json={"format": fmt})
    assert exported.status_code == 200, exported.text
    answer = exported.json()
    url, size, digest = answer["download_url"], answer["file_size_bytes"], answer["sha256"]
    etag = f'"{digest}"'
    parts = [(0, 999), (1000, size // 2), (size // 2 + 1, size - 1)]
    reassembled = b""
    for start, end in parts:
        part = await ranged(client, url, f"bytes={start}-{end}", **{"If-Range": etag})
        assert part.status_code == 206, part.text
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert part.headers["etag"] == etag
        reassembled += part.content
    assert len(reassembled) == size
    assert hashlib.sha256(reassembled).hexdigest() == digest
    assert_unsatisfiable(await ranged(client, url, f"bytes={size}-"), size)
    whole = await client.get(url)
    assert_whole(whole, reassembled)
    # Each answer with bytes is an entry of the custody log, a range's saying which bytes.
    base = {"export_id": answer["export_id"], "format": fmt, "sha256": digest}
    assert await downloads_in_custody(client, pid) == [
        *({**base, "range": f"bytes {start}-{end}/{size}"} for start, end in parts),
        base,
    ]
    assert (await client.get(f"{API}/{pid}/custody")).json()["intact"] is True


async def test_every_ranged_route_answers_ranges_alike(client: httpx.AsyncClient) -> None:
    packet = await packet_with_files(client)
    exported = (await client.post(f"{API}/{packet['id']}/export", json={"format": "zip"})).json()
    content = (await client.get(exported["download_url"])).content
    await check_ranges(client, exported["download_url"], content, f'"{exported["sha256"]}"')
