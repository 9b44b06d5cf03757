"""Custody entries after a seal are the bundle's own account (issue 25, item 4): whoever holds
a bundle can rewrite them or invent more and recompute the chain. Import accepts such a
bundle, but its answer, GET /custody, the viewer page and `arkham-packets verify` and
`import` say which entries the signature covers and which nothing proves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from .bundle_helpers import export
from .conftest import add_item, make_packet
from .custody_helpers import Files, jsonl, rechain, rewrite, write
from .test_custody_bundles import cli, sealed_and_shared
from .test_import import forget, upload

API = "/api/packets"


def after_seal_rewritten(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entry 5 (the share, after the seal at entry 4) rewritten, an entry 6 invented, the
    chain recomputed from there."""
    assert [entry["event"] for entry in entries] == [
        "created",
        "item_added",
        "item_added",
        "finalized",
        "shared",
    ]
    shared = {**entries[4], "details": {**entries[4]["details"], "shared_with": "nobody"}}
    invented = {
        **entries[4],
        "actor": "alice",
        "event": "link_revoked",
        "details": {"share_id": "made-up"},
    }
    tail = rechain([*entries[:4], shared, invented])
    assert tail[:4] == entries[:4]  # the sealed history is untouched
    return tail


def rewrite_log(files: Files) -> None:
    entries = [json.loads(line) for line in files["custody.jsonl"].splitlines()]
    files["custody.jsonl"] = jsonl(after_seal_rewritten(entries))


def forged(archive: bytes, fmt: str) -> bytes:
    if fmt != "json":
        return rewrite(archive, fmt, rewrite_log)
    document = json.loads(archive)
    document["custody"] = after_seal_rewritten(document["custody"])
    return json.dumps(document).encode()


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "json"])
async def test_entries_after_the_seal_are_reported_as_the_bundles_account(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, fmt: str
) -> None:
    pid = await sealed_and_shared(client)
    key = (await client.get(f"{API}/keys")).json()["keys"][0]["fingerprint"]
    _, archive = await export(client, pid, fmt)
    bundle = write(tmp_path / f"b.{fmt}", forged(archive, fmt))
    await forget(client, app, pid)

    answer = await upload(client, bundle.read_bytes(), name=f"b.{fmt}")
    assert answer.status_code == 201, answer.text  # nothing in it is wrong: it proves less
    body = answer.json()
    assert (body["verified"], body["trusted"], body["custody_intact"]) == (True, True, True)
    assert (body["custody_entries"], body["covered_entries"]) == (6, 4)
    assert body["unproven_entries"] == {"first": 5, "last": 6}
    said = (
        f"custody entries 1 to 4 are covered by the seal signed by {key}; entries 5 to 6 are "
        "the bundle's own account, which no signature covers: not proven"
    )
    assert said in body["warnings"], body["warnings"]

    log = (await client.get(f"{API}/{pid}/custody")).json()
    assert [entry["event"] for entry in log["entries"]][4:] == [
        "shared",
        "link_revoked",
        "imported",
    ]
    assert (log["covered_entries"], log["covered_by"]) == (4, key)
    assert log["unproven_entries"] == {"first": 5, "last": 6}
    assert log["intact"] is True  # the chain holds; what it says after the seal is unproven

    share = (await client.post(f"{API}/{pid}/share", json={"shared_with": "public"})).json()
    page = (await client.get(f"{API}/shared/{share['access_token']}/view")).text
    assert (
        f"<dt>Custody log</dt><dd>8 entries. Custody entries 1 to 4 are covered by the seal "
        f"signed by {key}; entries 5 to 6 are the account an imported bundle brought, which no "
        "signature covers: not proven; entries 7 to 8 were recorded here after the seal, and "
        "no signature covers them.</dd>"
    ) in page

    checked = await cli("verify", str(bundle), "--trust", key)
    assert checked.returncode == 0, checked.stdout
    out = checked.stdout
    assert f"  custody entries 1 to 4 are covered by the seal signed by {key}; entries 5 to 6" in (
        out
    )
    assert (
        "not proven: custody entries 5 to 6: the bundle's own account after the seal; whoever "
        "held the bundle could have changed, invented or removed any of them" in out
    )
    assert [line for line in out.splitlines() if "unaltered" in line] == [
        "  proven: the packet's history from its creation to its seal (custody entries 1 to 4) "
        "is complete and unaltered"
    ]


async def test_the_cli_import_says_what_the_signature_covers(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    pid = await sealed_and_shared(client)
    key = (await client.get(f"{API}/keys")).json()["keys"][0]["fingerprint"]
    _, archive = await export(client, pid, "zip")
    bundle = write(tmp_path / "b.zip", forged(archive, "zip"))
    await forget(client, app, pid)
    data_dir = Path(app.state.packets_shard.services.data_dir)
    done = await cli("import", str(bundle), database=(database_url, data_dir))
    assert done.returncode == 0, done.stderr
    said = (
        f"custody entries 1 to 4 are covered by the seal signed by {key}; entries 5 to 6 are "
        "the bundle's own account, which no signature covers: not proven"
    )
    assert f"  {said}" in done.stdout.splitlines()
    assert f"warning: {said}" in done.stderr.splitlines()


async def test_what_a_stored_log_proves(client: httpx.AsyncClient, app: FastAPI) -> None:
    """A packet made here: its seal covers up to the finalize, the rest was recorded here. A
    draft: no signature covers anything. An imported draft: its whole carried log is the
    bundle's account, also once it is sealed here."""
    draft = await make_packet(client)
    await add_item(client, draft["id"], "d1")
    log = (await client.get(f"{API}/{draft['id']}/custody")).json()
    assert (log["covered_entries"], log["covered_by"], log["unproven_entries"]) == (0, None, None)

    pid = await sealed_and_shared(client)
    key = (await client.get(f"{API}/keys")).json()["keys"][0]["fingerprint"]
    log = (await client.get(f"{API}/{pid}/custody")).json()
    assert (log["length"], log["covered_entries"], log["covered_by"]) == (5, 4, key)
    assert log["unproven_entries"] is None

    _, archive = await export(client, draft["id"], "json")  # created, item_added
    await forget(client, app, draft["id"])
    imported = await upload(client, archive, name="d.json")
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert (body["custody_entries"], body["covered_entries"]) == (2, 0)
    assert body["unproven_entries"] == {"first": 1, "last": 2}
    log = (await client.get(f"{API}/{draft['id']}/custody")).json()
    assert log["covered_entries"] == 0
    assert log["unproven_entries"] == {"first": 1, "last": 2}
    await client.post(f"{API}/{draft['id']}/finalize")
    log = (await client.get(f"{API}/{draft['id']}/custody")).json()
    assert (log["covered_entries"], log["covered_by"]) == (log["length"], key)
    assert log["unproven_entries"] == {"first": 1, "last": 2}
