"""The standalone host: Frame-shaped host routes, the bearer token, and the `serve` command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.cli import main
from arkham_shard_packets.host.app import HostConfig, create_app

from .conftest import POSTGRES_URL, make_packet, reset_postgres, settle
from .live_host import free_port


async def test_shards_listing_in_the_frames_shape(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/shards/")).json()
    assert body["count"] == 1
    assert body["loaded_count"] == 1
    (packets,) = body["shards"]
    assert packets["name"] == "packets"
    assert packets["loaded"] is True
    assert packets["enabled"] is True
    assert packets["navigation"]["order"] == 62
    assert (await client.get("/api/health")).json() == {"status": "healthy", "shards": ["packets"]}


async def test_event_history_newest_first(client: httpx.AsyncClient) -> None:
    first = await make_packet(client, "one")
    second = await make_packet(client, "two")
    await settle(client)  # events reach the bus after the answer
    body = (await client.get("/api/events/", params={"source": "packets", "limit": 1})).json()
    assert body["count"] == 1
    (event,) = body["events"]
    assert event["payload"]["packet_id"] == second["id"]
    assert set(event) == {"event_type", "payload", "source", "timestamp", "sequence"}
    both = (await client.get("/api/events/", params={"source": "packets"})).json()["events"]
    assert [e["payload"]["packet_id"] for e in both] == [second["id"], first["id"]]
    assert both[0]["sequence"] > both[1]["sequence"]
    none = (await client.get("/api/events/", params={"source": "other"})).json()
    assert none == {"events": [], "count": 0}


@pytest.fixture
async def guarded(tmp_path: Path, database_url: str) -> AsyncIterator[FastAPI]:
    if POSTGRES_URL:
        await reset_postgres(database_url)
    app = create_app(
        HostConfig(data_dir=tmp_path / "d", database_url=database_url, api_token="s3cret")
    )
    async with app.router.lifespan_context(app):
        yield app


async def test_api_token_is_required_when_set(guarded: FastAPI) -> None:
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://h") as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            response = await http.get("/api/packets/", headers=headers)
            assert response.status_code == 401
            assert response.json()["detail"] == "missing or wrong bearer token"
        ok = await http.get("/api/packets/", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert (await http.get("/docs")).status_code == 200


def test_serve_refuses_a_public_address_without_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ARKHAM_PACKETS_API_TOKEN", raising=False)
    code = main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "non-loopback" in err and "ARKHAM_PACKETS_API_TOKEN" in err
    assert len(err.strip().splitlines()) == 1


def test_serve_reports_a_busy_port(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = main(["serve", "--port", str(port), "--data-dir", str(tmp_path)])
    assert code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err


def test_serve_reports_an_unusable_data_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code = main(["serve", "--data-dir", str(blocker / "data")])
    assert code == 2
    assert "data directory" in capsys.readouterr().err


def test_live_server_serves_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "arkham_shard_packets.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "live"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/packets/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        created = httpx.post(f"{base}/api/packets/", json={"name": "live"})
        assert created.status_code == 201
        assert httpx.get(f"{base}/docs").status_code == 200
        assert httpx.get(f"{base}/api/packets/count").json() == {"count": 1}
        assert (tmp_path / "live" / "packets.db").exists()
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "Traceback" not in output
    assert "Application shutdown complete" in output
