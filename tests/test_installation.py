"""The installation the commands work on (cli/installation.py): `init` makes one; every other
command but `serve` refuses, in one line and with nothing made, a data directory or database
that holds none (a mistyped `--data-dir` never becomes a new installation with a key of its
own), and says in one line why a database can't be used, as `serve` does."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from arkham_shard_packets.cli import main
from arkham_shard_packets.db.engine import create_engine
from arkham_shard_packets.db.migrate import upgrade
from arkham_shard_packets.db.revision import HEAD_REVISION, VERSION_TABLE

from .conftest import POSTGRES_URL
from .test_host_startup import missing_database_url, unreachable_url

# Every command that works on an installation, with the arguments it needs.
COMMANDS = [
    ["db", "upgrade"],
    ["keys", "list"],
    ["keys", "rotate"],
    ["keys", "revoke", "sha256:" + "0" * 64],
    ["keys", "export"],
    ["export", "some-packet"],
    ["import", "{bundle}"],
    ["seals", "attest", "--all"],
]
MAKE_ONE = "`arkham-packets init` makes one (`serve` does too)"


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """Here a database holds no installation until a command makes one: not the suite's
    migrated copy (conftest.py)."""
    return empty_database_url


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ARKHAM_PACKETS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def command(args: list[str], tmp_path: Path) -> list[str]:
    bundle = tmp_path / "bundle.json"
    bundle.write_text("{}")
    return [arg.format(bundle=bundle) for arg in args]


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("arkham-packets: error: ")
    return lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_mistyped_data_directory_is_refused_and_nothing_made(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "arkham-packets-dta"
    assert main([*command(args, tmp_path), "--data-dir", str(typo)]) == 2
    said = one_line(capsys.readouterr().err)
    assert f"no installation in {typo}: there is no such directory" in said
    assert MAKE_ONE in said
    assert not typo.exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*command(args, tmp_path), "--data-dir", str(empty)]) == 2
    assert f"no installation in {empty}: it holds no database" in one_line(capsys.readouterr().err)
    assert files_under(empty) == []

    # the default data directory, ./arkham-packets-data, is not there either
    assert main(command(args, tmp_path)) == 2
    assert "no installation in arkham-packets-data" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "arkham-packets-data").exists()


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
async def test_a_database_without_an_installation_is_refused(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    """A database that is there but holds no packets schema (the suite's PostgreSQL emptied,
    or SQLite file made by something else); and on SQLite a database URL naming no file."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if not POSTGRES_URL:
        sqlite3.connect(tmp_path / "packets.db").close()  # a database, empty
    where = ["--data-dir", str(data_dir), "--database-url", database_url]
    code = await asyncio.to_thread(main, [*command(args, tmp_path), *where])
    assert code == 2
    said = one_line(capsys.readouterr().err)
    assert "holds no packets installation (a mistyped --database-url" in said
    assert MAKE_ONE in said
    assert files_under(data_dir) == []
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert VERSION_TABLE not in tables and "arkham_packets" not in tables

    typo = tmp_path / "pakets.db"
    code = await asyncio.to_thread(
        main, [*command(args, tmp_path), *where[:2], "--database-url", f"sqlite:///{typo}"]
    )
    assert code == 2
    assert f"no database at {typo} (a mistyped --database-url" in one_line(capsys.readouterr().err)
    assert not typo.exists()


async def test_init_makes_an_installation_and_leaves_one_there_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    data_dir = tmp_path / "desk"
    where = ["--data-dir", str(data_dir), "--database-url", database_url]
    assert await asyncio.to_thread(main, ["init", *where]) == 0
    made = capsys.readouterr().out.splitlines()
    assert made[0] == f"a new installation: {data_dir}"
    assert made[1].endswith(f"(revision {HEAD_REVISION})")
    assert made[2].startswith("  signing key sha256:")
    key = made[2].split()[-1]

    assert await asyncio.to_thread(main, ["keys", "list", *where]) == 0
    (listed,) = capsys.readouterr().out.splitlines()
    assert listed.startswith(f"active   {key}  ")

    assert await asyncio.to_thread(main, ["init", *where]) == 0
    again = capsys.readouterr().out.splitlines()
    assert again[0] == f"an installation, there already: {data_dir}"
    assert again[2] == made[2]  # the same key: nothing made anew
    assert await asyncio.to_thread(main, ["db", "upgrade", *where]) == 0
    assert capsys.readouterr().out == f"database at revision {HEAD_REVISION}\n"


async def test_a_probe_file_left_by_a_killed_server_stops_no_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    """The writability probe's file is the process's own: one left by a server killed
    mid-probe, or another server starting on the same directory, is no reason to refuse."""
    data_dir = tmp_path / "shared"
    data_dir.mkdir(mode=0o700)
    (data_dir / ".write-test").write_bytes(b"")
    where = ["--data-dir", str(data_dir), "--database-url", database_url]
    assert await asyncio.to_thread(main, ["init", *where]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith(f"a new installation: {data_dir}")
    assert sorted(path.name for path in data_dir.glob(".write-test*")) == [".write-test"]


async def test_keys_list_never_makes_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    """An installation without a key yet (one upgraded from before signed seals, whose server
    has not started since): listing and exporting say so, and make none."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    where = ["--data-dir", str(data_dir), "--database-url", database_url]
    assert await asyncio.to_thread(main, ["keys", "list", *where]) == 0
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == (
        "no signing key yet: the first `serve` (or `init`) makes the installation's key\n"
    )
    assert await asyncio.to_thread(main, ["keys", "export", *where]) == 1
    assert "no signing key yet" in one_line(capsys.readouterr().err)
    assert not (data_dir / "keys").exists()
    assert await stored_keys(database_url) == 0


async def stored_keys(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            counted = await connection.execute(
                text("SELECT count(*) FROM arkham_packet_signing_keys")
            )
            return int(counted.scalar_one())
    finally:
        await engine.dispose()


def without_asyncpg(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import asyncpg` fails as it does where it is not installed."""
    shim = tmp_path / "shim" / "asyncpg"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'asyncpg'\", name='asyncpg')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(shim.parent), *sys.path])
    return env


@pytest.mark.parametrize("args", [*COMMANDS, ["init"]], ids=" ".join)
def test_a_missing_driver_is_one_line_for_every_command(args: list[str], tmp_path: Path) -> None:
    url = "postgresql://packets:hunter2@127.0.0.1/packets"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    where = ["--database-url", url, "--data-dir", str(data_dir)]
    ran = subprocess.run(
        [sys.executable, "-m", "arkham_shard_packets.cli", *command(args, tmp_path), *where],
        env=without_asyncpg(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 2, ran.stderr
    assert one_line(ran.stderr) == (
        "arkham-packets: error: can't use the database postgresql://packets:***@127.0.0.1/"
        "packets: asyncpg is not installed: pip install 'arkham-shard-packets[postgres]'"
    )
    assert ran.stdout == ""


@pytest.mark.parametrize("kind", ["unreachable", "missing"])
@pytest.mark.parametrize("args", [*COMMANDS, ["init"]], ids=" ".join)
def test_an_unusable_database_is_one_line_for_every_command(
    kind: str, args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that doesn't answer, a database that isn't there (on PostgreSQL an unknown
    database; on SQLite a file in a folder that isn't there)."""
    if kind == "unreachable":
        url, expected = unreachable_url(), "Connect call failed"
    else:
        url, expected = missing_database_url(tmp_path)
        if not POSTGRES_URL and args != ["init"]:
            expected = "no database at "
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    where = ["--database-url", url, "--data-dir", str(data_dir)]
    assert main([*command(args, tmp_path), *where]) == 2
    said = one_line(capsys.readouterr().err)
    assert expected in said
    assert str(make_url(url).database) in said


def test_a_command_on_a_lost_database_prints_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    where = ["--database-url", unreachable_url(), "--data-dir", str(tmp_path)]
    for args in (["keys", "list"], ["db", "upgrade"], ["export", "x"]):
        ran = subprocess.run(
            [sys.executable, "-m", "arkham_shard_packets.cli", *args, *where],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 2
        assert "Traceback" not in ran.stderr
        assert one_line(ran.stderr).startswith("arkham-packets: error: can't use the database")
