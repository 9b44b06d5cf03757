"""Hostile and malformed input: every refusal is a 4xx whose `detail` says what is wrong, and a
refused request leaves every table exactly as it was (issue 13)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text as sql_text
from sqlalchemy import update

from arkham_shard_packets.core.bounds import MAX_BYTES, MAX_DEPTH
from arkham_shard_packets.db.tables import outbox, packet_shares

from .bundle_helpers import database_rows
from .conftest import add_item, make_packet, packet_events
from .share_helpers import finalized_packet, share

API = "/api/packets"
JSON = {"content-type": "application/json"}


def nested(depth: int, leaf: Any = 1) -> Any:
    """An object `depth` levels deep: {"a": {"a": ... leaf}}."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def problem_fields(response: httpx.Response) -> list[str]:
    """Every name in the `loc` of a FastAPI-style 422, to see which field it names."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return [str(part) for problem in detail for part in problem["loc"]]


async def everything_readable(client: httpx.AsyncClient, packet_id: str) -> None:
    """The reads the issue saw break for good after a bad value was committed."""
    for path in ("/", "/status/draft", "/?search=a", f"/{packet_id}", f"/{packet_id}/contents"):
        response = await client.get(f"{API}{path}")
        assert response.status_code == 200, (path, response.text)
    exported = await client.post(f"{API}/{packet_id}/export", json={"format": "json"})
    assert exported.status_code == 200, exported.text


# -- finding 2: depth and size of free-form JSON --------------------------------------------


async def test_deep_json_is_refused_and_nothing_is_committed(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await make_packet(client)
    editor = await share(client, packet["id"], permissions="edit")
    before = await database_rows(engine)
    attempts = [
        ("POST", "/", {"name": "deep", "metadata": nested(256)}),
        ("POST", "/", {"name": "deep", "metadata": nested(MAX_DEPTH + 1)}),
        ("PUT", f"/{packet['id']}", {"metadata": nested(MAX_DEPTH + 1)}),
        (
            "POST",
            f"/{packet['id']}/contents",
            {"content_type": "document", "content_id": "d", "data": nested(MAX_DEPTH + 1)},
        ),
        (
            "POST",
            f"/shared/{editor['access_token']}/contents",
            {"content_type": "document", "content_id": "d", "data": nested(256)},
        ),
        ("POST", "/", {"name": "big", "metadata": {"text": "x" * MAX_BYTES}}),
    ]
    for method, path, body in attempts:
        response = await client.request(method, f"{API}{path}", json=body)
        assert response.status_code == 422, (path, response.text)
        fields = problem_fields(response)
        assert "metadata" in fields or "data" in fields, fields
        assert "levels deep" in response.text or "bytes" in response.text
    assert await database_rows(engine) == before
    await everything_readable(client, packet["id"])


async def test_json_at_the_bounds_is_stored_and_read_back(client: httpx.AsyncClient) -> None:
    deepest = nested(MAX_DEPTH - 1)  # the metadata object itself is the first level
    packet = await make_packet(client, metadata=deepest)
    assert packet["metadata"] == deepest
    item = await add_item(client, packet["id"], data={"text": "x" * (MAX_BYTES - 20)})
    assert len(item["data"]["text"]) == MAX_BYTES - 20
    shared = await share(client, packet["id"])
    opened = await client.get(f"{API}/shared/{shared['access_token']}")
    assert opened.status_code == 200
    assert opened.json()["packet"]["metadata"] == deepest
    await everything_readable(client, packet["id"])


# -- finding 3: numbers and strings JSON can carry but the shard can't store ------------------

NOT_FINITE = ("NaN", "Infinity", "-Infinity", "1e999")


async def test_numbers_that_are_not_finite_are_422_naming_the_field(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await make_packet(client)
    before = await database_rows(engine)
    for number in NOT_FINITE:
        bodies = [
            ("/", f'{{"name": "x", "metadata": {{"m": {number}}}}}', "metadata"),
            ("/", f'{{"name": {number}}}', "name"),
            ("/", f'{{"name": "x", "surplus": {number}}}', "surplus"),
            (
                f"/{packet['id']}/contents",
                f'{{"content_type": "claim", "content_id": "c", "data": {{"d": [{number}]}}}}',
                "data",
            ),
            (f"/{packet['id']}/versions", f'{{"changes_summary": {number}}}', "changes_summary"),
        ]
        for path, body, field in bodies:
            response = await client.post(f"{API}{path}", content=body, headers=JSON)
            assert field in problem_fields(response), (body, response.text)
    assert await database_rows(engine) == before


async def test_lone_surrogates_and_nul_are_422_naming_the_field(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await make_packet(client)
    commenter = await share(client, packet["id"], permissions="comment")
    before = await database_rows(engine)
    bad = [
        ("/", '{"name": "x\\ud800"}', "name"),
        ("/", '{"name": "x", "description": "\\udfff"}', "description"),
        ("/", '{"name": "x", "metadata": {"\\ud83d": 1}}', "metadata"),
        ("/", '{"name": "x", "metadata": {"k": "a\\u0000b"}}', "metadata"),
        ("/", '{"name": "x", "metadata": {"a\\u0000": 1}}', "metadata"),
        (
            f"/{packet['id']}/contents",
            '{"content_type": "claim", "content_id": "\\ud800"}',
            "content_id",
        ),
        (
            f"/{packet['id']}/contents",
            '{"content_type": "claim", "content_id": "c", "data": {"t": ["\\udc00"]}}',
            "data",
        ),
        (f"/{packet['id']}/share", '{"shared_with": "\\ud800"}', "shared_with"),
        (
            f"/shared/{commenter['access_token']}/comments",
            '{"author": "a", "body": "\\ud800"}',
            "body",
        ),
    ]
    for path, body, field in bad:
        response = await client.post(f"{API}{path}", content=body, headers=JSON)
        assert field in problem_fields(response), (body, response.text)
    assert await database_rows(engine) == before


async def test_bodies_that_are_not_json_are_422_not_400(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    editor = await share(client, packet["id"], permissions="edit")
    paths = ("/", "/batch/finalize", f"/shared/{editor['access_token']}/contents")
    broken = (b"\xff\xfe{", b'{"name": ', b"[" * 100_000, b'{"n": 1' + b"0" * 5000 + b"}")
    for path in paths:
        for body in broken:
            response = await client.post(f"{API}{path}", content=body, headers=JSON)
            assert response.status_code == 422, (path, body[:10], response.text)
            (problem,) = response.json()["detail"]
            assert problem["type"] == "json_invalid"


async def test_validation_errors_echo_only_a_short_excerpt(client: httpx.AsyncClient) -> None:
    long_name = "n" * 300_000
    response = await client.post(f"{API}/", json={"name": long_name})
    assert response.status_code == 422
    assert len(response.content) < 2_000
    assert "name" in problem_fields(response)
    huge = await client.post(f"{API}/", json={"metadata": {"k": "v" * 500_000}})
    assert huge.status_code == 422  # `name` is missing: FastAPI would echo the whole body
    assert len(huge.content) < 2_000


# -- finding 4: dates that overflow -----------------------------------------------------------

OVERFLOWING = ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59")


async def test_dates_that_overflow_are_422(client: httpx.AsyncClient, engine: Any) -> None:
    packet = await finalized_packet(client)
    before = await database_rows(engine)
    for moment in OVERFLOWING:
        for name in ("created_after", "created_before"):
            for path in ("/", "/status/draft"):
                response = await client.get(f"{API}{path}", params={name: moment})
                assert name in problem_fields(response)
        shared = await client.post(
            f"{API}/{packet['id']}/share", json={"shared_with": "public", "expires_at": moment}
        )
        assert "expires_at" in problem_fields(shared)
        assert "9999" in shared.text
    # a number is not a date (pydantic would read it as seconds since 1970)
    for value in ("0.5", "1700000000"):
        listed = await client.get(f"{API}/", params={"created_before": value})
        assert "created_before" in problem_fields(listed)
    assert await database_rows(engine) == before


# -- finding 5: path parameters ----------------------------------------------------------------


async def test_nul_in_any_path_parameter_is_422(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    item = await add_item(client, packet["id"])
    pid, eid = packet["id"], item["id"]
    for method, path in (
        ("GET", f"/{pid}/contents/%00/file"),
        ("PUT", f"/{pid}/contents/{eid}%00/file"),
        ("GET", f"/%00{pid}/contents/{eid}/file"),
        ("POST", f"/{pid}%00/export"),
        ("GET", f"/{pid}/exports/%00"),
        ("GET", f"/%00/exports/{eid}"),
        ("DELETE", f"/{pid}/shares/%00"),
        ("GET", "/shared/%00"),
    ):
        response = await client.request(method, f"{API}{path}")
        assert response.status_code == 422, (method, path, response.text)


# -- finding 11: unknown fields -----------------------------------------------------------------


async def test_unknown_fields_are_refused_on_every_body(
    client: httpx.AsyncClient, app: FastAPI, engine: Any
) -> None:
    packet = await make_packet(client)
    item = await add_item(client, packet["id"])
    commenter = await share(client, packet["id"], permissions="comment")
    before = await database_rows(engine)
    refused = [
        ("POST", "/", {"name": "x", "descripton": "typo"}, "descripton"),
        ("PUT", f"/{packet['id']}", {"status": "finalized"}, "status"),
        ("POST", f"/{packet['id']}/export", {"fromat": "json"}, "fromat"),
        (
            "POST",
            f"/{packet['id']}/contents",
            {"content_type": "claim", "content_id": "c", "title": "t"},
            "title",
        ),
        ("POST", f"/{packet['id']}/versions", {"summary": "s"}, "summary"),
        ("POST", "/batch/finalize", {"ids": [packet["id"]], "force": True}, "force"),
        ("POST", "/import", {"file_path": "exports/x.zip", "mode": "skip"}, "mode"),
        (
            "POST",
            f"/shared/{commenter['access_token']}/comments",
            {"author": "a", "body": "b", "email": "e"},
            "email",
        ),
    ]
    for method, path, body, field in refused:
        response = await client.request(method, f"{API}{path}", json=body)
        assert field in problem_fields(response), (path, response.text)
    exports = app.state.packets_shard.services.data_dir / "exports"
    assert not exports.exists() or list(exports.iterdir()) == []
    for path, data in (
        (f"/{packet['id']}/contents/{item['id']}/file", {"note": "x"}),
        ("/import", {"merge_mode": "skip", "mode": "skip"}),
    ):
        method = "PUT" if path.endswith("/file") else "POST"
        form = await client.request(
            method, f"{API}{path}", files={"file": ("a.txt", b"bytes")}, data=data
        )
        assert form.status_code == 422, form.text
        assert "unknown field" in form.json()["detail"]
    viewer = await client.post(commenter["share_url"], data={"author": "a", "body": "b", "x": "1"})
    assert viewer.status_code == 422
    assert "unknown field" in viewer.text
    assert await database_rows(engine) == before
    assert (await client.get(f"{API}/{packet['id']}")).json()["status"] == "draft"


async def test_what_the_shell_sends_is_still_accepted(client: httpx.AsyncClient) -> None:
    created = await client.post(
        f"{API}/", json={"name": "Harbor", "description": "d", "visibility": "private"}
    )
    assert created.status_code == 201
    added = await client.post(
        f"{API}/{created.json()['id']}/contents",
        json={"content_type": "document", "content_id": "d", "content_title": "t", "order": 1},
    )
    assert added.status_code == 201


# -- finding 12: If-Match -----------------------------------------------------------------------


async def test_if_match_takes_a_list_and_a_star(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    url = f"{API}/{packet['id']}"

    async def put(if_match: str, name: str) -> httpx.Response:
        return await client.put(url, json={"name": name}, headers={"If-Match": if_match})

    etag = (await client.get(url)).headers["etag"]
    listed = await put(f'"not-it", {etag}', "listed")
    assert listed.status_code == 200, listed.text
    etag = listed.headers["etag"]
    assert (await put(f'{etag} , "other"', "first of two")).status_code == 200
    assert (await put("*", "star")).status_code == 200
    etag = (await client.get(url)).headers["etag"]
    for stale in ('"not-it"', f"W/{etag}", '"a", "b"', etag.strip('"')):
        response = await put(stale, "stale")
        assert response.status_code == 412, stale
    assert (await client.get(url)).json()["name"] == "star"


# -- finding 13: no absolute server paths ---------------------------------------------------------


async def test_no_answer_or_event_names_an_absolute_server_path(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    data_dir = str(app.state.packets_shard.services.data_dir.resolve())
    packet = await finalized_packet(client)
    exported = (await client.post(f"{API}/{packet['id']}/export", json={"format": "zip"})).json()
    assert exported["file_path"].startswith("exports/packet-")
    imported = await client.post(
        f"{API}/import", json={"file_path": exported["file_path"], "merge_mode": "skip"}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["import_source"] == exported["file_path"]
    seen = [
        json.dumps(exported),
        imported.text,
        json.dumps(await packet_events(client)),
        (await client.get(f"{API}/events")).text,
        (await client.get(f"{API}/{packet['id']}/versions")).text,
    ]
    for text in seen:
        assert data_dir not in text


# -- finding 15: what OpenAPI says is what is answered -----------------------------------------


def test_openapi_documents_every_answer(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path, operations in paths.items():
        if not path.startswith(API):
            continue
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if path == f"{API}/health":  # the liveness probe reads no database: 200 alone
                assert codes == {"200"}
                continue
            assert "503" in codes, (method, path)
            if method != "get" or "/shared/" in path:
                assert "507" in codes, (method, path)
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in codes, (method, path)
            if "requestBody" in operation:
                assert "413" in codes, (method, path)
    for path in ("/{packet_id}/export", "/{packet_id}/share", "/"):
        answer = paths[f"{API}{path}"]["post"]["responses"]["422"]
        detail = answer["content"]["application/json"]["schema"]["properties"]["detail"]
        kinds = {option["type"] for option in detail["anyOf"]}
        assert kinds == {"string", "array"}, path


# -- finding 1: bodies are bounded and read only for a working link ----------------------------


class Counted:
    """A request body sent in chunks without a Content-Length, counting what was taken."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk = chunk
        self.count = count
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.taken += len(self.chunk)
            yield self.chunk


async def test_a_bogus_link_never_reads_the_body(client: httpx.AsyncClient, app: FastAPI) -> None:
    tmp = app.state.packets_shard.services.data_dir / "tmp"
    for path, headers in (
        ("comments", JSON),
        ("contents", JSON),
        ("view", {"content-type": "multipart/form-data; boundary=x"}),
    ):
        body = Counted(b"x" * 65536, 1600)  # 100 MiB if it were read
        response = await client.post(
            f"{API}/shared/bogus-token/{path}", content=body, headers=headers
        )
        assert response.status_code == 404, response.text
        assert body.taken <= 65536, (path, body.taken)
    assert not tmp.exists() or list(tmp.rglob("*")) == []


async def test_oversized_bodies_are_413_while_reading(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await make_packet(client)
    commenter = await share(client, packet["id"], permissions="comment")
    before = await database_rows(engine)
    link = f"{API}/shared/{commenter['access_token']}"
    for url, headers in (
        (f"{link}/comments", JSON),
        (f"{link}/view", {"content-type": "application/x-www-form-urlencoded"}),
        (f"{API}/", JSON),
        (f"{API}/{packet['id']}/contents", JSON),
    ):
        body = Counted(b"x" * 65536, 1600)
        response = await client.post(url, content=body, headers=headers)
        assert response.status_code == 413, (url, response.text)
        assert body.taken < 2 * 1024 * 1024, (url, body.taken)
        assert "larger than the limit" in response.text
    declared = await client.post(
        f"{link}/comments",
        content=b"{}",
        headers={**JSON, "content-length": str(100 * 1024 * 1024)},
    )
    assert declared.status_code == 413
    assert "limit" in declared.json()["detail"]
    assert await database_rows(engine) == before
    for length in (b"9" * 5000, "²".encode("latin-1")):  # int() would fail on both
        odd = await client.post(
            f"{API}/",
            content=b'{"name": "x"}',
            headers=[(b"content-type", b"application/json"), (b"content-length", length)],
        )
        assert odd.status_code in (201, 413), odd.text


# -- finding 7: refused links write nothing ---------------------------------------------------


@asynccontextmanager
async def writers_blocked(engine: Any) -> AsyncIterator[None]:
    """Another client holds what every writer of share links must wait for: SQLite's write
    lock, or on PostgreSQL a lock on the shares table that `SELECT ... FOR UPDATE` waits on."""
    async with engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite
        if conn.dialect.name == "postgresql":
            await conn.execute(sql_text(f"LOCK TABLE {packet_shares.name} IN EXCLUSIVE MODE"))
        else:
            await conn.execute(outbox.delete().where(sql_text("0 = 1")))
        yield


async def test_unknown_expired_locked_and_forbidden_links_never_wait_for_writers(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await finalized_packet(client)
    expired = await share(client, packet["id"], expires_at="2099-01-01T00:00:00Z")
    async with engine.begin() as conn:
        await conn.execute(
            update(packet_shares)
            .where(packet_shares.c.id == expired["id"])
            .values(expires_at="2000-01-01T00:00:00.000000+00:00")
        )
    viewer = await share(client, packet["id"], permissions="view")
    guarded = await share(client, packet["id"], password="correct horse")
    guarded_url = f"{API}/shared/{guarded['access_token']}"
    for _ in range(5):
        wrong = await client.get(guarded_url, headers={"X-Share-Password": "wrong guess"})
        assert wrong.status_code == 401, wrong.text
    before = await database_rows(engine)
    comment = {"author": "Ana", "body": "hi"}
    async with writers_blocked(engine):
        for method, path, body, expected in (
            ("GET", "/shared/no-such-token", None, 404),
            ("GET", "/shared/no-such-token/view", None, 404),
            ("GET", f"/shared/{expired['access_token']}", None, 410),
            ("GET", f"/shared/{guarded['access_token']}", None, 429),
            ("POST", f"/shared/{viewer['access_token']}/comments", comment, 403),
        ):
            answer = await asyncio.wait_for(
                client.request(method, f"{API}{path}", json=body), timeout=10
            )
            assert answer.status_code == expected, (path, answer.text)
    assert await database_rows(engine) == before


async def test_a_small_refused_upload_is_read_so_the_client_reads_the_answer(
    client: httpx.AsyncClient,
) -> None:
    """A refusal before the body is read: a small body is read and dropped (the connection
    stays open, so a client still sending gets the answer); a large one closes the connection."""
    packet = await make_packet(client)
    item = await add_item(client, packet["id"])
    assert (await client.post(f"{API}/{packet['id']}/finalize")).status_code == 200
    url = f"{API}/{packet['id']}/contents/{item['id']}/file"
    small = await client.put(url, files={"file": ("a.txt", b"x" * 10_000)})
    assert small.status_code == 409, small.text
    assert small.headers.get("connection") != "close"
    large = await client.put(url, files={"file": ("a.txt", b"x" * 1_000_000)})
    assert large.status_code == 409, large.text
    assert large.headers.get("connection") == "close"


# -- Range headers on every download ----------------------------------------------------------

HOSTILE_RANGES: list[tuple[bytes, int]] = [
    (b"bytes=999999999999999999999999-", 416),
    (b"bytes=999999999999999999999999-999999999999999999999999", 416),
    (b"bytes=-0", 416),
    (b"bytes=-000000000000000000000000000000", 416),
    (b"bytes=" + b"9" * 5000 + b"-", 200),  # longer than any one range: ignored
    (b"bytes=-99999999999999999999999999", 206),  # the whole file, as a range
    (b"bytes=0-99999999999999999999999999", 206),
    (b"bytes=00000000000000000000000000001-2", 206),
    (b"bytes=5-1", 200),
    (b"bytes=a-b", 200),
    (b"bytes=-", 200),
    (b"bytes=", 200),
    (b"bytes=--5", 200),
    (b"bytes=0-0-0", 200),
    (b"bytes=+1-2", 200),
    (b"bytes=0x10-", 200),
    (b"bytes=\xb2-5", 200),  # a superscript two, a digit to str.isdigit()
    (b"bytes=1 - 2", 200),
    (b"bytes=-1,-1", 200),
    (b"bytes=" + b",".join(b"%d-%d" % (i, i) for i in range(1000)), 200),
    (b"bytes=0-0" + b" " * 100_000, 200),
    (b"x" * 100_000, 200),
    (b"=", 200),
    (b"", 200),
]


async def test_hostile_range_headers_are_never_a_server_error(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    item = await add_item(client, packet["id"])
    content = b"evidence " * 1000
    sent = await client.put(
        f"{API}/{packet['id']}/contents/{item['id']}/file", files={"file": ("a.bin", content)}
    )
    assert sent.status_code == 200, sent.text
    assert (await client.post(f"{API}/{packet['id']}/finalize")).status_code == 200
    link = await share(client, packet["id"])
    exported = (await client.post(f"{API}/{packet['id']}/export", json={"format": "zip"})).json()
    urls = [
        f"{API}/{packet['id']}/contents/{item['id']}/file",
        f"{API}/shared/{link['access_token']}/contents/{item['id']}/file",
        exported["download_url"],
    ]
    for url in urls:
        size = len((await client.get(url)).content)
        for value, expected in HOSTILE_RANGES:
            answer = await client.get(url, headers={b"range": value})
            assert answer.status_code == expected, (url, value[:60], answer.text[:200])
            if expected == 416:
                assert answer.headers["content-range"] == f"bytes */{size}"
                assert "not within" in answer.json()["detail"]
            elif expected == 200:
                assert len(answer.content) == size
        for if_range in (b"x" * 100_000, b'"' * 5000, b"\xff\xfe", b"W/", b""):
            answer = await client.get(url, headers={b"range": b"bytes=0-0", b"if-range": if_range})
            assert answer.status_code == 200, (url, if_range[:60])
