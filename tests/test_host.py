"""The standalone host: Frame-shaped host routes, the bearer token, and the `serve` command."""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from arkham_shard_packets.api import PREFIX
from arkham_shard_packets.cli import main
from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.host.auth import HostAuth
from arkham_shard_packets.host.mounting import routes_built_once
from arkham_shard_packets.shard import PacketsShard

from .conftest import POSTGRES_URL, make_packet, reset_postgres, settle
from .frame_users import Users, bearer
from .live_host import free_port, wait_until_healthy

TENANT = "7c0f3a0e-0000-4000-8000-0000000000d1"
OTHER = "7c0f3a0e-0000-4000-8000-0000000000d2"


async def test_shards_listing_in_the_frames_shape(
    client: httpx.AsyncClient, store_backend: str
) -> None:
    body = (await client.get("/api/shards/")).json()
    assert body["count"] == 1
    assert body["loaded_count"] == 1
    (packets,) = body["shards"]
    assert packets["name"] == "packets"
    assert packets["loaded"] is True
    assert packets["enabled"] is True
    assert packets["navigation"]["order"] == 62
    assert (await client.get("/api/health")).json() == {
        "status": "healthy",
        "shards": ["packets"],
        "stores": {"packets": {"backend": store_backend, "reachable": True}},
    }


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


def host_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the host itself adds, in its schema or not."""
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if not path.startswith(PREFIX)
        for method in operations
    }
    for route in app.routes:
        if getattr(route, "path", "").startswith(PREFIX):  # the shard's (older FastAPI)
            continue
        if isinstance(route, (APIRoute, Route)):
            found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
        elif isinstance(route, Mount):
            found.add(("GET", route.path + "/{path}"))
    return found


# What the host answers without a user, and why: no packet data in any of them.
OPEN_HOST_ROUTES = {
    ("GET", "/"),  # the addresses of the docs, as JSON, or a redirect to them
    ("GET", "/docs"),  # the API's description, as the Frame serves its own
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
    ("GET", "/static-offline-docs/{path}"),  # Swagger UI's and ReDoc's files
    ("GET", "/api/health"),  # a liveness probe, as the shard's /health is
}


async def test_the_hosts_own_routes_need_a_user_where_the_shard_does(
    locked: FastAPI, users: Users
) -> None:
    transport = httpx.ASGITransport(app=locked)
    async with httpx.AsyncClient(transport=transport, base_url="http://h") as http:
        as_ana = users.headers(TENANT)
        made = await http.post("/api/packets/", json={"name": "Ana's harbor"}, headers=as_ana)
        packet = made.json()
        routes = host_routes(locked)
        assert {("GET", "/api/events/"), ("GET", "/api/shards/")} <= routes
        for method, path in sorted(routes - OPEN_HOST_ROUTES):
            url = path.replace("{path}", "x")
            response = await http.request(method, url, params={"source": "packets"})
            assert response.status_code == 401, (method, path, response.text)
            assert "needs a signed-in Frame user" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"
            stale = bearer("not-a-token")
            refused = await http.request(method, url, headers=stale)
            assert refused.status_code == 401, (method, path)
            signed_in = await http.request(method, url, headers=users.headers(TENANT, "viewer"))
            assert signed_in.status_code == 200, (method, path, signed_in.text)
        for method, path in sorted(OPEN_HOST_ROUTES & routes):
            if "{" not in path:
                opened = await http.request(method, path)
                assert opened.status_code == 200, (method, path)
                assert packet["id"] not in opened.text and packet["name"] not in opened.text


async def host_events(http: httpx.AsyncClient, headers: dict[str, str]) -> list[Any]:
    await settle(http)
    answer = await http.get(
        "/api/events/", params={"source": "packets", "limit": 1000}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == len(body["events"])
    return list(body["events"])


async def test_the_hosts_event_history_shows_a_caller_its_own_tenants_events(
    client: httpx.AsyncClient, users: Users
) -> None:
    """Events carry no tenant on the bus: the packet they name says whose they are."""
    callers = {"ana": users.headers(TENANT), "ben": users.headers(OTHER), "anonymous": {}}
    made: dict[str, str] = {}
    for caller, headers in callers.items():
        created = await client.post("/api/packets/", json={"name": caller}, headers=headers)
        pid = created.json()["id"]
        share = {"shared_with": f"reader-of-{pid}@example.org"}
        shared = await client.post(f"/api/packets/{pid}/share", json=share, headers=headers)
        assert shared.status_code == 201
        made[caller] = pid
    readers = {"ana": users.headers(TENANT, "viewer"), "ben": users.headers(OTHER, "viewer")}
    for caller, headers in {**readers, "anonymous": {}}.items():
        shown = await host_events(client, headers)
        # a signed-in caller also sees the tenantless space, as on the shard's routes
        # (docs/users.md, one world for the Shell and scripts)
        seen = [made[caller]] if caller == "anonymous" else [made[caller], made["anonymous"]]
        assert sorted((e["event_type"], e["payload"]["packet_id"]) for e in shown) == sorted(
            (event, pid)
            for pid in seen
            for event in ("packets.packet.shared", "packets.packet.created")
        )
        text = json.dumps(shown)
        for pid in set(made.values()) - set(seen):
            assert pid not in text and f"reader-of-{pid}" not in text
    # the limit counts the caller's own events, newest first
    one = await client.get("/api/events/", params={"limit": 1}, headers=users.headers(TENANT))
    assert [e["event_type"] for e in one.json()["events"]] == ["packets.packet.shared"]
    # a token that names no one is refused here as on the shard's routes
    refused = await client.get("/api/events/", headers=bearer("not-a-token"))
    assert refused.status_code == 401


@pytest.fixture
async def guarded(tmp_path: Path, database_url: str) -> AsyncIterator[FastAPI]:
    if POSTGRES_URL:
        await reset_postgres(database_url)
    app = create_app(
        HostConfig(data_dir=tmp_path / "d", database_url=database_url, api_token="s3cret")
    )
    async with app.router.lifespan_context(app):
        yield app


async def served_everything(app: FastAPI, frame_users: Users) -> None:
    """The app's every kind of route answered once: the docs, the host's, the shard's."""
    admin = frame_users.headers(TENANT, "admin")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for page in ("/", "/docs", "/docs/oauth2-redirect", "/redoc", "/api/health"):
                assert (await client.get(page)).status_code == 200, page
            assert (await client.get("/api/events/", headers=admin)).status_code == 200
            assert (await client.get("/api/shards/", headers=admin)).status_code == 200
            created = await client.post(f"{PREFIX}/", json={"name": "Kept?"}, headers=admin)
            assert created.status_code == 201, created.text
            read = await client.get(f"{PREFIX}/{created.json()['id']}", headers=admin)
            assert read.status_code == 200
            assert (await client.get(f"{PREFIX}/a/b/c/d/e")).status_code == 404
            await settle(client)


async def test_a_stopped_app_leaves_nothing_alive(
    app: FastAPI, tmp_path: Path, database_url: str, frame_auth: HostAuth
) -> None:
    """FastAPI keeps the callables it has looked at (up to 4,096): an endpoint made for one app
    would keep it, its engine and its routes alive after it stopped, in a process that makes
    many (the tests'; each one then slows every later collection). The process's first app
    (`app`, started before this one) is kept on purpose: `freeze_start_up`."""
    del app
    second = create_app(HostConfig(tmp_path / "second", database_url, auth=frame_auth))
    await served_everything(second, Users(frame_auth))
    stopped = weakref.ref(second)
    del second
    gc.collect()
    assert stopped() is None, [type(holder).__name__ for holder in gc.get_referrers(stopped())]


async def test_the_apps_of_a_process_share_the_shards_routes(
    app: FastAPI,
    client: httpx.AsyncClient,
    tmp_path: Path,
    database_url: str,
    frame_auth: HostAuth,
) -> None:
    """FastAPI works out an included router's routes again for every app it is included in;
    the host includes the shard's as built once a process (host/mounting.py), and every app
    serves them on its own database and services."""
    shared = routes_built_once(PacketsShard().get_routes())
    second = create_app(HostConfig(tmp_path / "second", database_url, auth=frame_auth))
    async with second.router.lifespan_context(second):
        for each in (app, second):
            assert all(any(route is one for route in each.router.routes) for one in shared)
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as other:
            made = await make_packet(client, "made in the first app")
            read = await other.get(f"{PREFIX}/{made['id']}")
            assert read.status_code == 200 and read.json()["name"] == "made in the first app"
            await settle(client)
            await settle(other)
        assert second.state.frame is not app.state.frame


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
        wait_until_healthy(base, server)
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
