"""A standalone host whose shard can't start says why in one line and exits non-zero; it never
reports itself healthy without its shard (issue 13, finding 10)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from arkham_shard_packets.cli import main
from arkham_shard_packets.host.app import HostConfig, ShardsFailed, create_app

from .conftest import POSTGRES_URL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/packets"


def missing_database_url(tmp_path: Path) -> tuple[str, str]:
    if POSTGRES_URL:
        url = make_url(POSTGRES_URL).set(database="packets_no_such_database")
        return url.render_as_string(hide_password=False), 'database "packets_no_such_database"'
    return f"sqlite:///{tmp_path / 'no-such-folder' / 'packets.db'}", "unable to open database"


@pytest.mark.parametrize("kind", ["mysql", "unreachable", "missing", "garbage"])
def test_serve_says_in_one_line_what_is_wrong_with_the_database(
    kind: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARKHAM_PACKETS_DATABASE_URL", raising=False)
    url, expected = {
        "mysql": ("mysql://user:secret@db.example.org/packets", "unsupported database 'mysql'"),
        "unreachable": (unreachable_url(), "Connect call failed"),
        "missing": missing_database_url(tmp_path),
        "garbage": ("not a url", "Could not parse"),
    }[kind]
    port = str(free_port())
    code = main(["serve", "--port", port, "--data-dir", str(tmp_path / "d"), "--database-url", url])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err
    assert "secret" not in err


def test_a_live_serve_with_a_bad_database_exits_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    command = [sys.executable, "-m", "arkham_shard_packets.cli", "serve"]
    command += ["--port", str(free_port()), "--data-dir", str(tmp_path)]
    command += ["--database-url", unreachable_url()]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("arkham-packets: error: can't use the database")


async def test_the_host_is_unhealthy_without_its_shard(tmp_path: Path) -> None:
    config = HostConfig(data_dir=tmp_path, database_url=unreachable_url(), require_shards=False)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as http:
            health = await http.get("/api/health")
            assert health.status_code == 503
            body = health.json()
            assert body["status"] == "unhealthy"
            assert body["shards"] == []
            assert "packets" in body["failed"]
            assert (await http.get("/api/packets/health")).status_code == 404


async def test_the_host_does_not_start_without_its_shard(tmp_path: Path) -> None:
    app = create_app(HostConfig(data_dir=tmp_path, database_url=unreachable_url()))
    with pytest.raises(ShardsFailed, match="packets"):
        async with app.router.lifespan_context(app):
            pass
