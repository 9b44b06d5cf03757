"""Migrations: head matches the tables, an old database keeps every row, upgrades can race."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from arkham_shard_packets.cli import main
from arkham_shard_packets.db import search
from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.migrate import alembic_config, current_revision, upgrade
from arkham_shard_packets.db.revision import HEAD_REVISION, VERSION_TABLE
from arkham_shard_packets.db.schema import ensure_newest
from arkham_shard_packets.db.tables import metadata
from arkham_shard_packets.host.app import HostConfig, create_app

from .conftest import POSTGRES_URL, reset_postgres

FIRST = "0001"


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """Here migrations run from nothing: not on the suite's migrated copy (conftest.py)."""
    return empty_database_url


@pytest.fixture
async def fresh(database_url: str) -> AsyncIterator[AsyncEngine]:
    if POSTGRES_URL:
        await reset_postgres(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def schema_diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "version_table": VERSION_TABLE,
            "include_name": lambda name, _kind, _parents: not search.outside_metadata(name),
        },
    )
    return list(compare_metadata(context, metadata))


async def test_head_matches_the_table_definitions(fresh: AsyncEngine) -> None:
    await upgrade(fresh)
    async with fresh.connect() as conn:
        assert await conn.run_sync(schema_diff) == []


async def test_an_old_database_keeps_every_row(
    fresh: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    await upgrade(fresh, FIRST)
    assert await current_revision(fresh) == FIRST
    now = "2026-01-02T03:04:05.000006+00:00"
    async with fresh.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO arkham_packets (id, name, created_at, updated_at, contents_count)"
                " VALUES ('p-old', 'From the first schema', :now, :now, 1)"
            ),
            {"now": now},
        )
        await conn.execute(
            text(
                "INSERT INTO arkham_packet_contents (id, packet_id, content_type,"
                " content_id, content_title, added_at)"
                " VALUES ('c-old', 'p-old', 'document', 'd1', 'Memo', :now)"
            ),
            {"now": now},
        )
        await conn.execute(
            text(
                "INSERT INTO arkham_packet_versions (id, packet_id, version_number, created_at)"
                " VALUES ('v-old', 'p-old', 1, :now)"
            ),
            {"now": now},
        )
    app = create_app(HostConfig(data_dir=tmp_path / "d", database_url=database_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        packet = (await http.get("/api/packets/p-old")).json()
        contents = (await http.get("/api/packets/p-old/contents")).json()
    assert await current_revision(fresh) != FIRST
    assert packet["name"] == "From the first schema"
    assert packet["created_at"] == now
    assert [c["content_title"] for c in contents] == ["Memo"]
    async with fresh.connect() as conn:
        versions = (await conn.execute(text("SELECT id FROM arkham_packet_versions"))).all()
    assert [v.id for v in versions] == ["v-old"]


async def test_concurrent_upgrades_agree(fresh: AsyncEngine, database_url: str) -> None:
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    async with fresh.connect() as conn:
        assert await conn.run_sync(schema_diff) == []


def test_cli_db_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARKHAM_PACKETS_DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "upgrade", "--database-url", url]) == 2  # no installation there
    assert "`arkham-packets init` makes one" in capsys.readouterr().err
    assert not (tmp_path / "cli.db").exists()
    assert main(["init", "--database-url", url, "--data-dir", str(tmp_path / "data")]) == 0
    capsys.readouterr()
    assert main(["db", "upgrade", "--database-url", url]) == 0  # the data directory unused
    first = capsys.readouterr().out
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert capsys.readouterr().out == first
    assert first.startswith("database at revision ")
    assert "None" not in first


def test_head_revision_is_the_newest_migration() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_current_head() == HEAD_REVISION


async def test_a_database_at_head_starts_without_alembic(
    fresh: AsyncEngine, database_url: str
) -> None:
    """Alembic (with mako and pygments) costs every server process about 11 MB: it is only
    loaded when there is something to migrate."""
    await ensure_newest(fresh)
    assert await current_revision(fresh) == HEAD_REVISION
    probe = (
        "import asyncio, sys\n"
        "from arkham_shard_packets.db.engine import create_engine\n"
        "from arkham_shard_packets.db.schema import ensure_newest\n"
        "engine = create_engine(sys.argv[1])\n"
        "asyncio.run(ensure_newest(engine))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", probe, database_url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    assert out.decode().strip() == "[]"


async def test_items_already_there_are_searched_after_the_upgrade(
    fresh: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    """Migration 0017 builds the item search index for the rows it finds."""
    await upgrade(fresh, "0016")
    now = "2026-01-02T03:04:05.000006+00:00"
    async with fresh.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO arkham_packets (id, name, created_at, updated_at, contents_count)"
                " VALUES ('p-old', 'Harbor', :now, :now, 1)"
            ),
            {"now": now},
        )
        await conn.execute(
            text(
                "INSERT INTO arkham_packet_contents (id, packet_id, content_type, content_id,"
                " content_title, added_at, file_name, file_sha256)"
                " VALUES ('c-old', 'p-old', 'document', 'doc-17', 'Cargo manifest', :now,"
                " 'bill-of-lading.pdf', :digest)"
            ),
            {"now": now, "digest": "0" * 64},
        )
    app = create_app(HostConfig(data_dir=tmp_path / "d", database_url=database_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        for searched, matched in (
            ("manifest", "title"),
            ("doc-1", "content_id"),
            ("lading", "file_name"),
        ):
            items = (await http.get("/api/packets/", params={"search": searched})).json()["items"]
            assert [(p["id"], [m["matched"] for m in p["matched_items"]]) for p in items] == [
                ("p-old", [matched])
            ]
