"""Share links limited to items (`item_ids`): the link shows only those items of the sealed
version, as JSON and on its page, hands over only their files, and its bundle is their
disclosure, proven with the bundle and the sender's fingerprint alone. And verify checks the
item salts kept with a seal against the `items_root` it signed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from arkham_shard_packets.db.tables import packet_seals

from .share_helpers import PASSWORD_HEADER, access_actions, share, share_row
from .test_disclosures import proves_doc_1_and_ent_9, sealed_with_files

API = "/api/packets"


def link(created: dict[str, Any], tail: str = "") -> str:
    return f"{API}/shared/{created['access_token']}{tail}"


async def test_a_limited_link_shows_only_its_items_as_json_and_on_its_page(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet_id, ids = await sealed_with_files(client)
    chosen = [ids["ent-9"], ids["doc-1"]]
    created = await share(client, packet_id, item_ids=chosen, permissions="comment")
    assert created["item_ids"] == [ids["doc-1"], ids["ent-9"]]  # in the seal's order
    assert created["items_version"] == 2
    row = await share_row(engine, created["id"])
    assert json.loads(row["item_ids"]) == [ids["doc-1"], ids["ent-9"]]
    listed = (await client.get(f"{API}/{packet_id}/shares")).json()
    assert listed[0]["item_ids"] == created["item_ids"]

    answer = (await client.get(link(created))).json()
    assert [item["content_id"] for item in answer["contents"]] == ["doc-1", "ent-9"]
    assert answer["share"]["item_ids"] == created["item_ids"]
    assert answer["share"]["items_version"] == 2
    page = await client.get(link(created, "/view"))
    assert page.status_code == 200
    assert "Scanned letter" in page.text and "Harbour master" in page.text
    assert "Ledger" not in page.text and "ledger (2024).csv" not in page.text
    assert "packet's other items are withheld" in page.text
    assert "The disclosure of these items" in page.text

    whole = await share(client, packet_id)
    assert whole["item_ids"] is None and whole["items_version"] is None
    everything = (await client.get(link(whole))).json()
    assert len(everything["contents"]) == 3 and everything["share"]["item_ids"] is None
    assert "Ledger" in (await client.get(link(whole, "/view"))).text
    custody = (await client.get(f"{API}/{packet_id}/custody")).json()["entries"]
    shared = [entry["details"] for entry in custody if entry["event"] == "shared"]
    assert shared[0]["items"] == created["item_ids"] and shared[0]["items_version"] == 2
    assert "items" not in shared[1]


async def test_a_limited_link_hands_over_only_its_items_files(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet_id, ids = await sealed_with_files(client)
    created = await share(client, packet_id, item_ids=[ids["doc-1"]], password="open sesame!")
    headers = {PASSWORD_HEADER: "open sesame!"}
    mine = await client.get(link(created, f"/contents/{ids['doc-1']}/file"), headers=headers)
    assert mine.status_code == 200 and mine.content.startswith(b"%PDF-1.4")
    other = await client.get(link(created, f"/contents/{ids['doc-2']}/file"), headers=headers)
    assert other.status_code == 404, other.text
    assert ids["doc-2"] in other.json()["detail"]
    form = await client.post(
        link(created, f"/contents/{ids['doc-2']}/file"), data={"password": "open sesame!"}
    )
    assert form.status_code == 404 and "text/html" in form.headers["content-type"]
    assert "Ledger" not in form.text
    whole = await share(client, packet_id)
    sheet = await client.get(link(whole, f"/contents/{ids['doc-2']}/file"))
    assert sheet.status_code == 200 and sheet.content.startswith(b"date,ship,tons")
    assert (await access_actions(engine, created["id"])).count("download") == 1


@pytest.mark.parametrize("fmt", ["zip", "json"])
async def test_a_limited_link_s_bundle_is_the_disclosure_of_its_items(
    client: httpx.AsyncClient, tmp_path: Path, fmt: str
) -> None:
    packet_id, ids = await sealed_with_files(client)
    created = await share(client, packet_id, item_ids=[ids["doc-1"], ids["ent-9"]])
    query = "" if fmt == "zip" else f"?format={fmt}"
    bundle = await client.get(link(created, f"/bundle{query}"))
    assert bundle.status_code == 200, bundle.text
    disposition = bundle.headers["content-disposition"]
    assert f"disclosure-{packet_id}-v2.{fmt}" in disposition
    text = bundle.content.decode("latin-1")
    for withheld in ("doc-2", "Ledger", "Aurora"):
        assert withheld not in text, withheld
    await proves_doc_1_and_ent_9(client, bundle.content, fmt, packet_id, tmp_path / "link")
    custody = (await client.get(f"{API}/{packet_id}/custody")).json()["entries"]
    (used,) = [entry["details"] for entry in custody if entry["event"] == "link_used"]
    assert used["share_id"] == created["id"] and used["action"] == "bundle"
    assert used["sha256"] == hashlib.sha256(bundle.content).hexdigest()


async def test_what_a_link_can_t_be_limited_to_is_refused_with_a_reason(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet_id, ids = await sealed_with_files(client)
    url = f"{API}/{packet_id}/share"

    async def refused(status: int, **body: Any) -> str:
        response = await client.post(url, json={"shared_with": "public", **body})
        assert response.status_code == status, response.text
        detail: str = response.json()["detail"] if status != 422 else response.text
        return detail

    assert "nope" in await refused(422, item_ids=["nope"])
    await refused(422, item_ids=[])
    await refused(422, item_ids=[""])
    await refused(422, item_ids=["x" * 201])
    assert "edit" in await refused(422, item_ids=[ids["doc-1"]], permissions="edit")
    draft = (await client.post(f"{API}/", json={"name": "Draft"})).json()
    response = await client.post(
        f"{API}/{draft['id']}/share", json={"shared_with": "public", "item_ids": ["x"]}
    )
    assert response.status_code == 409 and "draft" in response.json()["detail"]
    engine = app.state.packets_shard.services.database.engine
    async with engine.begin() as conn:  # a seal that keeps no salts, as an imported one
        await conn.execute(update(packet_seals).values(item_salts=None))
    assert "one by one" in await refused(409, item_ids=[ids["doc-1"]])
    assert (await client.get(f"{API}/{packet_id}/shares")).json() == []


async def test_verify_finds_item_salts_that_disagree_with_the_signed_items_root(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet_id, _ = await sealed_with_files(client)
    report = (await client.get(f"{API}/{packet_id}/verify")).json()
    assert report["valid"] is True, report["problems"]
    engine = app.state.packets_shard.services.database.engine
    async with engine.connect() as conn:
        salts = json.loads(
            (await conn.execute(packet_seals.select())).mappings().one()["item_salts"]
        )
    for tampered in (json.dumps([salts[1], salts[0], salts[2]]), json.dumps(salts[:2]), "{"):
        async with engine.begin() as conn:
            await conn.execute(update(packet_seals).values(item_salts=tampered))
        report = (await client.get(f"{API}/{packet_id}/verify")).json()
        assert report["valid"] is False, tampered
        assert any("item salts" in problem for problem in report["problems"]), report
