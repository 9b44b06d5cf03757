"""The checksum recipe, and GET /verify catching changes made behind the service's back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from arkham_shard_packets.db.tables import packet_contents, packets
from arkham_shard_packets.sealing.checksum import packet_checksum

from .conftest import add_item, make_packet

NAME = "Hafen-Leck: Ümlaut ✓"
DESCRIPTION = "Frachtpapiere\nzweite Zeile"
METADATA = {"case": 7, "tags": ["port", "déjà"], "nested": {"b": True, "a": None}}
ITEMS: list[dict[str, Any]] = [
    {"content_type": "entity", "content_id": "ent-1", "content_title": "ACME", "order": 1},
    {"content_type": "document", "content_id": "doc-9", "content_title": "Memo", "order": 2},
    {
        "content_type": "claim",
        "content_id": "claim-1",
        "order": 1,
        "data": {"text": "ships at night", "confidence": 3},
    },
]
# The same input through the recipe of docs/versions.md; pinned so a silent change fails here.
KNOWN_ANSWER = "f53cdeecb8e1a6037dfef705c1c6e20a73db95301a7e3533c7ce25c055ee829e"


def readme_recipe(name: str, description: str, visibility: str, metadata: Any, items: Any) -> str:
    """The recipe exactly as docs/versions.md states it, written here without the shard's code."""

    def canonical(value: Any) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )

    contents = sorted(
        (
            {
                "content_type": item["content_type"],
                "content_id": item["content_id"],
                "content_title": item.get("content_title") or "",
                "order": item.get("order", 0),
                "data_sha256": None
                if item.get("data") is None
                else hashlib.sha256(canonical(item["data"])).hexdigest(),
                "file_sha256": None,
            }
            for item in items
        ),
        key=lambda c: (c["order"], c["content_type"], c["content_id"]),
    )
    document = {
        "name": name,
        "description": description,
        "visibility": visibility,
        "metadata": metadata,
        "contents": contents,
    }
    return hashlib.sha256(canonical(document)).hexdigest()


async def sealed_packet(client: httpx.AsyncClient, items: list[dict[str, Any]]) -> Any:
    packet = await make_packet(
        client, NAME, description=DESCRIPTION, visibility="team", metadata=METADATA
    )
    for item in items:
        await add_item(client, packet["id"], **item)
    response = await client.post(f"/api/packets/{packet['id']}/finalize")
    assert response.status_code == 200, response.text
    return response.json()


async def test_known_answer_from_the_documented_recipe(client: httpx.AsyncClient) -> None:
    sealed = await sealed_packet(client, ITEMS)
    expected = readme_recipe(NAME, DESCRIPTION, "team", METADATA, ITEMS)
    assert sealed["checksum"] == expected
    assert expected == KNOWN_ANSWER  # the same digest on SQLite and on PostgreSQL


async def test_checksum_ignores_insertion_order(client: httpx.AsyncClient) -> None:
    first = await sealed_packet(client, ITEMS)
    second = await sealed_packet(client, list(reversed(ITEMS)))
    third = await sealed_packet(client, [ITEMS[1], ITEMS[2], ITEMS[0]])
    assert first["checksum"] == second["checksum"] == third["checksum"]
    assert first["id"] != second["id"]


async def test_checksum_changes_with_any_sealed_field(client: httpx.AsyncClient) -> None:
    base = (await sealed_packet(client, ITEMS))["checksum"]
    variants = [
        [{**ITEMS[0], "order": 3}, *ITEMS[1:]],
        [{**ITEMS[0], "content_title": "ACME Ltd"}, *ITEMS[1:]],
        [*ITEMS[:2], {**ITEMS[2], "data": {"text": "ships at night", "confidence": 4}}],
        ITEMS[:2],
    ]
    seen = {base}
    for items in variants:
        checksum = (await sealed_packet(client, items))["checksum"]
        assert checksum not in seen
        seen.add(checksum)


async def test_verify_a_sealed_packet(client: httpx.AsyncClient) -> None:
    sealed = await sealed_packet(client, ITEMS)
    response = await client.get(f"/api/packets/{sealed['id']}/verify")
    assert response.status_code == 200
    report = response.json()
    assert report["valid"] is True
    assert report["problems"] == []
    assert report["checksum"] == report["computed"] == sealed["checksum"]
    assert report["snapshot_computed"] == sealed["checksum"]
    assert report["checksum_recipe"] == 1
    assert report["sealed_version"] == sealed["version"]
    assert report["checked_at"].endswith("+00:00")


async def test_verify_a_draft_says_there_is_nothing_sealed(client: httpx.AsyncClient) -> None:
    packet = await make_packet(client)
    report = (await client.get(f"/api/packets/{packet['id']}/verify")).json()
    assert report["valid"] is False
    assert report["checksum"] is None
    assert report["computed"] is not None
    assert "never finalized" in report["problems"][0]
    missing = await client.get("/api/packets/00000000-0000-4000-8000-000000000000/verify")
    assert missing.status_code == 404


async def tamper(engine: Any, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        result = await conn.execute(text(sql), params)
        assert result.rowcount >= 1, sql


async def verify(client: httpx.AsyncClient, packet_id: str) -> Any:
    response = await client.get(f"/api/packets/{packet_id}/verify")
    assert response.status_code == 200
    return response.json()


async def test_a_content_row_changed_behind_the_service_is_caught(
    client: httpx.AsyncClient, engine: Any
) -> None:
    sealed = await sealed_packet(client, ITEMS)
    await tamper(
        engine,
        "UPDATE arkham_packet_contents SET content_title = 'Forged' "
        "WHERE packet_id = :pid AND content_id = 'doc-9'",
        pid=sealed["id"],
    )
    report = await verify(client, sealed["id"])
    assert report["valid"] is False
    assert report["computed"] != report["checksum"]
    assert report["snapshot_computed"] == report["checksum"]  # the frozen copy still holds
    assert any("no longer match the checksum" in p for p in report["problems"])


async def test_changed_data_deleted_rows_and_packet_fields_are_caught(
    client: httpx.AsyncClient, engine: Any
) -> None:
    edits = [
        'UPDATE arkham_packet_contents SET data = \'{"text":"forged"}\' '
        "WHERE packet_id = :pid AND content_id = 'claim-1'",
        "DELETE FROM arkham_packet_contents WHERE packet_id = :pid AND content_id = 'ent-1'",
        "UPDATE arkham_packets SET description = 'rewritten' WHERE id = :pid",
        "UPDATE arkham_packets SET metadata = '{}' WHERE id = :pid",
    ]
    for sql in edits:
        sealed = await sealed_packet(client, ITEMS)
        assert (await verify(client, sealed["id"]))["valid"] is True
        await tamper(engine, sql, pid=sealed["id"])
        report = await verify(client, sealed["id"])
        assert report["valid"] is False, sql
        assert report["problems"], sql


async def test_a_forged_checksum_is_caught_by_the_frozen_snapshot(
    client: httpx.AsyncClient, engine: Any
) -> None:
    sealed = await sealed_packet(client, ITEMS)
    # Someone edits a row and "fixes" the stored checksum to match: the snapshot disagrees.
    await tamper(
        engine,
        "UPDATE arkham_packets SET name = 'Forged' WHERE id = :pid",
        pid=sealed["id"],
    )
    forged = readme_recipe("Forged", DESCRIPTION, "team", METADATA, ITEMS)
    await tamper(
        engine,
        "UPDATE arkham_packets SET checksum = :c WHERE id = :pid",
        c=forged,
        pid=sealed["id"],
    )
    report = await verify(client, sealed["id"])
    assert report["computed"] == report["checksum"] == forged
    assert report["valid"] is False
    assert report["snapshot_computed"] == sealed["checksum"]
    assert any("does not give the packet's checksum" in p for p in report["problems"])


async def test_a_changed_snapshot_body_is_caught(client: httpx.AsyncClient, engine: Any) -> None:
    sealed = await sealed_packet(client, ITEMS)
    version = (await client.get(f"/api/packets/{sealed['id']}/versions")).json()[0]
    digest = version["snapshot_path"].removeprefix("sha256:")
    await tamper(
        engine,
        "UPDATE arkham_packet_snapshots SET body = REPLACE(body, 'Memo', 'Mem0') WHERE digest = :d",
        d=digest,
    )
    report = await verify(client, sealed["id"])
    assert report["valid"] is False
    assert any("no longer matches its digest" in p for p in report["problems"])
    # The damaged snapshot is refused rather than served as the version's state.
    read = await client.get(f"/api/packets/{sealed['id']}/versions/{version['version_number']}")
    assert read.status_code == 409
    assert "digest" in read.json()["detail"]


async def test_a_changed_contents_count_is_caught(client: httpx.AsyncClient, engine: Any) -> None:
    sealed = await sealed_packet(client, ITEMS)
    await tamper(
        engine, "UPDATE arkham_packets SET contents_count = 9 WHERE id = :pid", pid=sealed["id"]
    )
    report = await verify(client, sealed["id"])
    assert report["valid"] is False
    assert report["problems"] == ["contents_count is 9 but 3 content entries are stored"]


async def test_an_unknown_recipe_is_reported(client: httpx.AsyncClient, engine: Any) -> None:
    sealed = await sealed_packet(client, ITEMS)
    await tamper(
        engine, "UPDATE arkham_packets SET checksum_recipe = 99 WHERE id = :pid", pid=sealed["id"]
    )
    report = await verify(client, sealed["id"])
    assert report["valid"] is False
    assert "recipe (99) is unknown" in report["problems"][0]


async def test_stored_rows_and_snapshot_records_give_the_same_checksum(
    client: httpx.AsyncClient, engine: Any
) -> None:
    """The one checksum-input builder takes raw rows (JSON as text) or decoded records."""
    sealed = await sealed_packet(client, ITEMS)
    async with engine.connect() as conn:
        packet_row = (
            (await conn.execute(select(packets).where(packets.c.id == sealed["id"])))
            .mappings()
            .one()
        )
        rows = (
            (
                await conn.execute(
                    select(packet_contents).where(packet_contents.c.packet_id == sealed["id"])
                )
            )
            .mappings()
            .all()
        )
    assert packet_checksum(packet_row, rows) == sealed["checksum"]
    frozen = (await client.get(f"/api/packets/{sealed['id']}/versions/{sealed['version']}")).json()
    snapshot = frozen["snapshot"]
    assert packet_checksum(snapshot["packet"], snapshot["contents"]) == sealed["checksum"]


def readme_snippet() -> dict[str, Any]:
    readme = (Path(__file__).resolve().parent.parent / "docs" / "versions.md").read_text(
        encoding="utf-8"
    )
    section = readme.split("## Checksum recipe", 1)[1]
    code = section.split("```python", 1)[1].split("\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/versions.md", "exec"), namespace)
    return namespace


async def test_the_readme_snippet_recomputes_the_checksum(client: httpx.AsyncClient) -> None:
    sealed = await sealed_packet(client, ITEMS)
    packet = (await client.get(f"/api/packets/{sealed['id']}")).json()
    contents = (await client.get(f"/api/packets/{sealed['id']}/contents")).json()
    assert readme_snippet()["packet_checksum"](packet, contents) == sealed["checksum"]
