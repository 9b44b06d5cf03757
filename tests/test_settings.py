"""One settings path: for every command, a flag wins over the environment, which wins over the
default, and `serve` hands the shard the database and data directory its own services use."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from arkham_shard_packets.cli.main import build_parser, host_config, main
from arkham_shard_packets.cli.options import settings_of
from arkham_shard_packets.db.revision import VERSION_TABLE
from arkham_shard_packets.host.app import HostConfig, create_app

LEVELS = ("flag", "environment", "default")


@dataclass(frozen=True)
class Expected:
    args: list[str]  # the flags given on the command line
    database: Path  # the SQLite file the command must use
    data_dir: Path
    unused: list[Path]  # databases a lower level would have used


def sqlite(path: Path) -> str:
    return f"sqlite:///{path}"


def arrange(level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Expected:
    for name in list(os.environ):
        if name.startswith("ARKHAM_PACKETS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    default = Expected(
        [], tmp_path / "arkham-packets-data" / "packets.db", Path("arkham-packets-data"), []
    )
    if level == "default":
        return default
    monkeypatch.setenv("ARKHAM_PACKETS_DATABASE_URL", sqlite(tmp_path / "env.db"))
    monkeypatch.setenv("ARKHAM_PACKETS_DATA_DIR", str(tmp_path / "env-data"))
    environment = Expected([], tmp_path / "env.db", tmp_path / "env-data", [default.database])
    if level == "environment":
        return environment
    flags = ["--database-url", sqlite(tmp_path / "flag.db"), "--data-dir", str(tmp_path / "flag")]
    unused = [environment.database, default.database]
    return Expected(flags, tmp_path / "flag.db", tmp_path / "flag", unused)


def rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(sql).fetchall()


def packet_ids(database: Path) -> set[object]:
    return {row[0] for row in rows(database, "SELECT id FROM arkham_packets")}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """A packet exported as json by a host of its own."""

    async def build() -> tuple[str, bytes]:
        app = create_app(HostConfig(data_dir=tmp_path_factory.mktemp("source")))
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://source") as http,
        ):
            packet = (await http.post("/api/packets/", json={"name": "Travelling"})).json()
            url = f"/api/packets/{packet['id']}"
            item = {"content_type": "claim", "content_id": "c-1", "data": {"n": 1}}
            assert (await http.post(f"{url}/contents", json=item)).status_code == 201
            exported = (await http.post(f"{url}/export", json={"format": "json"})).json()
            return packet["id"], (await http.get(exported["download_url"])).content

    return asyncio.run(build())


@pytest.mark.parametrize("level", LEVELS)
def test_serve(level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = arrange(level, tmp_path, monkeypatch)
    monkeypatch.setenv("ARKHAM_PACKETS_API_TOKEN", "from-the-environment")
    config = host_config(build_parser().parse_args(["serve", *expected.args]))
    assert config.api_token == "from-the-environment"
    app = create_app(config)

    async def started() -> None:
        async with app.router.lifespan_context(app):
            host_database = app.state.frame.get_service("database").config.database_url
            services = app.state.packets_shard.services
            shard_database = services.database.engine.url.database
            assert make_url(host_database).database == shard_database == str(expected.database)
            assert services.data_dir == expected.data_dir

    asyncio.run(started())
    assert rows(expected.database, f"SELECT version_num FROM {VERSION_TABLE}")
    assert not [path for path in expected.unused if path.exists()]


@pytest.mark.parametrize("level", LEVELS)
def test_init_then_db_upgrade(level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = arrange(level, tmp_path, monkeypatch)
    assert main(["db", "upgrade", *expected.args]) == 2  # nothing there yet
    assert main(["init", *expected.args]) == 0
    assert (tmp_path / expected.data_dir / "keys" / "signing-key.pem").is_file()
    assert main(["db", "upgrade", *expected.args]) == 0
    assert rows(expected.database, f"SELECT version_num FROM {VERSION_TABLE}")
    assert not [path for path in expected.unused if path.exists()]


@pytest.mark.parametrize("level", LEVELS)
def test_serve_listens_where_told(
    level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--host and --port, else ARKHAM_PACKETS_HOST and ARKHAM_PACKETS_PORT, else loopback
    and 8100."""
    arrange("default", tmp_path, monkeypatch)
    flags: list[str] = []
    expected = ("127.0.0.1", 8100)
    if level != "default":
        monkeypatch.setenv("ARKHAM_PACKETS_HOST", "::1")
        monkeypatch.setenv("ARKHAM_PACKETS_PORT", "8211")
        expected = ("::1", 8211)
    if level == "flag":
        flags = ["--host", "localhost", "--port", "8322"]
        expected = ("localhost", 8322)
    settings = settings_of(build_parser().parse_args(["serve", *flags]))
    assert (settings.host, settings.port) == expected


def test_a_bad_host_or_port_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    arrange("default", tmp_path, monkeypatch)
    for name, value, said in [
        ("PORT", "80000", "port (ARKHAM_PACKETS_PORT): Input should be less than or equal to"),
        ("PORT", "http", "port (ARKHAM_PACKETS_PORT): Input should be a valid integer"),
        ("HOST", " ", "host (ARKHAM_PACKETS_HOST): must be an address or a host name"),
    ]:
        monkeypatch.setenv(f"ARKHAM_PACKETS_{name}", value)
        assert main(["serve"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"arkham-packets: error: {said}"), err
        assert len(err.splitlines()) == 1
        monkeypatch.delenv(f"ARKHAM_PACKETS_{name}")
    monkeypatch.setenv("ARKHAM_PACKETS_HOST", "0.0.0.0")  # refused as --host 0.0.0.0 is
    assert main(["serve"]) == 2
    assert "refusing to serve on non-loopback address 0.0.0.0" in capsys.readouterr().err
    assert not (tmp_path / "arkham-packets-data").exists()


@pytest.mark.parametrize("level", LEVELS)
def test_import_then_export(
    level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bundle: tuple[str, bytes]
) -> None:
    packet_id, content = bundle
    source = tmp_path / "bundle.json"
    source.write_bytes(content)
    expected = arrange(level, tmp_path, monkeypatch)

    assert main(["init", *expected.args]) == 0
    assert main(["import", str(source), "--quiet", *expected.args]) == 0
    assert packet_ids(expected.database) == {packet_id}
    assert main(["export", packet_id, "--format", "zip", "--quiet", *expected.args]) == 0
    exported = list((tmp_path / expected.data_dir / "exports").glob(f"packet-{packet_id}-*.zip"))
    assert len(exported) == 1
    assert not [path for path in expected.unused if path.exists()]


def test_import_limit_defaults_are_the_bundle_formats() -> None:
    from arkham_shard_packets.bundles.format.limits import ImportLimits
    from arkham_shard_packets.bundles.limits import import_limits
    from arkham_shard_packets.config import Settings

    assert import_limits(Settings()) == ImportLimits()


def test_public_base_url_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from arkham_shard_packets.config import Settings

    for name in list(os.environ):
        if name.startswith("ARKHAM_PACKETS_"):
            monkeypatch.delenv(name)
    accepted = {
        "https://evidence.example.org/": "https://evidence.example.org",
        " http://10.0.0.5:8080/arkham/ ": "http://10.0.0.5:8080/arkham",
        "": None,
    }
    for given, kept in accepted.items():
        assert Settings(public_base_url=given).public_base_url == kept
    monkeypatch.setenv("ARKHAM_PACKETS_PUBLIC_BASE_URL", "https://from.env.example.org")
    assert Settings().public_base_url == "https://from.env.example.org"
    refused = {
        "evidence.example.org": "must be an http or https URL with a host",
        "ftp://evidence.example.org": "must be an http or https URL with a host",
        "https://": "must be an http or https URL with a host",
        "https://evidence.example.org/?a=1": "must not have a query",
        "https://evidence.example.org/#top": "must not have a query",
        "https://ana:hunter2@evidence.example.org": "must not carry a user name or password",
        "https://evidence.example.org:99999": "has an invalid port",
    }
    for given, said in refused.items():
        with pytest.raises(ValueError, match=said) as caught:
            Settings(public_base_url=given)
        assert "hunter2" not in str(caught.value)


def test_serve_takes_a_public_base_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ARKHAM_PACKETS_PUBLIC_BASE_URL", raising=False)
    base = ["serve", "--data-dir", str(tmp_path / "data")]
    args = build_parser().parse_args([*base, "--public-base-url", "https://ev.example.org/"])
    config = host_config(args)
    assert config.public_base_url == "https://ev.example.org"
    assert config.shard_settings().public_base_url == "https://ev.example.org"
    assert main([*base, "--public-base-url", "https://ana:hunter2@ev.example.org"]) == 2
    said = capsys.readouterr().err
    assert said == (
        "arkham-packets: error: public_base_url (ARKHAM_PACKETS_PUBLIC_BASE_URL): "
        "must not carry a user name or password\n"
    )
