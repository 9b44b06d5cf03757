"""Import: round trips for every format, sealed packets, merge modes, sources and paths."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from .bundle_helpers import (
    assert_same_but_custody,
    attach,
    database_rows,
    export,
    leftover_files,
    packet_with_files,
)
from .conftest import add_item, packet_events, settle
from .stored import stored_bytes


async def upload(
    client: httpx.AsyncClient, archive: bytes, merge_mode: str | None = None, name: str = "b.zip"
) -> httpx.Response:
    data = {} if merge_mode is None else {"merge_mode": merge_mode}
    return await client.post(
        "/api/packets/import", files={"file": (name, io.BytesIO(archive))}, data=data
    )


async def state(client: httpx.AsyncClient, packet_id: str) -> dict[str, Any]:
    """What a packet is, without what an import legitimately changes (ids, updated_at)."""
    packet = (await client.get(f"/api/packets/{packet_id}")).json()
    contents = (await client.get(f"/api/packets/{packet_id}/contents")).json()
    files = {}
    for item in contents:
        if item["file"] is not None:
            got = await client.get(f"/api/packets/{packet_id}/contents/{item['id']}/file")
            files[item["content_id"]] = got.content
    packet.pop("updated_at")
    for item in contents:
        item.pop("id")
    return {"packet": packet, "contents": contents, "files": files}


async def forget(client: httpx.AsyncClient, app: FastAPI, packet_id: str) -> None:
    """Delete a packet outright (the API only archives), as if on another machine; after the
    app's background work, which records a share link's reads after their answer."""
    from sqlalchemy import delete

    from arkham_shard_packets.db import tables

    await settle(client)
    engine = app.state.packets_shard.services.database.engine
    async with engine.begin() as conn:
        for table in (
            tables.packet_exports,
            tables.packet_contents,
            tables.packet_versions,
            tables.share_access_log,
            tables.packet_comments,
            tables.packet_shares,
            tables.packet_custody,
            tables.packet_seals,
        ):
            await conn.execute(delete(table).where(table.c.packet_id == packet_id))
        await conn.execute(delete(tables.packets).where(tables.packets.c.id == packet_id))


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
@pytest.mark.parametrize("finalize", [False, True])
async def test_round_trip(
    client: httpx.AsyncClient, app: FastAPI, fmt: str, finalize: bool
) -> None:
    packet = await packet_with_files(client)
    pid = packet["id"]
    if finalize:
        await client.post(f"/api/packets/{pid}/finalize")
    before = await state(client, pid)
    _, archive = await export(client, pid, fmt)
    await forget(client, app, pid)
    assert (await client.get(f"/api/packets/{pid}")).status_code == 404

    response = await upload(client, archive, name=f"bundle.{fmt}")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["packet_id"] == pid
    assert body["contents_imported"] == 3
    assert body["merge_mode"] == "replace"
    assert body["import_source"] == f"upload:bundle.{fmt}"
    assert body["skipped"] is False
    assert body["verified"] is finalize
    # the unresolved items' records are imported: worth knowing, not a failure
    assert body["errors"] == []
    assert body["warnings"] == [
        "document doc-2: unresolved at export",
        "entity ent-9: unresolved at export",
    ]
    after = await state(client, pid)
    assert after == before
    assert after["packet"]["status"] == ("finalized" if finalize else "draft")
    imported = await packet_events(client, "packets.packet.imported")
    assert imported[0]["payload"] == {"packet_id": pid, "import_source": f"upload:bundle.{fmt}"}
    if finalize:  # re-exporting the imported sealed packet gives the same packet and seal
        assert_same_but_custody(archive, (await export(client, pid, fmt))[1], fmt)


async def test_the_name_does_not_decide_the_format(client: httpx.AsyncClient, app: FastAPI) -> None:
    packet = await packet_with_files(client)
    _, archive = await export(client, packet["id"], "tar.gz")
    await forget(client, app, packet["id"])
    response = await upload(client, archive, name="misleading.json")
    assert response.status_code == 201, response.text


async def test_replace_an_existing_draft(client: httpx.AsyncClient) -> None:
    packet = await packet_with_files(client)
    pid = packet["id"]
    _, archive = await export(client, pid)
    before = await state(client, pid)
    await client.put(f"/api/packets/{pid}", json={"name": "Renamed", "metadata": {}})
    extra = await add_item(client, pid, "claim-1", "claim")
    await attach(client, pid, extra["id"], b"only in the draft")
    response = await upload(client, archive, "replace")
    assert response.status_code == 201, response.text
    after = await state(client, pid)
    # the import is recorded in the draft's history: versions 1 (created), 2 (imported)
    assert (before["packet"].pop("version"), after["packet"].pop("version")) == (1, 2)
    assert after == before
    versions = (await client.get(f"/api/packets/{pid}/versions")).json()
    assert [(v["version_number"], v["kind"]) for v in versions] == [(2, "imported"), (1, "created")]


async def test_merge_keeps_the_drafts_items_and_adds_the_missing(
    client: httpx.AsyncClient,
) -> None:
    packet = await packet_with_files(client)
    pid = packet["id"]
    _, archive = await export(client, pid)
    items = (await client.get(f"/api/packets/{pid}/contents")).json()
    await client.delete(f"/api/packets/{pid}/contents/{items[2]['id']}")  # ent-9 goes
    await client.put(f"/api/packets/{pid}", json={"name": "Renamed"})
    await add_item(client, pid, "claim-1", "claim", content_title="Only here")
    response = await upload(client, archive, "merge")
    assert response.status_code == 201, response.text
    assert response.json()["contents_imported"] == 1
    after = await state(client, pid)
    assert after["packet"]["name"] == "Harbor leak"
    # claim-1 went after the last item then (order 2); ent-9 came back with its order, 2, and
    # its `added_at`, earlier than claim-1's: items of one order, in the order they were added
    assert [(i["content_type"], i["content_id"], i["order"]) for i in after["contents"]] == [
        ("document", "doc-1", 0),
        ("document", "doc-2", 1),
        ("entity", "ent-9", 2),
        ("claim", "claim-1", 2),
    ]
    assert after["packet"]["contents_count"] == 4


async def test_merging_a_sealed_bundle_into_a_draft_keeps_it_a_draft(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    packet = await packet_with_files(client)
    pid = packet["id"]
    _, draft_bundle = await export(client, pid)
    await client.post(f"/api/packets/{pid}/finalize")
    _, sealed_bundle = await export(client, pid)
    await forget(client, app, pid)
    assert (await upload(client, draft_bundle)).json()["verified"] is False
    await add_item(client, pid, "claim-1", "claim")
    merged = await upload(client, sealed_bundle, "merge")
    assert merged.status_code == 201, merged.text
    assert merged.json()["verified"] is True
    assert merged.json()["contents_imported"] == 0
    assert "the bundle's seal does not apply" in merged.json()["warnings"][-1]
    assert merged.json()["errors"] == []
    after = (await client.get(f"/api/packets/{pid}")).json()
    assert after["status"] == "draft"
    assert after["checksum"] is None
    assert after["contents_count"] == 4
    await forget(client, app, pid)
    created = await upload(client, sealed_bundle, "merge")  # nothing to merge into: sealed
    assert created.json()["verified"] is True
    assert (await client.get(f"/api/packets/{pid}")).json()["status"] == "finalized"


async def test_skip_leaves_an_existing_packet_untouched(
    client: httpx.AsyncClient, engine: Any
) -> None:
    packet = await packet_with_files(client)
    _, archive = await export(client, packet["id"])
    await client.put(f"/api/packets/{packet['id']}", json={"name": "Changed since"})
    before = await database_rows(engine)
    response = await upload(client, archive, "skip")
    assert response.status_code == 201
    assert response.json()["skipped"] is True
    assert response.json()["contents_imported"] == 0
    assert await database_rows(engine) == before
    assert await packet_events(client, "packets.packet.imported") == []


async def test_a_finalized_packet_is_not_replaced(client: httpx.AsyncClient, engine: Any) -> None:
    packet = await packet_with_files(client)
    _, archive = await export(client, packet["id"])
    await client.post(f"/api/packets/{packet['id']}/finalize")
    before = await database_rows(engine)
    for mode in ("replace", "merge"):
        response = await upload(client, archive, mode)
        assert response.status_code == 409
        assert "only a draft" in response.json()["detail"]
    assert await database_rows(engine) == before


async def test_an_unknown_merge_mode_is_422(client: httpx.AsyncClient, app: FastAPI) -> None:
    packet = await packet_with_files(client)
    _, archive = await export(client, packet["id"])
    response = await upload(client, archive, "overwrite")
    assert response.status_code == 422
    assert "merge_mode" in response.json()["detail"]
    data_dir = app.state.packets_shard.services.data_dir
    assert leftover_files(data_dir / "tmp") == []


async def test_import_from_an_allowed_folder(client: httpx.AsyncClient, app: FastAPI) -> None:
    packet = await packet_with_files(client)
    body, _ = await export(client, packet["id"], "tar.gz")
    same = await client.post(
        "/api/packets/import", json={"file_path": body["file_path"], "merge_mode": "skip"}
    )
    assert same.status_code == 201, same.text
    assert same.json()["import_source"] == body["file_path"]  # exports/…, as export named it
    assert same.json()["skipped"] is True
    data_dir = app.state.packets_shard.services.data_dir
    imports = data_dir / "imports"
    assert imports.is_dir()  # the drop folder is there from the start
    (imports / "copy.tgz").write_bytes(await stored_bytes(app, body["file_path"]))
    await forget(client, app, packet["id"])
    response = await client.post(
        "/api/packets/import",
        json={"file_path": str(imports / "copy.tgz"), "merge_mode": "replace"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["import_source"] == "imports/copy.tgz"
    assert response.json()["contents_imported"] == 3
    # the export folder only offers files an export of the caller's tenant recorded there
    unrecorded = await client.post("/api/packets/import", json={"file_path": body["file_path"]})
    assert unrecorded.status_code == 404
    missing = await client.post("/api/packets/import", json={"file_path": str(imports / "no")})
    assert missing.status_code == 404


async def test_paths_outside_the_allowed_folders_are_403(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, engine: Any
) -> None:
    packet = await packet_with_files(client)
    body, _ = await export(client, packet["id"])
    await forget(client, app, packet["id"])
    data_dir = app.state.packets_shard.services.data_dir
    outside = tmp_path / "outside.zip"
    outside.write_bytes(await stored_bytes(app, body["file_path"]))
    link = data_dir / "imports" / "link.zip"
    link.symlink_to(outside)
    before = await database_rows(engine)
    for path in (
        str(outside),
        str(link),
        str(data_dir / "imports" / ".." / ".." / "outside.zip"),
        "/etc/passwd",
        str(data_dir / "packets.db"),
    ):
        response = await client.post("/api/packets/import", json={"file_path": path})
        assert response.status_code == 403, path
        detail = response.json()["detail"]
        assert detail.startswith(f"{path} is outside the allowed import folders (imports/ and ")
        assert "exports/ in the data directory)" in detail
        assert "multipart field 'file'" in detail
        assert str(data_dir) not in detail.removeprefix(path)  # no server layout told
    assert await database_rows(engine) == before


async def test_paths_the_system_refuses_are_4xx(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, engine: Any
) -> None:
    """Issue 25, 11: a name too long for the file system was a 500; so was a loop of links.
    Whatever the operating system refuses about a given path is a 4xx that says why and shows
    nothing of the server's folders."""
    data_dir = app.state.packets_shard.services.data_dir
    imports = data_dir / "imports"
    (imports / "loop").symlink_to(imports / "loop")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (imports / "bundle.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    refusals = [
        ("imports/" + "b" * 300, 422, "a file or folder name too long"),
        ("imports/" + "b" * 300 + "/x.zip", 422, "a file or folder name too long"),
        ("imports/loop", 422, "imports/loop leads into a loop of symbolic links"),
        ("imports/loop/x.zip", 422, "imports/loop/x.zip leads into a loop of symbolic links"),
        (str(tmp_path / "loop"), 403, "is outside the allowed import folders"),
        ("imports/bundle.zip/x.zip", 404, "no file at imports/bundle.zip/x.zip"),
    ]
    if os.geteuid() != 0:  # root reads whatever the permissions say
        (imports / "bundle.zip").chmod(0)
        refusals.append(("imports/bundle.zip", 403, "not permitted to read imports/bundle.zip"))
    before = await database_rows(engine)
    for path, status, said in refusals:
        response = await client.post("/api/packets/import", json={"file_path": path})
        assert response.status_code == status, (path[:40], response.text)
        detail = response.json()["detail"]
        assert said in detail, detail
        assert str(data_dir) not in detail and str(tmp_path) not in detail.removeprefix(path)
    assert await database_rows(engine) == before


async def test_a_relative_path_is_read_from_the_data_directory(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    packet = await packet_with_files(client)
    body, _ = await export(client, packet["id"])
    data_dir = app.state.packets_shard.services.data_dir
    (data_dir / "imports" / "drop.zip").write_bytes(await stored_bytes(app, body["file_path"]))
    await forget(client, app, packet["id"])
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "imports").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)  # the server's working directory plays no part
    response = await client.post("/api/packets/import", json={"file_path": "imports/drop.zip"})
    assert response.status_code == 201, response.text
    assert response.json()["import_source"] == "imports/drop.zip"


async def test_the_403_names_configured_folders_as_configured(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = app.state.packets_shard.services
    drop = tmp_path / "drop"
    monkeypatch.setattr(services.imports, "allowed_dirs", [services.data_dir / "imports", drop])
    response = await client.post("/api/packets/import", json={"file_path": "/etc/hostname"})
    assert response.status_code == 403
    assert f"(imports/ in the data directory; {drop})" in response.json()["detail"]


async def test_import_mistakes_say_what_to_do(client: httpx.AsyncClient) -> None:
    no_path = await client.post("/api/packets/import", json={"merge_mode": "skip"})
    assert no_path.status_code == 422
    (problem,) = no_path.json()["detail"]
    assert problem["loc"] == ["body", "file_path"]
    assert problem["msg"].startswith("file_path is required: the bundle's path on the server")
    assert "errors.pydantic.dev" not in no_path.text
    wrong_field = await client.post(
        "/api/packets/import", files={"upload": ("b.zip", b"PK" + b"x" * 100_000)}
    )
    assert wrong_field.status_code == 422
    assert wrong_field.json()["detail"] == (
        "the form has an unknown field 'upload' (the file goes in 'file')"
    )


async def test_import_dirs_are_configurable(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = app.state.packets_shard.services
    monkeypatch.setattr(services.imports, "allowed_dirs", [tmp_path / "drop"])
    packet = await packet_with_files(client)
    body, _ = await export(client, packet["id"])
    refused = await client.post("/api/packets/import", json={"file_path": body["file_path"]})
    assert refused.status_code == 403


def test_import_dirs_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from arkham_shard_packets.config import Settings

    monkeypatch.setenv("ARKHAM_PACKETS_IMPORT_DIRS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert Settings().allowed_import_dirs(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    monkeypatch.delenv("ARKHAM_PACKETS_IMPORT_DIRS")
    assert Settings().allowed_import_dirs(tmp_path) == [tmp_path / "imports", tmp_path / "exports"]


async def test_a_bad_request_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/packets/import", content=b"x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 422
    bad_json = await client.post("/api/packets/import", json={"merge_mode": "replace"})
    assert bad_json.status_code == 422
    no_file = await client.post("/api/packets/import", data={"merge_mode": "replace"}, files={})
    assert no_file.status_code == 422


async def test_packet_json_is_self_describing(client: httpx.AsyncClient) -> None:
    packet = await packet_with_files(client)
    _, raw = await export(client, packet["id"], "json")
    document = json.loads(raw)
    assert document["packet"]["checksum_recipe"] == 1
    assert document["format_version"] == 1
