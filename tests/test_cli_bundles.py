"""`arkham-packets export`, `import` and `verify`, run as a user runs them: a separate process
against the same database and data folder as the app, no server involved."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
import httpx
import pytest
from fastapi import FastAPI

from .bundle_helpers import assert_same_but_custody, file_bytes, packet_with_files
from .cli_runs import run_cli
from .test_export import unpack
from .test_import import forget
from .test_import_hostile import bag_with_last_entry, deep_json, json_with_last_entry, sealed_export


async def cli(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = list(args)
    if args[0] != "verify":
        command += ["--database-url", database_url, "--data-dir", str(data_dir)]
    return await run_cli(*command)


def tamper(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("data/items/0001-document.json"):
                data = data.replace(b"harbour master", b"harbour thief!")
            copy.writestr(info, data)


async def test_export_verify_tamper_import(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    data_dir = Path(app.state.packets_shard.services.data_dir)
    packet = await packet_with_files(client)
    pid = packet["id"]
    await client.post(f"/api/packets/{pid}/finalize")
    target = tmp_path / "out" / "harbor.zip"

    exported = await cli(database_url, data_dir, "export", pid, "-o", str(target))
    assert exported.returncode == 0, exported.stderr
    assert str(target) in exported.stdout
    assert "%" not in exported.stderr  # no bar: stderr is not a terminal (tests/test_cli.py)
    warnings = [line for line in exported.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [  # one line for every item nothing here resolves
        "warning: 2 items were exported without their data (document doc-2, entity ent-9): "
        "none was stored with them, and this server has no Frame service or shard that serves "
        "them (/api/documents/, /api/entities/). packet.json lists them as unresolved (titles "
        "and files are kept). To carry their data, send it as `data` when adding an item "
        f"(POST /api/packets/{pid}/contents), or export inside the Arkham Frame, where the "
        "shards that own them run."
    ]
    bagit.Bag(str(unpack(target.read_bytes(), "zip", tmp_path / "check"))).validate()

    again = tmp_path / "again.zip"
    quiet = await cli(database_url, data_dir, "export", pid, "-o", str(again), "--quiet")
    assert quiet.returncode == 0
    assert "%" not in quiet.stderr
    assert_same_but_custody(target.read_bytes(), again.read_bytes(), "zip")
    response = await client.post(f"/api/packets/{pid}/export", json={"format": "zip"})
    exported_bytes = file_bytes(data_dir / response.json()["file_path"])
    assert_same_but_custody(target.read_bytes(), exported_bytes, "zip")

    key = (await client.get("/api/packets/keys")).json()["keys"][0]["fingerprint"]
    verified = await cli(database_url, data_dir, "verify", str(target), "--quiet", "--trust", key)
    assert verified.returncode == 0, verified.stdout
    assert "OK (BagIt bag in zip)" in verified.stdout
    assert "sealed, checksum verified" in verified.stdout

    tampered = tmp_path / "tampered.zip"
    tamper(target, tampered)
    refused = await cli(database_url, data_dir, "verify", str(tampered), "--quiet")
    assert refused.returncode == 1
    lines = refused.stdout.splitlines()
    assert any("0001-document.json does not match its sha256" in line for line in lines)
    assert any("0001-document.json does not match its sha512" in line for line in lines)
    assert lines[-1].endswith("INVALID (2 problems)")

    await forget(client, app, pid)
    imported = await cli(database_url, data_dir, "import", str(target), "--quiet")
    assert imported.returncode == 0, imported.stderr
    assert "3 items imported (verified and sealed)" in imported.stdout
    fetched = (await client.get(f"/api/packets/{pid}")).json()
    assert fetched["status"] == "finalized"
    skipped = await cli(
        database_url, data_dir, "import", str(target), "--merge-mode", "skip", "--quiet"
    )
    assert "skipped" in skipped.stdout
    bad = await cli(database_url, data_dir, "import", str(tampered), "--quiet")
    assert bad.returncode == 1
    assert "invalid bundle" in bad.stderr


async def test_cli_errors(client: httpx.AsyncClient, app: FastAPI, database_url: str) -> None:
    data_dir = Path(app.state.packets_shard.services.data_dir)
    missing = await cli(database_url, data_dir, "export", "no-such-packet", "--quiet")
    assert missing.returncode == 1
    assert "packet no-such-packet not found" in missing.stderr
    nothing = await cli(database_url, data_dir, "verify", str(data_dir / "none.zip"))
    assert nothing.returncode == 2
    wrong = await cli(database_url, data_dir, "export", "x", "--format", "rar")
    assert wrong.returncode == 2


def test_the_command_line_starts_without_the_database_or_the_web() -> None:
    """`verify` (offline) and a mistyped command load no database layer, web framework or
    cryptography: those come with the commands that use them."""
    probe = (
        "import sys, arkham_shard_packets.cli.main\n"
        "heavy = ('sqlalchemy', 'fastapi', 'starlette', 'jwt', 'cryptography', 'alembic')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


async def test_verify_without_room_to_unpack_says_so_in_one_line(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packet = await packet_with_files(client)
    await client.post(f"/api/packets/{packet['id']}/finalize")
    exported = await client.post(f"/api/packets/{packet['id']}/export", json={"format": "zip"})
    bundle = tmp_path / "b.zip"
    bundle.write_bytes((await client.get(exported.json()["download_url"])).content)
    monkeypatch.setenv("ARKHAM_PACKETS_IMPORT_MIN_FREE_BYTES", str(2**62))
    done = await cli("", tmp_path, "verify", str(bundle), "--quiet")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("arkham-packets: error: not enough free disk space"), done.stderr
    assert "Traceback" not in done.stderr and "INVALID" not in done.stdout


async def test_bundles_the_shard_could_not_store_are_refused_without_a_traceback(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    """Issue 25, 7 to 9: `verify` took a custody entry nested 980 deep for tampering, and a
    NaN, a lone surrogate or `content_base64` nested 600 deep were a traceback; `import`
    stored the first and died on the others. Each is now the problem named, exit 1."""
    data_dir = Path(app.state.packets_shard.services.data_dir)
    zipped = await sealed_export(client, app, "zip")
    document = await sealed_export(client, app, "json")
    deep = json.loads(document)  # a draft's document would do as well
    deep["packet"]["metadata"] = json.loads(
        '{"a":' * 600 + '{"content_base64": "AAAA"}' + "}" * 600
    )
    bundles = {
        # where the depth is found (by the bounds, or by Python's own limit first) depends on
        # the stack the command has already used: the problem is named either way
        "deep.zip": (bag_with_last_entry(zipped, deep_json(980)), "custody.jsonl line 5: "),
        "nan.zip": (bag_with_last_entry(zipped, "NaN"), "custody.jsonl line 5: at details.x"),
        "surrogate.json": (
            json_with_last_entry(document, '"\\udfff"'),
            "the json bundle: at custody.4.details.x: must not contain lone surrogates",
        ),
        "base64.json": (json.dumps(deep).encode(), "the json bundle: at packet.metadata.a.a"),
    }
    for name, (bundle, said) in bundles.items():
        path = tmp_path / name
        path.write_bytes(bundle)
        verified = await cli(database_url, data_dir, "verify", str(path), "--quiet")
        assert verified.returncode == 1, (name, verified.stdout, verified.stderr)
        assert verified.stderr == ""
        assert verified.stdout.splitlines()[0].startswith(f"problem: {said}"), verified.stdout
        if name == "deep.zip":
            assert "nested more than 32 levels deep" in verified.stdout.splitlines()[0]
        assert verified.stdout.splitlines()[-1] == f"{path}: INVALID (1 problem)"
        imported = await cli(database_url, data_dir, "import", str(path), "--quiet")
        assert imported.returncode == 1, (name, imported.stdout, imported.stderr)
        assert imported.stdout == ""
        (line,) = imported.stderr.splitlines()
        assert line.startswith(f"arkham-packets: error: invalid bundle: {said}"), line


async def test_a_path_the_system_refuses_is_one_line(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    """Issue 25, 11, on the command line: a name too long for the file system was a traceback."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for name, reason in (("b" * 300, "File name too long"), ("loop", "Too many levels")):
        for command in ("verify", "import"):
            done = await cli(database_url, tmp_path, command, str(tmp_path / name))
            assert done.returncode == 2, (command, done.stderr)
            (line,) = done.stderr.splitlines()
            assert line.startswith(f"arkham-packets: error: can't read {tmp_path}/"), line
            assert reason in line
