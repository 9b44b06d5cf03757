"""Password guessing on share links: a daily cap that locks a link for good, and passwords in
any language sent in the X-Share-Password header (issue 13, finding 6)."""

from __future__ import annotations

import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from sqlalchemy import insert

from arkham_shard_packets.db.tables import share_access_log

from .conftest import settle
from .share_helpers import PASSWORD_HEADER, access_actions, finalized_packet, share, share_row

DAILY_CAP = 20  # ARKHAM_PACKETS_SHARE_DAILY_PASSWORD_FAILURES, default


async def earlier_failures(engine: Any, share_id: str, hours_ago: list[float]) -> None:
    """Wrong passwords logged in the past, as a slow guesser (4 a minute) would leave them."""
    row = await share_row(engine, share_id)
    now = datetime.now(timezone.utc)
    async with engine.begin() as conn:
        for hours in hours_ago:
            await conn.execute(
                insert(share_access_log).values(
                    id=str(uuid.uuid4()),
                    share_id=share_id,
                    packet_id=row["packet_id"],
                    tenant_id=row["tenant_id"],
                    accessed_at=(now - timedelta(hours=hours)).isoformat(timespec="microseconds"),
                    action="password_failure",
                    client_address="198.51.100.7",
                )
            )


async def test_a_day_of_slow_guessing_locks_the_link_for_good(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], password="correct horse")
    url = f"/api/packets/shared/{created['access_token']}"
    right = {PASSWORD_HEADER: "correct horse"}
    # 16 guesses spread over the last 23 hours: never 5 within a minute
    await earlier_failures(engine, created["id"], [23 - 1.4 * n for n in range(16)])
    assert (await client.get(url, headers=right)).status_code == 200
    for guess in range(DAILY_CAP - 16):
        wrong = await client.get(url, headers={PASSWORD_HEADER: f"guess {guess}"})
        assert wrong.status_code == 401, wrong.text
    for attempt in ({}, right, {PASSWORD_HEADER: "another guess"}):
        locked = await client.get(url, headers=attempt)
        assert locked.status_code == 429, locked.text
        assert "locked" in locked.json()["detail"]
        assert "retry-after" not in locked.headers  # waiting does not help
        assert (await client.get(f"{url}/view", headers=attempt)).status_code == 429
    commented = await client.post(f"{url}/comments", json={"author": "a", "body": "b"})
    assert commented.status_code == 429
    assert (await access_actions(engine, created["id"])).count("password_failure") == DAILY_CAP
    # Its owner replaces it: a new link works at once.
    replacement = await share(client, packet["id"], password="correct horse")
    again = await client.get(f"/api/packets/shared/{replacement['access_token']}", headers=right)
    assert again.status_code == 200


async def test_guesses_spread_over_more_than_a_day_do_not_lock(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], password="correct horse")
    url = f"/api/packets/shared/{created['access_token']}"
    await earlier_failures(engine, created["id"], [30 - 1.5 * n for n in range(DAILY_CAP - 1)])
    # the 20th failure comes more than a day after the first of these 20
    wrong = await client.get(url, headers={PASSWORD_HEADER: "guess"})
    assert wrong.status_code == 401
    right = await client.get(url, headers={PASSWORD_HEADER: "correct horse"})
    assert right.status_code == 200


def utf8_header(text: str) -> dict[bytes, bytes]:
    return {PASSWORD_HEADER.encode(): text.encode("utf-8")}


async def test_a_password_in_any_language_opens_the_link(
    client: httpx.AsyncClient, engine: Any
) -> None:
    password = "pässwörd Ωμέγα 密码 🔑"
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], password=password)
    url = f"/api/packets/shared/{created['access_token']}"
    raw = await client.get(url, headers=utf8_header(password))
    assert raw.status_code == 200, raw.text
    encoded = "UTF-8''" + urllib.parse.quote(password, safe="")
    assert (await client.get(url, headers={PASSWORD_HEADER: encoded})).status_code == 200
    assert (await client.get(url, headers={PASSWORD_HEADER: encoded.lower()})).status_code == 200
    assert (await client.get(f"{url}/view", headers=utf8_header(password))).status_code == 200
    assert (await client.get(url, headers=utf8_header("passwörd Ωμέγα"))).status_code == 401
    await settle(client)  # reads are recorded after the answer
    assert await access_actions(engine, created["id"]) == [
        "read",
        "read",
        "read",
        "view",
        "password_failure",
    ]
    # the form of the viewer page sends it as UTF-8 too, and opens the page's session
    signed_in = await client.post(created["share_url"], data={"password": password})
    assert signed_in.status_code == 303, signed_in.text
    assert (await client.get(created["share_url"])).status_code == 200


async def test_a_latin1_password_still_opens_its_link(client: httpx.AsyncClient) -> None:
    packet = await finalized_packet(client)
    created = await share(client, packet["id"], password="café au lait")
    url = f"/api/packets/shared/{created['access_token']}"
    latin1 = {PASSWORD_HEADER.encode(): "café au lait".encode("latin-1")}
    assert (await client.get(url, headers=latin1)).status_code == 200
