"""What a share link opens: read, comment, edit; expiry, revocation, password, access log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arkham_shard_packets.host.app import HostConfig, create_app
from arkham_shard_packets.sharing import passwords as link_passwords
from arkham_shard_packets.sharing import tokens

from .clock import Clock
from .conftest import (
    POSTGRES_URL,
    add_item,
    make_packet,
    packet_events,
    reset_postgres,
    settle,
)
from .frame_users import Users
from .share_helpers import (
    PASSWORD_HEADER,
    access_actions,
    finalized_packet,
    in_seconds,
    share,
    share_row,
    status_of,
)


async def test_a_link_opens_the_packet_read_only(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], "ana@example.org", expires_at=in_seconds(600))
    response = await client.get(f"/api/packets/shared/{created['access_token']}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["packet"]["id"] == packet["id"]
    assert body["packet"]["status"] == "shared"
    assert body["packet"]["checksum"] == packet["checksum"]
    assert [c["content_id"] for c in body["contents"]] == ["ent-1", "doc-2"]
    assert body["comments"] == []
    assert body["share"]["permissions"] == "view"
    assert body["share"]["shared_with"] == "ana@example.org"
    assert body["share"]["expires_at"] == created["expires_at"]
    assert created["access_token"] not in response.text

    for verb, path, payload in (
        ("POST", "comments", {"author": "a", "body": "b"}),
        ("POST", "contents", {"content_type": "document", "content_id": "x"}),
        ("DELETE", "contents/any", None),
    ):
        refused = await client.request(
            verb, f"/api/packets/shared/{created['access_token']}/{path}", json=payload
        )
        assert refused.status_code == 403, path
        assert "allows view only" in refused.json()["detail"]


async def test_unknown_tokens_are_404(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"])
    token = created["access_token"]
    for unknown in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x", "a" * 500):
        response = await client.get(f"/api/packets/shared/{unknown}")
        assert response.status_code == 404
        assert response.json()["detail"] == "this share link does not exist or has been revoked"
        view = await client.get(f"/api/packets/shared/{unknown}/view")
        assert view.status_code == 404
        assert "text/html" in view.headers["content-type"]


async def test_a_link_works_until_it_expires_then_says_when(
    client: httpx.AsyncClient, engine: Any, clock: Clock
) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], permissions="comment", expires_at=in_seconds(60))
    token = created["access_token"]
    assert (await client.get(f"/api/packets/shared/{token}")).status_code == 200
    listed = (await client.get(f"/api/packets/{packet['id']}/shares")).json()
    assert listed[0]["state"] == "active"
    stats = (await client.get("/api/packets/stats/overview")).json()
    assert (stats["active_shares"], stats["expired_shares"]) == (1, 0)

    expires = datetime.fromisoformat(created["expires_at"])
    clock.past(created["expires_at"])

    for verb, path, body in (
        ("GET", "", None),
        ("GET", "/view", None),
        ("POST", "/comments", {"author": "late", "body": "too late"}),
    ):
        response = await client.request(verb, f"/api/packets/shared/{token}{path}", json=body)
        assert response.status_code == 410, path
        if path == "/view":
            assert "This link has expired" in response.text
            assert expires.strftime("%Y-%m-%d %H:%M:%S UTC") in response.text
        else:
            assert response.json()["detail"] == (
                f"this share link expired at {created['expires_at']}"
            )
    assert (await client.get(f"/api/packets/{packet['id']}/comments")).json()["total"] == 0
    await settle(client)  # reads are recorded after the answer
    assert await access_actions(engine, created["id"]) == ["read"]

    listed = (await client.get(f"/api/packets/{packet['id']}/shares")).json()
    assert listed[0]["state"] == "expired"
    stats = (await client.get("/api/packets/stats/overview")).json()
    assert (stats["total_shares"], stats["active_shares"], stats["expired_shares"]) == (1, 0, 1)

    # With only expired shares left, revoking one brings the packet back to finalized.
    other = await share(client, packet["id"], expires_at=in_seconds(3600))
    assert (
        await client.delete(f"/api/packets/{packet['id']}/shares/{other['id']}")
    ).status_code == 204
    assert await status_of(client, packet["id"]) == "finalized"


async def test_comment_permission(client: httpx.AsyncClient, engine: Any) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], "reviewer@example.org", permissions="comment")
    token = created["access_token"]
    response = await client.post(
        f"/api/packets/shared/{token}/comments",
        json={"author": "  Reviewer Ray ", "body": "Page 4 contradicts the manifest."},
    )
    assert response.status_code == 201, response.text
    comment = response.json()
    assert comment["author"] == "Reviewer Ray"
    assert comment["share_id"] == created["id"]
    assert comment["packet_id"] == packet["id"]

    listed = (await client.get(f"/api/packets/{packet['id']}/comments")).json()
    assert listed["total"] == 1
    assert listed["items"][0] == comment
    opened = (await client.get(f"/api/packets/shared/{token}")).json()
    assert opened["comments"] == [comment]
    page = await client.get(f"/api/packets/shared/{token}/view")
    assert "Page 4 contradicts the manifest." in page.text

    for bad in ({"author": "", "body": "x"}, {"author": "a", "body": "  "}, {"body": "x"}):
        refused = await client.post(f"/api/packets/shared/{token}/comments", json=bad)
        assert refused.status_code == 422
    edit = await client.post(
        f"/api/packets/shared/{token}/contents",
        json={"content_type": "document", "content_id": "x"},
    )
    assert edit.status_code == 403
    await settle(client)  # reads are recorded after the answer
    assert await access_actions(engine, created["id"]) == ["comment", "read", "view"]

    await client.post(f"/api/packets/{packet['id']}/archive")
    closed = await client.post(
        f"/api/packets/shared/{token}/comments", json={"author": "a", "body": "b"}
    )
    assert closed.status_code == 409
    assert (await client.get(f"/api/packets/shared/{token}")).json()["packet"]["status"] == (
        "archived"
    )


async def test_edit_permission_changes_a_draft_only(client: httpx.AsyncClient, engine: Any) -> None:
    draft = await make_packet(client, "Working file")
    await add_item(client, draft["id"], "doc-1")
    created = await share(client, draft["id"], "colleague@example.org", permissions="edit")
    token = created["access_token"]
    added = await client.post(
        f"/api/packets/shared/{token}/contents",
        json={"content_type": "claim", "content_id": "claim-7", "content_title": "Claim"},
    )
    assert added.status_code == 201, added.text
    item = added.json()
    assert item["added_by"] == f"share:{created['id']}"
    contents = (await client.get(f"/api/packets/{draft['id']}/contents")).json()
    assert {c["content_id"] for c in contents} == {"doc-1", "claim-7"}
    duplicate = await client.post(
        f"/api/packets/shared/{token}/contents",
        json={"content_type": "claim", "content_id": "claim-7"},
    )
    assert duplicate.status_code == 409
    removed = await client.delete(f"/api/packets/shared/{token}/contents/{item['id']}")
    assert removed.status_code == 204
    missing = await client.delete(f"/api/packets/shared/{token}/contents/{item['id']}")
    assert missing.status_code == 404
    assert (await client.get(f"/api/packets/{draft['id']}")).json()["contents_count"] == 1
    added_events = await packet_events(client, "packets.content.added")
    assert added_events[0]["payload"]["content_id"] == "claim-7"
    # A share link can comment too.
    comment = await client.post(
        f"/api/packets/shared/{token}/comments", json={"author": "c", "body": "ok"}
    )
    assert comment.status_code == 201

    await client.post(f"/api/packets/{draft['id']}/finalize")
    late = await client.post(
        f"/api/packets/shared/{token}/contents",
        json={"content_type": "document", "content_id": "late"},
    )
    assert late.status_code == 409
    assert "only a draft" in late.json()["detail"]
    assert await access_actions(engine, created["id"]) == ["edit", "edit", "comment"]


async def test_password_protected_link(client: httpx.AsyncClient, engine: Any) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], password="correct horse")
    url = f"/api/packets/shared/{created['access_token']}"
    missing = await client.get(url)
    assert missing.status_code == 401
    assert PASSWORD_HEADER in missing.json()["detail"]
    wrong = await client.get(url, headers={PASSWORD_HEADER: "wrong horse"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "wrong password for this share link"
    right = await client.get(url, headers={PASSWORD_HEADER: "correct horse"})
    assert right.status_code == 200
    await settle(client)  # reads are recorded after the answer
    assert await access_actions(engine, created["id"]) == ["password_failure", "read"]
    row = await share_row(engine, created["id"])
    assert row["access_count"] == 1


async def test_missing_passwords_do_not_lock_a_link(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], password="correct horse")
    url = f"/api/packets/shared/{created['access_token']}"
    for _ in range(7):
        assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers={PASSWORD_HEADER: "correct horse"})).status_code == 200


@pytest.fixture
async def second_process(
    app: FastAPI, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """Another host over the same database, as a second worker process would be, with a
    thirty-second lockout."""
    monkeypatch.setenv("ARKHAM_PACKETS_SHARE_LOCKOUT_SECONDS", "30")
    other = create_app(HostConfig(data_dir=tmp_path / "second", database_url=database_url))
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as http:
            yield http


async def test_five_wrong_passwords_in_a_minute_lock_the_link_everywhere(
    client: httpx.AsyncClient, second_process: httpx.AsyncClient, engine: Any, clock: Clock
) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], password="correct horse")
    url = f"/api/packets/shared/{created['access_token']}"
    right = {PASSWORD_HEADER: "correct horse"}
    for attempt in range(5):
        response = await client.get(url, headers={PASSWORD_HEADER: f"guess {attempt}"})
        assert response.status_code == 401
    for http in (client, second_process):
        locked = await http.get(url, headers=right)
        assert locked.status_code == 429
        assert "too many wrong passwords" in locked.json()["detail"]
        assert int(locked.headers["retry-after"]) > 0
        assert (await http.get(f"{url}/view", headers=right)).status_code == 429
    assert int((await client.get(url, headers=right)).headers["retry-after"]) > 250
    assert await access_actions(engine, created["id"]) == ["password_failure"] * 5

    clock.advance(31)
    assert (await second_process.get(url, headers=right)).status_code == 200
    assert (await client.get(url, headers=right)).status_code == 429  # 300 s lockout here
    # Other links are not affected.
    another = await share(client, packet["id"], password="other secret")
    other_url = f"/api/packets/shared/{another['access_token']}"
    opened = await client.get(other_url, headers={PASSWORD_HEADER: "other secret"})
    assert opened.status_code == 200


async def test_concurrent_guesses_get_no_more_than_five_tries(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], password="correct horse")
    url = f"/api/packets/shared/{created['access_token']}"
    answers = await asyncio.gather(
        *(client.get(url, headers={PASSWORD_HEADER: f"guess {n}"}) for n in range(10))
    )
    assert sorted(r.status_code for r in answers) == [401] * 5 + [429] * 5
    assert await access_actions(engine, created["id"]) == ["password_failure"] * 5


@pytest.mark.parametrize("route", ["", "/view", "/comments"])
async def test_a_burst_of_guesses_gets_no_more_checks_than_the_lockout_allows(
    client: httpx.AsyncClient, engine: Any, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """59 wrong passwords and the right one, sent together: only 5 wrong ones are checked
    (the rest are refused before their password is hashed), and the right one opens the link
    only if it was checked among them."""
    checked: list[str] = []
    real_check = tokens.verify_password

    async def counted(password: str, stored: str) -> bool:
        checked.append(password)
        return await real_check(password, stored)

    monkeypatch.setattr(link_passwords, "verify_password", counted)
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], permissions="comment", password="correct horse")
    url = f"/api/packets/shared/{created['access_token']}{route}"

    async def guess(password: str) -> httpx.Response:
        headers = {PASSWORD_HEADER: password}
        if route == "/comments":
            return await client.post(url, headers=headers, json={"author": "a", "body": "b"})
        return await client.get(url, headers=headers)

    passwords = [f"guess {n}" for n in range(59)]
    passwords.insert(30, "correct horse")
    answers = await asyncio.gather(*(guess(password) for password in passwords))
    statuses = [answer.status_code for answer in answers]
    wrong_checked = [password for password in checked if password != "correct horse"]
    assert len(wrong_checked) == 5
    assert statuses.count(401) == 5
    right = statuses[30]
    assert right == (201 if route == "/comments" else 200) if "correct horse" in checked else 429
    assert statuses.count(429) == 60 - 5 - ("correct horse" in checked)
    await settle(client)
    assert (await access_actions(engine, created["id"])).count("password_failure") == 5


async def test_a_right_password_leaves_no_failure_behind(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], permissions="comment", password="correct horse")
    url = f"/api/packets/shared/{created['access_token']}"
    right = {PASSWORD_HEADER: "correct horse"}
    for _ in range(8):  # more than the lockout's 5: right passwords are not failures
        assert (await client.get(url, headers=right)).status_code == 200
    comment = await client.post(f"{url}/comments", headers=right, json={"author": "a", "body": "b"})
    assert comment.status_code == 201, comment.text
    await settle(client)
    assert await access_actions(engine, created["id"]) == ["read"] * 8 + ["comment"]


async def test_every_access_is_logged_and_counted(client: httpx.AsyncClient, engine: Any) -> None:
    packet = await make_packet(client)
    created = await share(client, packet["id"], permissions="edit")
    token = created["access_token"]
    await client.get(f"/api/packets/shared/{token}")
    await client.get(f"/api/packets/shared/{token}/view")
    await client.post(f"/api/packets/shared/{token}/comments", json={"author": "a", "body": "b"})
    await client.post(
        f"/api/packets/shared/{token}/contents",
        json={"content_type": "document", "content_id": "d"},
    )
    log = await client.get(f"/api/packets/{packet['id']}/shares/{created['id']}/access")
    assert log.status_code == 200
    entries = log.json()
    assert entries["total"] == 4
    assert [e["action"] for e in entries["items"]] == ["read", "view", "comment", "edit"]
    for entry in entries["items"]:
        assert entry["share_id"] == created["id"]
        assert entry["client_address"] == "127.0.0.1"
        assert datetime.fromisoformat(entry["accessed_at"]).utcoffset() is not None
    (listed,) = (await client.get(f"/api/packets/{packet['id']}/shares")).json()
    assert listed["access_count"] == 4
    assert listed["last_accessed_at"] == entries["items"][-1]["accessed_at"]

    # The log of a revoked share can still be read.
    await client.delete(f"/api/packets/{packet['id']}/shares/{created['id']}")
    after = await client.get(f"/api/packets/{packet['id']}/shares/{created['id']}/access")
    assert after.json()["total"] == 4
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (
        await client.get(f"/api/packets/{packet['id']}/shares/{unknown}/access")
    ).status_code == 404


async def test_no_token_in_our_log_lines(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every statement and its values
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], permissions="comment", password="correct horse")
    token = created["access_token"]
    await client.get(f"/api/packets/shared/{token}")
    await client.get(f"/api/packets/shared/{token}", headers={PASSWORD_HEADER: "nope nope"})
    await client.get(
        f"/api/packets/shared/{token}/view", headers={PASSWORD_HEADER: "correct horse"}
    )
    await client.delete(f"/api/packets/{packet['id']}/shares/{created['id']}")
    await client.get(f"/api/packets/shared/{token}")
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any("arkham_packet_shares" in line for line in ours)
    assert not [line for line in ours if token in line]


async def test_revoked_link_stops_even_a_password_holder(
    client: httpx.AsyncClient, users: Users
) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], permissions="edit", password="correct horse")
    await client.delete(f"/api/packets/{packet['id']}/shares/{created['id']}")
    for verb, path in (("GET", ""), ("GET", "/view"), ("POST", "/comments")):
        response = await client.request(
            verb,
            f"/api/packets/shared/{created['access_token']}{path}",
            headers={
                PASSWORD_HEADER: "correct horse",
                **users.headers("7c0f3a0e-0000-4000-8000-00000000000a"),
            },
            json={"author": "a", "body": "b"},
        )
        assert response.status_code == 404


@pytest.fixture
async def guarded(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The standalone host with its API token set."""
    if POSTGRES_URL:
        await reset_postgres(database_url)
    app = create_app(
        HostConfig(data_dir=tmp_path / "g", database_url=database_url, api_token="s3cret")
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as http:
            yield http


async def test_a_share_link_needs_no_api_login(guarded: httpx.AsyncClient) -> None:
    login = {"Authorization": "Bearer s3cret"}
    packet = (await guarded.post("/api/packets/", json={"name": "n"}, headers=login)).json()
    created = (
        await guarded.post(
            f"/api/packets/{packet['id']}/share",
            json={"shared_with": "public", "permissions": "edit"},
            headers=login,
        )
    ).json()
    token = created["access_token"]
    assert (await guarded.get(f"/api/packets/shared/{token}")).status_code == 200
    assert (await guarded.get(f"/api/packets/shared/{token}/view")).status_code == 200
    added = await guarded.post(
        f"/api/packets/shared/{token}/contents",
        json={"content_type": "document", "content_id": "d"},
    )
    assert added.status_code == 201
    # Only the share link routes: everything else, even under /shared/, still needs the login.
    for verb, path in (
        ("GET", "/api/packets/"),
        ("GET", f"/api/packets/{packet['id']}/shares"),
        ("POST", "/api/packets/shared/share"),
        ("DELETE", f"/api/packets/shared/shares/{created['id']}"),
        ("GET", f"/api/packets/shared/{token}/nothing"),
    ):
        response = await guarded.request(verb, path, json={"shared_with": "x@example.org"})
        assert response.status_code == 401, path
