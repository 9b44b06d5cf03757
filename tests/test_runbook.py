"""production.md's runbook as an operator follows it: the backup and the restore after a real
loss (the data directory deleted, the database's tables dropped), the signing key kept out
of the data archive, the PostgreSQL commands stopping when no database is named, creating the
database's role, and the systemd unit's command running several workers on one installation.
The blocks not run by tests/test_docs_examples.py (they replace a server's data, create a role
or start services) are run here, as written, from the document."""

from __future__ import annotations

import asyncio
import configparser
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from arkham_shard_packets.cli.main import build_parser
from arkham_shard_packets.config import Settings

from .conftest import POSTGRES_URL, reset_postgres
from .doc_examples import PRELUDE, ROOT, Block, blocks_of
from .live_host import free_port, running, wait_until_healthy

RUNBOOK = ROOT / "production.md"
DATA = "arkham-packets-data"  # the data directory the runbook's commands name
DATABASE = "postgresql" if POSTGRES_URL else "sqlite"
HEADING = re.compile(r"^#{1,6} ")


def section(heading: str) -> list[Block]:
    """The fenced blocks under `### heading`, up to the next heading."""
    blocks = blocks_of(RUNBOOK)
    lines = RUNBOOK.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"### {heading}") + 1
    inside = {n for b in blocks for n in range(b.line, b.line + b.body.count("\n") + 1)}
    end = next(
        (
            n + 1
            for n in range(start, len(lines))
            if n + 1 not in inside and HEADING.match(lines[n])
        ),
        len(lines),
    )
    return [block for block in blocks if start < block.line < end]


def shell(blocks: list[Block]) -> list[Block]:
    return [block for block in blocks if block.language == "bash"]


def operator_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env | settings


def run(body: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", PRELUDE + body],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ran(body: str, cwd: Path, env: dict[str, str]) -> str:
    done = run(body, cwd, env)
    assert done.returncode == 0, f"{body}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def sealed_packet(base: str) -> dict[str, Any]:
    """A sealed packet with a file, as the runbook's rehearsal makes one."""
    api = f"{base}/api/packets"
    packet = httpx.post(f"{api}/", json={"name": "Kept"}).json()
    item = httpx.post(
        f"{api}/{packet['id']}/contents", json={"content_type": "document", "content_id": "d1"}
    ).json()
    files = {"file": ("evidence.txt", b"evidence\n", "text/plain")}
    assert httpx.put(f"{api}/{packet['id']}/contents/{item['id']}/file", files=files).is_success
    assert httpx.post(f"{api}/{packet['id']}/finalize").is_success
    return {"id": packet["id"], "item": item["id"], "key": keys_of(base)}


def keys_of(base: str) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = httpx.get(f"{base}/api/packets/keys").json()["keys"]
    return keys


def still_sealed(base: str, packet: dict[str, Any]) -> None:
    """The packet's seal checks, signed by the key it was signed with, and its file is there."""
    api = f"{base}/api/packets/{packet['id']}"
    report = httpx.get(f"{api}/verify").json()
    assert report["valid"] is True, report
    assert report["signed_by"] == packet["key"][0]["fingerprint"]
    assert keys_of(base) == packet["key"]
    assert httpx.get(f"{api}/contents/{packet['item']}/file").content == b"evidence\n"


def suite_database(tmp_path: Path) -> str:
    """The suite's PostgreSQL, emptied, or a new SQLite file."""
    if POSTGRES_URL:
        asyncio.run(reset_postgres(POSTGRES_URL))
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'packets.db'}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_backup_restores_after_a_real_loss(tmp_path: Path, database_url: str) -> None:
    """The backup of the runbook, then the data directory deleted (and on PostgreSQL the
    shard's tables dropped), then its restore: the same packets, sealed by the same key."""
    data_dir = tmp_path / DATA
    env = operator_env()
    if POSTGRES_URL:
        env["ARKHAM_PACKETS_DATABASE_URL"] = database_url
    with running(data_dir, database_url) as served:
        packet = await asyncio.to_thread(sealed_packet, served.base)
        (backup,) = [b for b in shell(section("Backup")) if b.database == DATABASE]
        assert backup.runs  # tests/test_docs_examples.py runs it too
        await asyncio.to_thread(ran, backup.body, tmp_path, env)

    copies = tmp_path / "backup"
    assert mode(copies) == 0o700
    assert {path.name: mode(path) for path in copies.iterdir()} == {
        "packets.dump" if POSTGRES_URL else "packets.db": 0o600,
        "data.tar.gz": 0o600,
        "signing-key.pem": 0o600,
    }
    with tarfile.open(copies / "data.tar.gz") as archive:
        names = archive.getnames()
    assert "./files" in names
    assert [name for name in names if name.startswith("./keys")] == []  # the key apart
    key_file = data_dir / "keys" / "signing-key.pem"
    assert (copies / "signing-key.pem").read_bytes() == key_file.read_bytes()

    shutil.rmtree(data_dir)  # the loss
    if POSTGRES_URL:
        await reset_postgres(database_url)
    files, sqlite, postgresql = shell(section("Restore, and checking it"))[:3]
    assert "cp backup/packets.db" in sqlite.body and "pg_restore" in postgresql.body
    database_step = postgresql if POSTGRES_URL else sqlite
    await asyncio.to_thread(ran, files.body + database_step.body, tmp_path, env)
    assert mode(data_dir) == 0o700 and mode(key_file) == 0o600

    with running(data_dir, database_url) as served:
        await asyncio.to_thread(still_sealed, served.base, packet)


def test_the_postgresql_commands_stop_when_no_database_is_named(tmp_path: Path) -> None:
    """Unset, ARKHAM_PACKETS_DATABASE_URL would let pg_dump dump whatever database it picks by
    default (exit 0) and pg_restore restore into it: each command stops first, saying why."""
    (tmp_path / DATA / "keys").mkdir(parents=True)
    (tmp_path / DATA / "keys" / "signing-key.pem").write_text("a key\n")
    (backup,) = [b for b in shell(section("Backup")) if b.database == "postgresql"]
    restore = shell(section("Restore, and checking it"))[2]
    for block, said in [(backup, "back up"), (restore, "restore into")]:
        done = run(block.body, tmp_path, operator_env())
        assert done.returncode != 0
        assert f"ARKHAM_PACKETS_DATABASE_URL: set it to the database to {said}" in done.stderr
        assert "pg_dump" not in done.stderr and "pg_restore" not in done.stderr
    assert not (tmp_path / "backup" / "packets.dump").exists()


def ini_blocks() -> list[Block]:
    return [block for block in blocks_of(RUNBOOK) if block.language == "ini"]


def unit_and_settings() -> tuple[configparser.ConfigParser, dict[str, str]]:
    """The systemd unit of the runbook and its environment file's settings."""
    (unit_block,) = [block for block in ini_blocks() if "[Service]" in block.body]
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(unit_block.body)
    (env_block,) = [b for b in ini_blocks() if b.body.startswith("# /etc/arkham-packets/env")]
    pairs = [line.split("=", 1) for line in env_block.body.splitlines()[1:] if line.strip()]
    return unit, {name: value for name, value in pairs}


def test_the_unit_names_real_settings_and_a_real_command() -> None:
    unit, settings = unit_and_settings()
    service = unit["Service"]
    named = set(settings) | {service["Environment"].split("=", 1)[0]}
    fields = {f"ARKHAM_PACKETS_{name.upper()}" for name in Settings.model_fields}
    assert named <= fields, named - fields
    assert service["Environment"] == "ARKHAM_PACKETS_PORT=%i"
    assert service["EnvironmentFile"] == "/etc/arkham-packets/env"
    assert service["ReadWritePaths"] == settings["ARKHAM_PACKETS_DATA_DIR"]
    program, *args = shlex.split(service["ExecStart"])
    assert program.endswith("/.venv/bin/arkham-packets")
    assert build_parser().parse_args(args).command == "serve"
    assert unit["Install"]["WantedBy"] == "arkham-packets.target"


def test_two_workers_of_the_unit_serve_one_installation(tmp_path: Path, database_url: str) -> None:
    """As systemd runs them: `init` with the unit's settings, then the unit's command twice,
    each on the port of its instance; what one does the other sees and signs alike; stopped
    with SIGTERM, each shuts down cleanly."""
    database_url = suite_database(tmp_path)
    unit, settings = unit_and_settings()
    settings["ARKHAM_PACKETS_DATA_DIR"] = str(tmp_path / "data")
    settings["ARKHAM_PACKETS_DATABASE_URL"] = database_url
    _, *args = shlex.split(unit["Service"]["ExecStart"])
    command = [sys.executable, "-m", "arkham_shard_packets.cli"]
    ran(shlex.join([*command, "init"]), tmp_path, operator_env(**settings))
    ports = [free_port(), free_port()]
    workers = []
    for port in ports:
        variable, value = unit["Service"]["Environment"].replace("%i", str(port)).split("=")
        env = operator_env(**settings, **{variable: value})
        workers.append(
            subprocess.Popen(
                [*command, *args],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        one, two = (f"http://127.0.0.1:{port}" for port in ports)
        for base, worker in zip((one, two), workers, strict=True):
            wait_until_healthy(base, worker)
        packet = httpx.post(f"{one}/api/packets/", json={"name": "Two workers"}).json()
        item = {"content_type": "claim", "content_id": "c-1"}
        assert httpx.post(f"{two}/api/packets/{packet['id']}/contents", json=item).is_success
        assert httpx.post(f"{one}/api/packets/{packet['id']}/finalize").is_success
        report = httpx.get(f"{two}/api/packets/{packet['id']}/verify").json()
        assert report["valid"] is True
        assert httpx.get(f"{two}/api/packets/{packet['id']}").json()["contents_count"] == 1
        assert keys_of(one) == keys_of(two)
        assert report["signed_by"] == keys_of(one)[0]["fingerprint"]
        shared = httpx.post(
            f"{two}/api/packets/{packet['id']}/share", json={"shared_with": "public"}
        )
        shared = shared.json()
        assert shared["share_url"].startswith(settings["ARKHAM_PACKETS_PUBLIC_BASE_URL"])
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)  # what `systemctl stop` sends
        logs = [worker.communicate(timeout=30)[0] for worker in workers]
    # uvicorn shuts down, then ends by the signal it was sent: a clean stop to systemd
    assert [worker.returncode for worker in workers] == [-signal.SIGTERM] * 2
    for log in logs:
        assert "Finished server process" in log and "Traceback" not in log, log


@pytest.mark.skipif(not POSTGRES_URL, reason="creates a role on the suite's PostgreSQL")
def test_the_database_role_serves_backs_up_and_restores(tmp_path: Path) -> None:
    """The runbook's role and database (under names of this test's own), then as that role:
    `init`, a server, and the backup and restore of the database."""
    assert POSTGRES_URL
    admin = make_url(POSTGRES_URL)
    suffix = f"{os.getpid()}_{int(time.time())}"
    role, database = f"packets_role_{suffix}", f"packets_db_{suffix}"
    (block,) = shell(section("Creating the database"))
    body = block.body.replace("ROLE packets ", f"ROLE {role} ")
    body = body.replace("DATABASE packets OWNER packets", f"DATABASE {database} OWNER {role}")
    assert role in body and database in body
    sudo = 'sudo() { [ "$1" = -u ] && shift 2; "$@"; }\n'  # the superuser: the suite's
    env = operator_env(
        PGHOST=admin.host or "127.0.0.1",
        PGPORT=str(admin.port or 5432),
        PGUSER=admin.username or "postgres",
        PGPASSWORD=admin.password or "",
        PGDATABASE="postgres",
    )
    try:
        ran(sudo + body, tmp_path, env)
        password = (tmp_path / "packets-db-password").read_text().strip()
        assert mode(tmp_path / "packets-db-password") == 0o600
        url = admin.set(username=role, password=password, database=database)
        url_text = url.render_as_string(hide_password=False)
        served_backed_up_and_restored(tmp_path, url_text)
    finally:
        for drop in (
            f"DROP DATABASE IF EXISTS {database} WITH (FORCE)",
            f"DROP ROLE IF EXISTS {role}",
        ):
            subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-c", drop], env=env, check=True)


def served_backed_up_and_restored(workdir: Path, url: str) -> None:
    init = ["init", "--data-dir", str(workdir / DATA), "--database-url", url]
    command = [sys.executable, "-m", "arkham_shard_packets.cli"]
    said = ran(shlex.join([*command, *init]), workdir, operator_env())
    assert said.startswith("a new installation: ")
    env = operator_env(ARKHAM_PACKETS_DATABASE_URL=url)
    with running(workdir / DATA, url) as served:
        packet = sealed_packet(served.base)
        found = httpx.get(f"{served.base}/api/packets/", params={"search": "kep"}).json()
        assert [p["id"] for p in found["items"]] == [packet["id"]]  # pg_trgm, as the role
        (backup,) = [b for b in shell(section("Backup")) if b.database == "postgresql"]
        ran(backup.body, workdir, env)
    drop = 'psql "$ARKHAM_PACKETS_DATABASE_URL" -v ON_ERROR_STOP=1 -c "DROP TABLE {} CASCADE"'
    ran(drop.format("arkham_packets"), workdir, env)  # a loss: the packets and what hangs off
    restore = shell(section("Restore, and checking it"))[2]
    ran(restore.body, workdir, env)
    with running(workdir / DATA, url) as served:
        still_sealed(served.base, packet)


def test_each_runbook_block_is_found() -> None:
    """The blocks this file runs are where it looks for them."""
    assert len(shell(section("Backup"))) == 2
    assert [
        bool(re.search(r"\bnot-run:", b.info)) for b in shell(section("Restore, and checking it"))
    ][:3] == [True] * 3
    assert len(shell(section("Creating the database"))) == 1
    assert len(ini_blocks()) == 3
