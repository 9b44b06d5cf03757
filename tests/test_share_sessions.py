"""The viewer page remembers a link's password for a while (issue 28, part 3): a session cookie
scoped to that link, HttpOnly, SameSite=Strict, Secure over https, which stands in for the
password only, never for expiry, revocation, the lockout or the pace, and stops working when
the link's password is replaced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from arkham_shard_packets.db.tables import packet_shares
from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.sharing.sessions import LinkSessions
from arkham_shard_packets.sharing.tokens import hash_password

from .conftest import reset_postgres
from .live_host import LiveHost
from .share_helpers import PASSWORD_HEADER, access_actions, finalized_packet, share

PASSWORD = "correct horse"
COOKIE = "packets_link_session"


def set_cookie(response: httpx.Response) -> Any:
    """The answer's session cookie as Set-Cookie gives it: its value and attributes."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar[COOKIE]


def sending(session: str) -> dict[str, str]:
    """A request's Cookie header sending `session` (the client's own jar left empty)."""
    return {"cookie": f"{COOKIE}={session}"}


async def signed_in(client: httpx.AsyncClient, share_url: str) -> httpx.Response:
    answer = await client.post(share_url, data={"password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return answer


async def protected(client: httpx.AsyncClient, **body: Any) -> Any:
    packet = await finalized_packet(client, "Sealed file")
    return await share(client, packet["id"], permissions="comment", password=PASSWORD, **body)


async def test_the_password_typed_in_opens_a_session_for_that_link_only(
    client: httpx.AsyncClient, engine: Any
) -> None:
    created = await protected(client)
    url = created["share_url"]
    answer = await signed_in(client, url)
    cookie = set_cookie(answer)
    assert cookie["path"] == url.removesuffix("/view")  # this link's routes only
    assert cookie["httponly"] is True and cookie["samesite"] == "strict"
    assert cookie["secure"] == ""  # reached over http
    assert cookie["max-age"] == "1800"
    assert PASSWORD not in cookie.value and PASSWORD.replace(" ", "+") not in answer.text

    page = await client.get(url)
    assert page.status_code == 200 and "Sealed file" in page.text
    file_button = await client.post(url.removesuffix("/view") + "/bundle")
    assert file_button.status_code == 200  # the page's buttons post with the session
    # The JSON routes take a password only: a script sends it in the header.
    assert (await client.get(url.removesuffix("/view"))).status_code == 401
    # Another link, even with the same password, is not opened by this link's session.
    other = await protected(client)
    client.cookies.clear()
    assert (await client.get(url, headers=sending(cookie.value))).status_code == 200
    assert (await client.get(other["share_url"], headers=sending(cookie.value))).status_code == 401
    forged = cookie.value[:-1] + ("0" if cookie.value[-1] != "0" else "1")
    assert (await client.get(url, headers=sending(forged))).status_code == 401
    assert (await client.get(url, headers=sending("x" * 5000))).status_code == 401
    assert await access_actions(engine, created["id"]) == ["view", "bundle", "view"]


async def test_a_link_without_a_password_sets_no_cookie(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], permissions="comment")
    answer = await client.post(created["share_url"], data={"password": "anything at all"})
    assert answer.status_code == 303 and "set-cookie" not in answer.headers


async def test_a_wrong_password_opens_no_session_and_is_counted(
    client: httpx.AsyncClient, engine: Any
) -> None:
    created = await protected(client)
    wrong = await client.post(created["share_url"], data={"password": "wrong horse"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    assert await access_actions(engine, created["id"]) == ["password_failure"]


async def test_a_session_ends_when_the_password_is_replaced(
    client: httpx.AsyncClient, engine: Any
) -> None:
    created = await protected(client)
    await signed_in(client, created["share_url"])
    assert (await client.get(created["share_url"])).status_code == 200
    async with engine.begin() as conn:
        await conn.execute(
            update(packet_shares)
            .where(packet_shares.c.id == created["id"])
            .values(password_hash=await hash_password(PASSWORD))  # the same words, a new hash
        )
    refused = await client.get(created["share_url"])
    assert refused.status_code == 401 and 'type="password"' in refused.text
    assert set_cookie(refused)["max-age"] == "0"  # forgotten
    assert COOKIE not in client.cookies
    await signed_in(client, created["share_url"])
    assert (await client.get(created["share_url"])).status_code == 200


async def test_a_session_is_no_way_around_expiry_or_revocation(
    client: httpx.AsyncClient, engine: Any
) -> None:
    expiring, revoked = await protected(client), await protected(client)
    kept = {}
    for created in (expiring, revoked):
        kept[created["id"]] = set_cookie(await signed_in(client, created["share_url"])).value
    async with engine.begin() as conn:
        past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
        await conn.execute(
            update(packet_shares)
            .where(packet_shares.c.id == expiring["id"])
            .values(expires_at=past)
        )
    gone = await client.delete(f"/api/packets/{revoked['packet_id']}/shares/{revoked['id']}")
    assert gone.status_code == 204
    for created, status in ((expiring, 410), (revoked, 404)):
        refused = await client.get(created["share_url"])
        assert refused.status_code == status
        assert set_cookie(refused)["max-age"] == "0"
    assert len(client.cookies) == 0
    for created, status in ((expiring, 410), (revoked, 404)):
        bundle = created["share_url"].removesuffix("/view") + "/bundle"
        sent = sending(kept[created["id"]])
        assert (await client.post(bundle, headers=sent)).status_code == status


async def test_a_session_is_no_way_around_the_lockout(
    client: httpx.AsyncClient, engine: Any
) -> None:
    created = await protected(client)
    await signed_in(client, created["share_url"])
    api = created["share_url"].removesuffix("/view")
    for _ in range(5):  # wrong guesses still count, whoever holds a session
        assert (await client.get(api, headers={PASSWORD_HEADER: "wrong"})).status_code == 401
    locked = await client.get(created["share_url"])
    assert locked.status_code == 429 and "retry-after" in locked.headers
    posted = await client.post(created["share_url"], data={"author": "Ann", "body": "Seen."})
    assert posted.status_code == 429
    assert (await access_actions(engine, created["id"])).count("password_failure") == 5


async def test_a_comment_through_the_session_redirects_to_the_page(
    client: httpx.AsyncClient,
) -> None:
    created = await protected(client)
    await signed_in(client, created["share_url"])
    posted = await client.post(created["share_url"], data={"author": "Ann", "body": "Seen."})
    assert (posted.status_code, posted.headers["location"]) == (303, "view#comments")
    again = await client.get(created["share_url"])
    assert again.text.count("Seen.") == 1
    total = (await client.get(f"/api/packets/{created['packet_id']}/comments")).json()["total"]
    assert total == 1


@pytest.fixture
async def https_app(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    """The host behind https (its public base URL), remembering passwords for two minutes."""
    monkeypatch.setenv("ARKHAM_PACKETS_SHARE_SESSION_SECONDS", "120")
    if database_url.startswith("postgresql"):
        await reset_postgres(database_url)
    config = HostConfig(
        tmp_path / "behind", database_url, public_base_url="https://evidence.example.org"
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        yield app


async def test_over_https_the_cookie_is_secure_and_lasts_as_configured(
    https_app: FastAPI,
) -> None:
    transport = httpx.ASGITransport(app=https_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        created = await protected(http)
        cookie = set_cookie(await signed_in(http, created["share_url"]))
    assert cookie["secure"] is True and cookie["max-age"] == "120"
    assert cookie["path"] == "/api/packets/shared/" + created["access_token"]


def test_behind_a_proxy_the_cookie_is_secure(live_host: LiveHost) -> None:
    """The proxy says https in X-Forwarded-Proto (uvicorn trusts it from 127.0.0.1)."""
    api = f"{live_host.base}/api/packets"
    packet = httpx.post(f"{api}/", json={"name": "Harbor leak"}).json()
    created = httpx.post(
        f"{api}/{packet['id']}/share", json={"shared_with": "public", "password": PASSWORD}
    ).json()
    url = live_host.base + created["share_url"]
    plain = httpx.post(url, data={"password": PASSWORD})
    proxied = httpx.post(url, data={"password": PASSWORD}, headers={"X-Forwarded-Proto": "https"})
    assert set_cookie(plain)["secure"] == ""
    assert set_cookie(proxied)["secure"] is True


def test_a_session_admits_its_link_and_password_until_it_ends() -> None:
    sessions = LinkSessions(timedelta(minutes=30))
    now = datetime(2026, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    session = sessions.issue("share-1", "scrypt$hash-1", now)
    assert sessions.admits(session, "share-1", "scrypt$hash-1", now + timedelta(minutes=29))
    assert not sessions.admits(session, "share-1", "scrypt$hash-1", now + timedelta(minutes=30))
    assert not sessions.admits(session, "share-2", "scrypt$hash-1", now)
    assert not sessions.admits(session, "share-1", "scrypt$hash-2", now)
    ends, mac = session.split(".")
    assert not sessions.admits(f"{int(ends) + 60}.{mac}", "share-1", "scrypt$hash-1", now)
    # a session issued for longer than the lifetime now allows (the setting was shortened)
    longer = LinkSessions(timedelta(hours=2)).issue("share-1", "scrypt$hash-1", now)
    assert not sessions.admits(longer, "share-1", "scrypt$hash-1", now)
    for junk in (None, "", "1.2", f"{ends}.{mac.upper()}", f"-{ends}.{mac}", session + " "):
        assert not sessions.admits(junk, "share-1", "scrypt$hash-1", now)
