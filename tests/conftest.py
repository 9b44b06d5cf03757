"""Every test drives the real host app over HTTP, on a fresh database.

SQLite by default (a new file per test); PostgreSQL when PACKETS_TEST_DATABASE_URL is set,
that database made again before each test. Either is a copy of a database migrated once per
session (tests/template_db.py); tests/test_migrations.py migrates from an empty one. Files in
the local store (the data directory) by default; in an S3 bucket when PACKETS_TEST_STORE=s3
(moto_server on 127.0.0.1, or the bucket PACKETS_TEST_S3_URL names: tests/s3_bucket.py), under
a prefix of each test's own.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.host.auth import HostAuth

from . import clock as clock_stand_in
from .clock import Clock
from .frame_users import TOKEN_SECRET, Users
from .live_host import LiveHost, running
from .s3_bucket import S3_URL, Bucket, moto_server, real_bucket
from .template_db import (
    PostgresTemplate,
    SqliteTemplate,
    Template,
    empty_postgres,
    worker_database,
)
from .threaded_host import ThreadedHost, serving

# Under pytest-xdist each worker has a database of its own: `<database>_<worker>`.
POSTGRES_URL = worker_database(os.environ.get("PACKETS_TEST_DATABASE_URL"))
STORE = os.environ.get("PACKETS_TEST_STORE", "local")
# The files that take longest, run first (pyproject.toml hands out files in collection order):
# the workers then finish together instead of one waiting on a long file begun last.
SLOWEST_FILES = (
    "test_benchmarks.py",
    "test_docs_examples.py",
    "test_schema_fuzz.py",
    "test_share_page_again.py",
    "test_store_move.py",
    "test_crash_recovery.py",
    "test_one_key.py",
    "test_key_revocation.py",
    "test_s3_store.py",
    "test_cli.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # Bytecode is cached even where the environment says not to (this machine's does): the
    # suite starts some 300 Python processes, each of which would compile the package again.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FILES.index(name) if name in SLOWEST_FILES else len(SLOWEST_FILES)

    items.sort(key=rank)  # stable: a file's own tests keep their order


if STORE not in ("local", "s3"):
    raise ValueError(f"PACKETS_TEST_STORE={STORE}: local or s3")


@pytest.fixture(scope="session")
def s3_bucket() -> Iterator[Bucket]:
    """The session's bucket: on moto_server (stopped at the session's end), or the real one
    PACKETS_TEST_S3_URL names, emptied of what the session wrote."""
    if S3_URL:
        bucket = real_bucket(S3_URL)
        asyncio.run(bucket.ensure())
        try:
            yield bucket
        finally:
            asyncio.run(bucket.empty(bucket.session_prefix))
        return
    server = moto_server()
    bucket = next(server)
    try:
        asyncio.run(bucket.ensure())
        yield bucket
    finally:
        server.close()


@pytest.fixture
def s3_store(s3_bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every host this test starts (in process or not) keeps its files in the s3 store, under a
    prefix of the test's own in the session's bucket: that prefix."""
    prefix = s3_bucket.new_prefix()
    for name, value in s3_bucket.settings(prefix).items():
        monkeypatch.setenv(name, value)
    return prefix


@pytest.fixture(autouse=True)
def store_backend(request: pytest.FixtureRequest) -> str:
    """The store every test's hosts use: PACKETS_TEST_STORE, local by default."""
    if STORE == "s3":
        request.getfixturevalue("s3_store")
    return STORE


# What the tests that need PostgreSQL's database empty again (mid-test, or never migrated) call.
reset_postgres = empty_postgres


@pytest.fixture(scope="session", autouse=True)
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """The session's migrated database: a SQLite file, or PostgreSQL's template database (made
    first, with the test database: some tests use POSTGRES_URL's database as it is)."""
    if POSTGRES_URL:
        template: Template = PostgresTemplate(POSTGRES_URL)
    else:
        template = SqliteTemplate(tmp_path_factory.mktemp("template"))
    asyncio.run(template.prepare())
    try:
        yield template
    finally:
        asyncio.run(template.close())


@pytest.fixture
async def database_url(tmp_path: Path, migrated_template: Template) -> str:
    """A database of the test's own, as a new installation finds it once migrated: a copy of
    the session's template, in a new SQLite file or as PostgreSQL's test database made again
    (whatever an earlier test left there, its signing key included, would be this test's
    installation). A test that migrates a database itself asks for `empty_database_url`."""
    return await migrated_template.fresh(tmp_path / "packets.db")


@pytest.fixture
async def empty_database_url(tmp_path: Path, migrated_template: Template) -> str:
    """A database never migrated: a SQLite file not there yet, or PostgreSQL's test database
    made again empty."""
    return await migrated_template.fresh(tmp_path / "packets.db", empty=True)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """The shard's clock for this test's in-process hosts, to move forward instead of sleeping
    (tests/clock.py)."""
    try:
        yield clock_stand_in.install(monkeypatch)
    finally:
        clock_stand_in.reset()


@pytest.fixture
def frame_auth() -> HostAuth:
    """The stand-in for the Frame's auth: Frame users, calling with bearer tokens."""
    return HostAuth(TOKEN_SECRET)


@pytest.fixture
def users(frame_auth: HostAuth) -> Users:
    return Users(frame_auth)


@pytest.fixture
async def app(tmp_path: Path, database_url: str, frame_auth: HostAuth) -> AsyncIterator[FastAPI]:
    config = HostConfig(data_dir=tmp_path / "data", database_url=database_url, auth=frame_auth)
    application = create_app(config)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def locked(
    tmp_path: Path, database_url: str, frame_auth: HostAuth, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    """The host with Frame users and ARKHAM_PACKETS_REQUIRE_USER on (a host `serve` lets bind
    anywhere)."""
    monkeypatch.setenv("ARKHAM_PACKETS_REQUIRE_USER", "true")
    app = create_app(HostConfig(tmp_path / "locked", database_url, auth=frame_auth))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def engine(app: FastAPI) -> Any:
    """The shard's own engine, for checking (or tampering with) what is really stored."""
    return app.state.packets_shard.services.database.engine


async def settle(client: httpx.AsyncClient) -> None:
    """Waits for the background work of the app behind `client`: its relay delivers what it has
    committed and share link reads are recorded after the answer, not before."""
    app = getattr(client._transport, "app", None)
    shard = None if app is None else getattr(app.state, "packets_shard", None)
    if shard is not None and shard.services is not None:
        assert await shard.services.share_uses.flush(), "share link uses were not recorded"
        assert await shard.services.relay.settle(), "the outbox relay did not finish a pass"


async def packet_events(
    client: httpx.AsyncClient,
    event_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> list[Any]:
    """What the app's bus received from the shard (once its relay has caught up), newest first:
    the events of the packets the caller (`headers`, else anonymous) may see."""
    await settle(client)
    response = await client.get(
        "/api/events/", params={"source": "packets", "limit": 1000}, headers=headers
    )
    assert response.status_code == 200
    events = response.json()["events"]
    return [e for e in events if event_type is None or e["event_type"] == event_type]


async def make_packet(client: httpx.AsyncClient, name: str = "Case file", **fields: Any) -> Any:
    response = await client.post("/api/packets/", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def add_item(
    client: httpx.AsyncClient,
    packet_id: str,
    content_id: str = "doc-1",
    content_type: str = "document",
    **fields: Any,
) -> Any:
    response = await client.post(
        f"/api/packets/{packet_id}/contents",
        json={"content_type": content_type, "content_id": content_id, **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def live_host(tmp_path: Path, database_url: str) -> Iterator[LiveHost]:
    with running(tmp_path / "live", database_url) as host:
        yield host


@pytest.fixture
def page_host(tmp_path: Path, database_url: str) -> Iterator[ThreadedHost]:
    """A live host for a browser to visit, served on a thread of this process."""
    with serving(tmp_path / "page", database_url) as host:
        yield host
