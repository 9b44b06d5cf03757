"""Frame users: every action names its user, a token that resolves to no user is 401, the
require-user setting shuts anonymous callers out of everything but share links, a viewer reads
and changes nothing, and inside the Frame the Frame's own auth dependency is the one used.

Users and tokens come from the stand-in Frame (host/auth.py), made as the Frame's login makes
them. The last test runs the shard where `arkham_frame.auth` is importable (a double of it, in
tests/frame_double), to show the seam takes the Frame's dependency rather than ours.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from arkham_shard_packets.api import PREFIX
from arkham_shard_packets.cli import main
from arkham_shard_packets.db.tables import packet_exports
from arkham_shard_packets.host.app import HostConfig, ShardsFailed, create_app
from arkham_shard_packets.host.auth import AUDIENCE, FrameUser, HostAuth
from arkham_shard_packets.sharing.routes import opens_share_link

from .conftest import POSTGRES_URL, packet_events, reset_postgres
from .frame_users import TOKEN_SECRET, Users, bearer
from .live_host import free_port
from .served import served_routes
from .test_shard import ContractBus, ContractDatabase, ContractFrame, load_like_the_frame, plain_url
from .test_tenant_walk import tenant_rows

API = PREFIX
TENANT = "7c0f3a0e-0000-4000-8000-0000000000c1"
OTHER = "7c0f3a0e-0000-4000-8000-0000000000c2"
UNRESOLVED = "the bearer token is invalid or expired, or names no active Frame user"
NO_EXPIRY = (
    "the bearer token has no expiry (exp): such a token would never expire, so it is refused; "
    "issue one that expires (arkham-packets token)"
)
FRAME_DOUBLE = Path(__file__).parent / "frame_double"


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://frame") as http:
        yield http


def is_share_link(method: str, path: str) -> bool:
    return opens_share_link(method, path.removeprefix(API))


def filled(path: str, **values: str) -> str:
    """A route's path with its parameters filled: the given values, else a harmless one."""
    defaults = {"packet_status": "draft", "action": "finalize"}
    return re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), defaults.get(m.group(1), "1")), path)


async def test_every_recorded_action_names_the_user(
    client: httpx.AsyncClient, users: Users, engine: Any
) -> None:
    ana = users.user(TENANT, email="ana@example.org")
    as_ana = users.headers(TENANT, email=ana.email)
    packet = (await client.post(f"{API}/", json={"name": "Harbor"}, headers=as_ana)).json()
    pid = packet["id"]
    item = {"content_type": "document", "content_id": "doc-1"}
    added = (await client.post(f"{API}/{pid}/contents", json=item, headers=as_ana)).json()
    await client.post(f"{API}/{pid}/versions", json={}, headers=as_ana)
    await client.post(f"{API}/{pid}/finalize", headers=as_ana)
    shared = await client.post(f"{API}/{pid}/share", json={"shared_with": "public"}, headers=as_ana)
    await client.post(f"{API}/{pid}/export", json={"format": "json"}, headers=as_ana)

    assert packet["created_by"] == added["added_by"] == shared.json()["shared_by"] == str(ana.id)
    versions = (await client.get(f"{API}/{pid}/versions", headers=as_ana)).json()
    assert [v["created_by"] for v in versions] == [str(ana.id)] * 3
    async with engine.connect() as conn:
        exported_by = (await conn.execute(select(packet_exports.c.exported_by))).scalars().all()
    assert exported_by == [str(ana.id)]
    (created,) = await packet_events(client, "packets.packet.created", headers=as_ana)
    assert created["payload"]["created_by"] == str(ana.id)
    # The person opening the link reads who shared it by email, not by an id.
    page = (await client.get(shared.json()["share_url"])).text
    assert "<dt>Shared by</dt><dd>ana@example.org</dd>" in page
    assert str(ana.id) not in page


async def test_a_token_that_resolves_to_no_user_is_401(
    client: httpx.AsyncClient, users: Users, frame_auth: HostAuth
) -> None:
    ana = users.user(TENANT)
    gone = frame_auth.add(
        FrameUser.model_validate(
            {"email": "gone@example.org", "tenant_id": TENANT, "is_active": False}
        )
    )
    stranger = FrameUser.model_validate(
        {"email": "stranger@example.org", "tenant_id": TENANT}
    )  # not a user here
    later = int(time.time()) + 600
    tokens = {
        "expired": frame_auth.issue(ana, lifetime_seconds=-60),
        "another secret": HostAuth("another secret, also long enough for HS256").issue(ana),
        "another audience": jwt.encode(
            {"sub": str(ana.id), "aud": ["someone-else"], "exp": later}, TOKEN_SECRET, "HS256"
        ),
        "no subject": jwt.encode({"aud": AUDIENCE, "exp": later}, TOKEN_SECRET, "HS256"),
        "unsigned": jwt.encode({"sub": str(ana.id), "aud": AUDIENCE}, "", algorithm="none"),
        "unknown user": frame_auth.issue(stranger),
        "inactive user": frame_auth.issue(gone),
        "not a token": "not-a-jwt",
    }
    anonymous = (await client.post(f"{API}/", json={"name": "open"})).json()
    link = (
        await client.post(f"{API}/{anonymous['id']}/share", json={"shared_with": "public"})
    ).json()["access_token"]
    for name, token in tokens.items():
        for method, path in [("GET", "/"), ("POST", "/"), ("GET", f"/{anonymous['id']}")]:
            response = await client.request(
                method, API + path, json={"name": name}, headers=bearer(token)
            )
            assert response.status_code == 401, (name, method, path, response.text)
            assert response.json() == {"detail": UNRESOLVED}
            assert response.headers["www-authenticate"] == "Bearer"
        # a share link's token is its credential: a bad bearer beside it changes nothing
        opened = await client.get(f"{API}/shared/{link}", headers=bearer(token))
        assert opened.status_code == 200, name
    assert (await client.get(f"{API}/count")).json() == {"count": 1}
    # the tenantless packet is open to anyone, so a tenant's user counts it too
    assert (await client.get(f"{API}/count", headers=users.headers(TENANT))).json() == {"count": 1}
    # Another scheme is not a Frame token: such a caller is anonymous, as with no header.
    basic = await client.get(f"{API}/", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 200 and basic.json()["total"] == 1


async def test_a_token_without_an_expiry_is_refused(
    client: httpx.AsyncClient, users: Users
) -> None:
    """Signed with the right secret, for the right audience, naming an active user, but
    without `exp`: a token that would never expire is refused, saying why."""
    ana = users.user(TENANT)
    forever = jwt.encode({"sub": str(ana.id), "aud": AUDIENCE}, TOKEN_SECRET, "HS256")
    for method, path in [("GET", "/"), ("POST", "/"), ("GET", "/count")]:
        response = await client.request(
            method, API + path, json={"name": "x"}, headers=bearer(forever)
        )
        assert response.status_code == 401, (method, path, response.text)
        assert response.json() == {"detail": NO_EXPIRY}
        assert response.headers["www-authenticate"] == "Bearer"
    # the same token with an expiry is let in
    lasting = jwt.encode(
        {"sub": str(ana.id), "aud": AUDIENCE, "exp": int(time.time()) + 600}, TOKEN_SECRET
    )
    assert (await client.get(f"{API}/", headers=bearer(lasting))).status_code == 200


async def test_require_user_shuts_out_anonymous_callers_but_not_share_links(
    locked: FastAPI, users: Users
) -> None:
    as_ana = users.headers(TENANT)
    async with client_of(locked) as client:
        packet = (await client.post(f"{API}/", json={"name": "Locked"}, headers=as_ana)).json()
        share = {"shared_with": "public", "permissions": "comment"}
        made = await client.post(f"{API}/{packet['id']}/share", json=share, headers=as_ana)
        token = made.json()["access_token"]
        refused = 0
        for method, path in served_routes(locked):
            if is_share_link(method, path):
                continue
            url = filled(path, packet_id=packet["id"], token=token)
            response = await client.request(method, url)
            if path == f"{API}/health":
                assert response.status_code == 200
                continue
            assert response.status_code == 401, (method, path, response.text)
            assert "needs a signed-in Frame user" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"
            refused += 1
        assert refused >= 30
        # No account is needed to open a link, read it as a page, or comment through it.
        assert (await client.get(f"{API}/shared/{token}")).status_code == 200
        assert (await client.get(f"{API}/shared/{token}/view")).status_code == 200
        comment = {"author": "Reader", "body": "seen"}
        assert (
            await client.post(f"{API}/shared/{token}/comments", json=comment)
        ).status_code == 201
        mine = (await client.get(f"{API}/", headers=as_ana)).json()
        assert [p["id"] for p in mine["items"]] == [packet["id"]]


async def test_a_viewer_reads_but_changes_nothing(
    client: httpx.AsyncClient, users: Users, engine: Any, app: FastAPI
) -> None:
    as_analyst = users.headers(TENANT)
    as_viewer = users.headers(TENANT, role="viewer", email="vera@example.org")
    as_admin = users.headers(TENANT, role="admin", email="root@example.org")

    async def made(method: str, path: str, **kwargs: Any) -> Any:
        response = await client.request(method, API + path, headers=as_analyst, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    draft = (await made("POST", "/", json={"name": "Draft"}))["id"]
    entry = (
        await made("POST", f"/{draft}/contents", json={"content_type": "claim", "content_id": "c"})
    )["id"]
    await made("PUT", f"/{draft}/contents/{entry}/file", files={"file": ("a.txt", b"evidence")})
    sealed = (await made("POST", "/", json={"name": "Sealed"}))["id"]
    await made("POST", f"/{sealed}/finalize")
    share = (await made("POST", f"/{sealed}/share", json={"shared_with": "public"}))["id"]
    export = (await made("POST", f"/{sealed}/export", json={"format": "json"}))["export_id"]
    before = await tenant_rows(engine, TENANT)

    ids = {
        "packet_id": draft,
        "content_entry_id": entry,
        "share_id": share,
        "export_id": export,
    }
    refused = 0
    for method, path in served_routes(app):
        if is_share_link(method, path):
            continue
        url = filled(path, **ids)
        response = await client.request(method, url, headers=as_viewer)
        if method == "GET":
            assert response.status_code not in (401, 403), (method, path, response.text)
            continue
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["detail"] == (
            "vera@example.org has the role 'viewer'; only an admin may do this"
            if path.endswith(("/tenant", "/attest"))
            else "vera@example.org has the role 'viewer', which may read packets but not change "
            "them; changes need the analyst or admin role"
        )
        refused += 1
    assert refused >= 15
    assert await tenant_rows(engine, TENANT) == before

    for path in (
        "/",
        f"/{draft}",
        f"/{draft}/contents",
        f"/{draft}/contents/{entry}/file",
        f"/{draft}/versions",
        f"/{sealed}/verify",
        f"/{sealed}/shares",
        f"/{sealed}/shares/{share}/access",
        f"/{sealed}/exports/{export}",
        "/events",
        "/stats/overview",
    ):
        assert (await client.get(API + path, headers=as_viewer)).status_code == 200, path
    listed = (await client.get(f"{API}/", headers=as_viewer)).json()
    assert listed["total"] == 2
    # An admin changes as an analyst does.
    finalized = await client.post(f"{API}/{draft}/finalize", headers=as_admin)
    assert finalized.status_code == 200 and finalized.json()["status"] == "finalized"


class FrameConfig:
    """The Frame's config service as shards meet it: `get` with a dotted key."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        value: Any = self.values
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value


@asynccontextmanager
async def frame_with_config(
    tmp_path: Path, config: dict[str, Any], auth: HostAuth
) -> AsyncIterator[httpx.AsyncClient]:
    url = plain_url(tmp_path)
    if POSTGRES_URL:
        await reset_postgres(url)
    services = {"database": ContractDatabase(url), "events": ContractBus()}
    frame = ContractFrame({**services, "config": FrameConfig(config)})
    frame.auth = auth  # type: ignore[attr-defined]
    shard = await load_like_the_frame(frame)
    try:
        async with client_of(frame.app) as client:
            yield client
    finally:
        await shard.shutdown()


async def test_the_frames_config_can_require_a_user_and_the_environment_wins(
    tmp_path: Path, users: Users, frame_auth: HostAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARKHAM_PACKETS_REQUIRE_USER", raising=False)
    on = {"packets": {"require_user": "true"}}
    async with frame_with_config(tmp_path, on, frame_auth) as client:
        assert (await client.get(f"{API}/")).status_code == 401
        assert (await client.get(f"{API}/", headers=users.headers(TENANT))).status_code == 200
    monkeypatch.setenv("ARKHAM_PACKETS_REQUIRE_USER", "false")
    async with frame_with_config(tmp_path, on, frame_auth) as client:
        assert (await client.get(f"{API}/")).status_code == 200


async def test_requiring_a_user_with_nothing_to_resolve_one_refuses_to_start(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("ARKHAM_PACKETS_REQUIRE_USER", "true")
    if POSTGRES_URL:
        await reset_postgres(database_url)
    app = create_app(HostConfig(tmp_path / "d", database_url))  # no Frame users
    with pytest.raises(ShardsFailed, match="nothing here resolves Frame users"):
        async with app.router.lifespan_context(app):
            pass
    app = create_app(HostConfig(tmp_path / "d", database_url, require_shards=False))
    async with app.router.lifespan_context(app):
        assert app.state.frame.shards == {}
        async with client_of(app) as client:
            assert (await client.get(f"{API}/")).status_code == 404
    assert "nothing here resolves Frame users" in caplog.text


def test_host_refuses_an_api_token_beside_frame_users(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose one"):
        create_app(HostConfig(tmp_path, api_token="s3cret", auth=HostAuth(TOKEN_SECRET)))


def write_users(path: Path, users: list[FrameUser]) -> Path:
    path.write_text("[" + ",".join(user.model_dump_json() for user in users) + "]")
    return path


async def test_token_command_issues_a_token_the_host_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users_file = tmp_path / "users.json"  # no ids: the server and the command must agree
    users_file.write_text(f'[{{"email": "ana@example.org", "tenant_id": "{TENANT}"}}]')
    monkeypatch.setenv("ARKHAM_PACKETS_AUTH_SECRET", TOKEN_SECRET)
    monkeypatch.setenv("ARKHAM_PACKETS_AUTH_USERS_FILE", str(users_file))
    assert main(["token", "ana@example.org"]) == 0
    token = capsys.readouterr().out.strip()
    server_side = HostAuth.from_file(TOKEN_SECRET, users_file)  # read again, as `serve` does
    ana = await server_side.user_for_token(token)
    assert ana is not None and ana.email == "ana@example.org"
    claims = jwt.decode(token, TOKEN_SECRET, audience=AUDIENCE, algorithms=["HS256"])
    assert claims["sub"] == str(ana.id) and claims["aud"] == AUDIENCE
    assert 3590 <= claims["exp"] - time.time() <= 3600
    assert main(["token", "nobody@example.org"]) == 2
    assert "no active user nobody@example.org" in capsys.readouterr().err
    monkeypatch.delenv("ARKHAM_PACKETS_AUTH_SECRET")
    assert main(["token", "ana@example.org"]) == 2
    assert "go together" in capsys.readouterr().err


def test_token_lifetime_is_held_to_the_settings_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users_file = tmp_path / "users.json"
    users_file.write_text(f'[{{"email": "ana@example.org", "tenant_id": "{TENANT}"}}]')
    monkeypatch.setenv("ARKHAM_PACKETS_AUTH_SECRET", TOKEN_SECRET)
    monkeypatch.setenv("ARKHAM_PACKETS_AUTH_USERS_FILE", str(users_file))
    year = 366 * 24 * 3600
    for lifetime in (year + 1, 10 * year, 0, -60):
        assert main(["token", "ana@example.org", "--lifetime", str(lifetime)]) == 2, lifetime
        out, err = capsys.readouterr()
        assert out == ""
        assert err == (
            f"arkham-packets: error: --lifetime {lifetime}: a token lasts 1 to {year} seconds "
            "(366 days), as ARKHAM_PACKETS_JWT_LIFETIME_SECONDS does\n"
        )
    assert main(["token", "ana@example.org", "--lifetime", str(year)]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, TOKEN_SECRET, audience=AUDIENCE, algorithms=["HS256"])
    assert year - 10 <= claims["exp"] - time.time() <= year


@contextmanager
def serve(tmp_path: Path, database_url: str, env: dict[str, str]) -> Iterator[str]:
    """`arkham-packets serve` in a process of its own; yields its base URL."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    command = [sys.executable, "-m", "arkham_shard_packets.cli", "serve", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    server = subprocess.Popen(
        command, env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/health")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert "Traceback" not in output, output


async def test_inside_the_frame_its_own_auth_resolves_the_caller(
    tmp_path: Path, database_url: str
) -> None:
    """A process where `arkham_frame.auth` imports: the host offers no users of its own, yet
    the Frame's users are the actors and tenants, bad tokens are 401 and, with the setting on,
    anonymous callers are shut out while a share link still opens."""
    if POSTGRES_URL:
        await reset_postgres(database_url)
    secret = "the Frame double's secret, not the stand-in's"
    ana = FrameUser.model_validate({"email": "ana@example.org", "tenant_id": TENANT})
    ben = FrameUser.model_validate({"email": "ben@example.org", "tenant_id": OTHER})
    frame_auth = HostAuth(secret, [ana, ben])
    env = {
        "PYTHONPATH": os.pathsep.join([str(FRAME_DOUBLE), os.environ.get("PYTHONPATH", "")]),
        "FRAME_DOUBLE_SECRET": secret,
        "FRAME_DOUBLE_USERS": str(write_users(tmp_path / "frame-users.json", [ana, ben])),
        "ARKHAM_PACKETS_REQUIRE_USER": "true",
    }
    with serve(tmp_path, database_url, env) as base:
        as_ana, as_ben = bearer(frame_auth.issue(ana)), bearer(frame_auth.issue(ben))
        async with httpx.AsyncClient(base_url=f"{base}{API}") as http:
            mine = (await http.post("/", json={"name": "Ana's"}, headers=as_ana)).json()
            theirs = (await http.post("/", json={"name": "Ben's"}, headers=as_ben)).json()
            assert (mine["created_by"], theirs["created_by"]) == (str(ana.id), str(ben.id))
            for headers, own in ((as_ana, mine), (as_ben, theirs)):
                listed = (await http.get("/", headers=headers)).json()
                assert [p["id"] for p in listed["items"]] == [own["id"]]
            assert (await http.get(f"/{theirs['id']}", headers=as_ana)).status_code == 404
            stale = bearer(HostAuth(TOKEN_SECRET, [ana]).issue(ana))  # the stand-in's secret
            assert (await http.get("/", headers=stale)).status_code == 401
            assert (await http.get("/")).status_code == 401
            link = await http.post(
                f"/{mine['id']}/share", json={"shared_with": "public"}, headers=as_ana
            )
            assert (await http.get(f"/shared/{link.json()['access_token']}")).status_code == 200


async def test_inside_the_frame_a_user_is_resolved_once_per_token(
    tmp_path: Path, database_url: str
) -> None:
    """The Frame's own resolution runs once per token while its user is kept (30 s by
    default), so a deactivation tells only then; with the cache off, on every request."""
    if POSTGRES_URL:
        await reset_postgres(database_url)
    secret = "the Frame double's secret, not the stand-in's"
    ana = FrameUser.model_validate({"email": "ana@example.org", "tenant_id": TENANT})
    users_file = write_users(tmp_path / "frame-users.json", [ana])
    resolutions = tmp_path / "resolutions"
    as_ana = bearer(HostAuth(secret, [ana]).issue(ana))
    env = {
        "PYTHONPATH": os.pathsep.join([str(FRAME_DOUBLE), os.environ.get("PYTHONPATH", "")]),
        "FRAME_DOUBLE_SECRET": secret,
        "FRAME_DOUBLE_USERS": str(users_file),
        "FRAME_DOUBLE_RESOLUTIONS": str(resolutions),
    }
    for seconds, kept in (("30", True), ("0", False)):
        write_users(users_file, [ana])
        resolutions.write_text("")
        with serve(
            tmp_path, database_url, {**env, "ARKHAM_PACKETS_USER_CACHE_SECONDS": seconds}
        ) as base:
            async with httpx.AsyncClient(base_url=f"{base}{API}") as http:
                made = await http.post("/", json={"name": "Kept?"}, headers=as_ana)
                assert made.status_code == 201, made.text
                for _ in range(3):
                    assert (
                        await http.get(f"/{made.json()['id']}", headers=as_ana)
                    ).status_code == 200
                write_users(users_file, [ana.model_copy(update={"is_active": False})])
                after = await http.get("/", headers=as_ana)
        assert after.status_code == (200 if kept else 401), seconds
        assert len(resolutions.read_text().splitlines()) == (1 if kept else 5), seconds
