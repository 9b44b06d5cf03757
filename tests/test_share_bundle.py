"""A share link's sealed bundle (`GET /shared/{token}/bundle`): what it carries, that it
verifies offline as a recipient checks it, and the link's rules around it."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import bagit
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from arkham_shard_packets.db.tables import packet_exports

from .bundle_helpers import assert_same_but_custody, export, leftover_files, packet_with_files
from .clock import Clock
from .conftest import settle
from .frame_users import Users
from .share_helpers import PASSWORD_HEADER, access_actions, in_seconds, share, share_row
from .stored import stored_keys
from .test_cli_bundles import cli
from .test_export import unpack
from .test_seals import readme_code

TENANT = "7c0f3a0e-0000-4000-8000-0000000b0d1e"
MEDIA_TYPES = {"zip": "application/zip", "tar.gz": "application/gzip", "json": "application/json"}


async def sealed_packet(client: httpx.AsyncClient) -> Any:
    packet = await packet_with_files(client)
    response = await client.post(f"/api/packets/{packet['id']}/finalize")
    assert response.status_code == 200, response.text
    return response.json()


def bundle_url(created: dict[str, Any]) -> str:
    return f"/api/packets/shared/{created['access_token']}/bundle"


async def export_rows(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.scalar(select(func.count()).select_from(packet_exports))) or 0)


async def custody_entries(client: httpx.AsyncClient, packet_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/packets/{packet_id}/custody")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["intact"], body["problems"]
    entries: list[dict[str, Any]] = body["entries"]
    return entries


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
async def test_a_link_hands_over_the_sealed_bundle_and_it_verifies_offline(
    client: httpx.AsyncClient, app: FastAPI, engine: Any, tmp_path: Path, fmt: str
) -> None:
    packet = await sealed_packet(client)
    pid, version = packet["id"], packet["version"]
    owners, owner_bytes = await export(client, pid, fmt)
    created = await share(client, pid, "ana@example.org")
    exports_before = await export_rows(engine)

    params = {} if fmt == "zip" else {"format": fmt}
    response = await client.get(bundle_url(created), params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPES[fmt]
    name = f"packet-{pid}-v{version}.{fmt}"
    assert f'filename="{name}"' in response.headers["content-disposition"]
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["cache-control"] == "no-store"

    # What a recipient does with it, offline: the command line, trusting the fingerprint the
    # sender published; bagit; the seal recipe of docs/custody.md.
    bundle = tmp_path / name
    bundle.write_bytes(response.content)
    (key,) = (await client.get("/api/packets/keys")).json()["keys"]
    checked = await cli("", tmp_path, "verify", str(bundle), "--trust", key["fingerprint"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "sealed, checksum verified" in checked.stdout
    assert "key: trusted" in checked.stdout
    assert checked.stdout.splitlines()[0] == (
        f"{bundle}: OK ({'json bundle' if fmt == 'json' else f'BagIt bag in {fmt}'}) "
        f"packet {pid} 'Harbor leak'"
    )
    check_seal = readme_code("## Checking a seal with any Ed25519 library")["check_seal"]
    if fmt == "json":
        statement = check_seal(bundle, key["fingerprint"])
    else:
        bag = unpack(response.content, fmt, tmp_path / "unpacked")
        bagit.Bag(str(bag)).validate()
        statement = check_seal(bag, key["fingerprint"])
    assert (statement["packet_id"], statement["version"]) == (pid, version)
    assert statement["checksum"] == packet["checksum"]

    # The owner's export of the same version carries the same payload; the link's custody
    # log is the owner's and what came after (the export, its download, the share).
    assert_same_but_custody(owner_bytes, response.content, fmt)

    # Logged as a use of the link and in custody, with the SHA-256 of what was handed over;
    # recorded as no export, and nothing of it left on the disk.
    await settle(client)
    assert await access_actions(engine, created["id"]) == ["bundle"]
    assert (await share_row(engine, created["id"]))["access_count"] == 1
    last = (await custody_entries(client, pid))[-1]
    assert last["event"] == "link_used"
    assert last["actor"] == f"share:{created['id']}"
    # the link's first use: it opens an hour of its uses in custody, and has none before it
    opened = datetime.fromisoformat(last["details"].pop("hour"))
    assert opened.minute == opened.second == opened.microsecond == 0
    assert timedelta(0) <= datetime.fromisoformat(last["at"]) - opened < timedelta(minutes=61)
    assert last["details"] == {
        "share_id": created["id"],
        "action": "bundle",
        "format": fmt,
        "version": version,
        "sha256": hashlib.sha256(response.content).hexdigest(),
        "size": len(response.content),
    }
    assert await export_rows(engine) == exports_before
    data_dir = Path(app.state.packets_shard.services.data_dir)
    assert leftover_files(data_dir / "tmp") == []
    assert await stored_keys(app, "exports/") == [owners["file_path"]]
    assert (await client.get(f"/api/packets/{pid}/verify")).json()["valid"] is True


async def test_every_permission_gets_the_bundle_and_the_format_is_checked(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await sealed_packet(client)
    for permissions in ("view", "comment", "edit"):
        created = await share(client, packet["id"], permissions=permissions)
        answer = await client.get(bundle_url(created))
        assert answer.status_code == 200, (permissions, answer.text)
        assert answer.headers["content-type"] == "application/zip"
    refused = await client.get(bundle_url(created), params={"format": "rar"})
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert problem["loc"] == ["query", "format"]
    assert problem["msg"] == "Input should be 'zip', 'tar.gz' or 'json'"
    assert await access_actions(engine, created["id"]) == ["bundle"]


async def test_the_bundle_keeps_the_links_password_and_lockout(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await sealed_packet(client)
    created = await share(client, packet["id"], password="correct horse")
    url = bundle_url(created)
    missing = await client.get(url)
    assert missing.status_code == 401
    assert missing.json()["detail"] == (
        "this share link needs a password: send it in the X-Share-Password header"
    )
    wrong = await client.get(url, headers={PASSWORD_HEADER: "wrong horse"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "wrong password for this share link"
    right = await client.get(url, headers={PASSWORD_HEADER: "correct horse"})
    assert right.status_code == 200
    assert right.content[:2] == b"PK"
    assert await access_actions(engine, created["id"]) == ["password_failure", "bundle"]

    for attempt in range(4):
        guessed = await client.get(url, headers={PASSWORD_HEADER: f"guess {attempt}"})
        assert guessed.status_code == 401
    locked = await client.get(url, headers={PASSWORD_HEADER: "correct horse"})
    assert locked.status_code == 429
    assert "too many wrong passwords" in locked.json()["detail"]
    assert int(locked.headers["retry-after"]) > 0
    assert await access_actions(engine, created["id"]) == (
        ["password_failure", "bundle"] + ["password_failure"] * 4
    )


async def test_an_expired_or_revoked_link_gets_no_bundle(
    client: httpx.AsyncClient, engine: Any, clock: Clock
) -> None:
    packet = await sealed_packet(client)
    brief = await share(client, packet["id"], expires_at=in_seconds(60))
    revoked = await share(client, packet["id"])
    assert (await client.get(bundle_url(revoked))).status_code == 200
    deleted = await client.delete(f"/api/packets/{packet['id']}/shares/{revoked['id']}")
    assert deleted.status_code == 204
    gone = await client.get(bundle_url(revoked))
    assert gone.status_code == 404
    assert gone.json()["detail"] == "this share link does not exist or has been revoked"
    unknown = await client.get("/api/packets/shared/no-such-token/bundle")
    assert unknown.status_code == 404

    clock.past(brief["expires_at"])
    expired = await client.get(bundle_url(brief))
    assert expired.status_code == 410
    assert expired.json()["detail"] == f"this share link expired at {brief['expires_at']}"
    assert await access_actions(engine, brief["id"]) == []
    assert await access_actions(engine, revoked["id"]) == ["bundle"]


async def test_a_draft_has_no_bundle_to_give(client: httpx.AsyncClient, engine: Any) -> None:
    draft = await packet_with_files(client)
    created = await share(client, draft["id"], permissions="edit")
    refused = await client.get(bundle_url(created), params={"format": "json"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"packet {draft['id']} is a draft; a bundle is offered only for a sealed version"
    )
    assert await access_actions(engine, created["id"]) == []  # a refusal is no use
    page = await client.get(created["share_url"])
    assert page.status_code == 200
    assert "Sealed bundle" not in page.text and 'href="bundle' not in page.text

    await client.post(f"/api/packets/{draft['id']}/finalize")
    assert (await client.get(bundle_url(created))).status_code == 200
    assert 'href="bundle"' in (await client.get(created["share_url"])).text


async def test_the_viewer_page_offers_the_bundle_and_says_how_to_check_it(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await sealed_packet(client)
    plain = await share(client, packet["id"])
    page = (await client.get(plain["share_url"])).text
    assert '<a href="bundle" download>zip</a>' in page
    assert '<a href="bundle?format=tar.gz" download>tar.gz</a>' in page
    assert '<a href="bundle?format=json" download>json</a>' in page
    assert "<code>arkham-packets verify FILE --trust KEY</code>" in page
    assert "<code>python3 -m bagit --validate</code>" in page and "docs/custody.md" in page

    # On a link with a password, the page's buttons post the page's session (a cookie, set
    # when the password was typed into its form), or a password in the form.
    protected = await share(client, packet["id"], password="correct horse")
    url = protected["share_url"]
    assert (await client.post(url, data={"password": "correct horse"})).status_code == 303
    opened = await client.get(url)
    assert opened.status_code == 200
    assert '<form class="download" method="post" action="bundle?format=tar.gz">' in opened.text
    bundle = url.removesuffix("/view") + "/bundle"
    by_session = await client.post(bundle, params={"format": "tar.gz"})
    assert by_session.status_code == 200, by_session.text
    client.cookies.clear()
    posted = await client.post(
        bundle, params={"format": "tar.gz"}, data={"password": "correct horse"}
    )
    assert posted.status_code == 200, posted.text
    assert posted.headers["content-type"] == "application/gzip"
    assert posted.headers["content-security-policy"].startswith("default-src 'none'")
    wrong = await client.post(bundle, data={"password": "wrong horse"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("text/html")
    assert "That password is not right; try again" in wrong.text
    extra = await client.post(bundle, data={"password": "correct horse", "body": "hi"})
    assert extra.status_code == 422
    await settle(client)
    assert await access_actions(engine, protected["id"]) == [
        "view",
        "bundle",
        "bundle",
        "password_failure",
    ]


async def test_the_bundle_is_the_sealed_versions_after_later_versions(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    packet = await sealed_packet(client)
    pid, sealed_version = packet["id"], packet["version"]
    later = await client.post(f"/api/packets/{pid}/versions", json={"changes_summary": "note"})
    assert later.status_code == 201, later.text
    assert (await client.get(f"/api/packets/{pid}")).json()["version"] > sealed_version
    created = await share(client, pid)
    answer = await client.get(bundle_url(created), params={"format": "json"})
    assert answer.status_code == 200
    name = f"packet-{pid}-v{sealed_version}.json"
    assert f'filename="{name}"' in answer.headers["content-disposition"]
    document = answer.json()
    assert document["packet"]["version"] == sealed_version
    assert document["seal"]["statement"]["version"] == sealed_version
    bundle = tmp_path / name
    bundle.write_bytes(answer.content)
    checked = await cli("", tmp_path, "verify", str(bundle))
    assert checked.returncode == 3, checked.stdout + checked.stderr  # no key trusted
    assert "UNTRUSTED (it checks, but no key is trusted" in checked.stdout


async def test_a_tenants_packet_is_bundled_in_its_tenant(
    client: httpx.AsyncClient, users: Users
) -> None:
    """The link is the credential: no user calls, and the share decides the tenant."""
    analyst = users.headers(TENANT)
    made = await client.post("/api/packets/", json={"name": "Tenant file"}, headers=analyst)
    pid = made.json()["id"]
    added = await client.post(
        f"/api/packets/{pid}/contents",
        json={"content_type": "claim", "content_id": "c-1", "data": {"n": 1}},
        headers=analyst,
    )
    assert added.status_code == 201
    assert (await client.post(f"/api/packets/{pid}/finalize", headers=analyst)).status_code == 200
    shared = await client.post(
        f"/api/packets/{pid}/share", json={"shared_with": "public"}, headers=analyst
    )
    created = shared.json()
    answer = await client.get(bundle_url(created), params={"format": "json"})
    assert answer.status_code == 200, answer.text
    statement = answer.json()["seal"]["statement"]
    assert statement["finalized_by"] == str(users.user(TENANT).id)
    log = (await client.get(f"/api/packets/{pid}/custody", headers=analyst)).json()
    assert log["entries"][-1]["details"]["action"] == "bundle"


class RevokedWhileMade:
    """The real bundle maker, with the link's owner revoking it just as its bundle is made."""

    def __init__(self, real: Any, revoke: Any) -> None:
        self.real = real
        self.revoke = revoke
        self.handed: list[Any] = []

    async def made(self, *args: Any) -> Any:
        made = await self.real.made(*args)
        self.handed.append(made)
        await self.revoke()
        return made


async def test_a_link_revoked_while_its_bundle_is_made_gets_nothing(
    client: httpx.AsyncClient, app: FastAPI, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    packet = await sealed_packet(client)
    created = await share(client, packet["id"])
    before = len(await custody_entries(client, packet["id"]))

    async def revoke() -> None:
        url = f"/api/packets/{packet['id']}/shares/{created['id']}"
        assert (await client.delete(url)).status_code == 204

    access = app.state.packets_shard.services.share_access
    racing = RevokedWhileMade(access.bundles, revoke)
    monkeypatch.setattr(access, "bundles", racing)
    answer = await client.get(bundle_url(created))
    assert answer.status_code == 404
    assert racing.handed[0].source.reader.handle.closed
    assert await access_actions(engine, created["id"]) == []
    entries = await custody_entries(client, packet["id"])
    assert [entry["event"] for entry in entries[before:]] == ["link_revoked"]
