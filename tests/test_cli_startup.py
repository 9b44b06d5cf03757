"""What the commands that need no server load to start: `init`, `keys list`, `export` and
`verify` run without FastAPI, Starlette, uvicorn or httpx, which only `serve` and the commands
that call a server (`push`, `pull`, ...) use."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi import FastAPI

from arkham_shard_packets.cli.main import COMMANDS, build_parser

from .bundle_helpers import packet_with_files

WEB = {"fastapi", "starlette", "uvicorn", "httpx"}
# The command as `arkham-packets` runs it, then the web modules it loaded, on a line of its own.
RUN_THEN_SHOW_WEB = (
    "import sys\n"
    "from arkham_shard_packets.cli.main import main\n"
    "status = main(sys.argv[1:])\n"
    f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(WEB)!r}))\n"
    "sys.exit(status)\n"
)


async def web_loaded(*args: str) -> tuple[int, str]:
    """The command's exit status, and the web modules it loaded (as Python prints a list)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", RUN_THEN_SHOW_WEB, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert lines, done.stderr
    return done.returncode, lines[-1]


async def test_init_and_keys_list_load_nothing_of_the_web(tmp_path: Path) -> None:
    where = ("--data-dir", str(tmp_path / "data"))
    assert await web_loaded("init", *where) == (0, "[]")
    assert await web_loaded("keys", "list", *where) == (0, "[]")


async def test_export_and_verify_load_nothing_of_the_web(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    data_dir = Path(app.state.packets_shard.services.data_dir)
    packet = await packet_with_files(client)
    await client.post(f"/api/packets/{packet['id']}/finalize")
    bundle = tmp_path / "harbor.zip"
    where = ("--database-url", database_url, "--data-dir", str(data_dir))
    exported = await web_loaded("export", packet["id"], "-o", str(bundle), "--quiet", *where)
    assert exported == (0, "[]")
    key = (await client.get("/api/packets/keys")).json()["keys"][0]["fingerprint"]
    assert await web_loaded("verify", str(bundle), "--trust", key, "--quiet") == (0, "[]")


def commands_of(parser: argparse.ArgumentParser) -> list[str]:
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(commands.choices)


def test_a_command_run_alone_is_added_by_the_module_listed_with_it() -> None:
    """A command parses as it does among all the others: its module adds it, and only the
    commands listed with it."""
    assert commands_of(build_parser()) == [name for names, _ in COMMANDS for name in names]
    for names, _ in COMMANDS:
        for name in names:
            assert commands_of(build_parser(name)) == list(names)
    assert commands_of(build_parser("--version")) == []
