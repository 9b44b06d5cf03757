"""The `arkham-packets` command as a person at a terminal meets it: help with every default,
one-line errors, progress bars on a terminal only, and the banner `serve` prints."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from arkham_shard_packets.cli.banner import banner, without_password
from arkham_shard_packets.cli.main import build_parser, main
from arkham_shard_packets.cli.options import Help
from arkham_shard_packets.cli.progress import binary_size
from arkham_shard_packets.db.probe import shown_url
from arkham_shard_packets.host.app import HostConfig
from arkham_shard_packets.version import __version__

from .bundle_helpers import attach
from .conftest import add_item, make_packet
from .live_host import LiveHost, free_port


def parsers(parser: argparse.ArgumentParser, path: str = "") -> dict[str, argparse.ArgumentParser]:
    found = {path or "arkham-packets": parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found |= parsers(child, f"{path} {name}".strip())
    return found


def test_every_option_of_every_command_has_help_and_its_default() -> None:
    every = parsers(build_parser())
    assert {"serve", "db upgrade", "export", "import", "verify", "token"} <= set(every)
    missing = []
    for name, parser in every.items():
        assert parser.description, f"{name} has no description"
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            text = Help(name)._get_help_string(action) or ""
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not text:
                missing.append(f"{label}: no help")
            takes_value = action.option_strings and action.nargs != 0
            if takes_value and "default" not in text:
                missing.append(f"{label}: no default in its help")
    assert missing == []


def test_serve_help_names_the_defaults() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "arkham_shard_packets.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert shown.returncode == 0
    assert "the port to listen on (default: ARKHAM_PACKETS_PORT, else 8100)" in shown.stdout
    assert "ARKHAM_PACKETS_HOST, else 127.0.0.1)" in shown.stdout
    assert "default: ARKHAM_PACKETS_DATA_DIR, else ./arkham-packets-data" in shown.stdout
    assert "how much the server logs (default: info)" in shown.stdout


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["verify", "{missing}"], "no such file: {missing}"),
        (["verify", "{folder}"], "{folder} is a directory: give a bundle file"),
        (["import", "{missing}"], "no such file: {missing}"),
        (["import", "{folder}/"], "{folder}/ is a directory: give a bundle file"),
        (["export", "some-id", "-o", "{folder}"], "{folder} is a directory: give the name"),
    ],
)
def test_files_that_are_not_there_are_one_line(
    command: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = {"missing": str(tmp_path / "none.zip"), "folder": str(tmp_path)}
    args = [part.format(**names) for part in command]
    args += ["--data-dir", str(tmp_path / "data")] if command[0] != "verify" else []
    assert main(args) == 2
    printed = capsys.readouterr()
    lines = printed.err.splitlines()
    assert len(lines) == 1, printed.err
    assert lines[0].startswith(f"arkham-packets: error: {expected.format(**names)}")
    assert "Errno" not in printed.err
    assert printed.out == ""


def test_sizes_are_binary() -> None:
    assert binary_size(512) == "512 B"
    assert binary_size(38.1 * 2**20) == "38.1 MiB"
    assert binary_size(3 * 2**30) == "3.0 GiB"
    assert binary_size(1536) == "1.5 KiB"


def on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run the command with its stderr on a pseudo-terminal 100 columns wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    command = [sys.executable, "-m", "arkham_shard_packets.cli", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, text=True) as run:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process ended and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        printed = run.stdout.read() if run.stdout else ""
        status = run.wait(timeout=120)
    os.close(leader)
    return status, printed, shown.decode()


def last_bar(shown: str, label: str) -> str:
    bars = [line for line in re.split(r"[\r\n]", shown) if line.startswith(label)]
    assert bars, shown
    return bars[-1]


async def test_bars_have_a_total_percent_and_binary_units_on_a_terminal_only(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    data_dir = str(app.state.packets_shard.services.data_dir)
    packet = await make_packet(client, "Large scan")
    item = await add_item(client, packet["id"], "doc-1", data={"pages": 900})
    scan = os.urandom(3 * 2**20)  # does not compress: the bar counts 3 MiB
    assert (await attach(client, packet["id"], item["id"], scan)).status_code == 200
    await client.post(f"/api/packets/{packet['id']}/finalize")
    where = ["--database-url", database_url, "--data-dir", data_dir]
    trust = ["--trust", (await client.get("/api/packets/keys")).json()["keys"][0]["fingerprint"]]

    for kind in ("zip", "tar.gz", "json"):
        bundle = tmp_path / f"scan.{kind}"
        export = ["export", packet["id"], "--format", kind, "-o", str(bundle), *where]
        status, printed, shown = await asyncio.to_thread(on_a_terminal, *export)
        assert status == 0, shown
        bar = last_bar(shown, "export")
        assert re.search(r"export 100%\|.*\| 3\.0 MiB of 3\.0 MiB \[\d\d:\d\d<\d\d:\d\d, ", bar)

        status, printed, shown = await asyncio.to_thread(
            on_a_terminal, "verify", str(bundle), *trust
        )
        assert status == 0, shown
        assert re.search(
            r"verify 100%\|.*\| [34]\.\d MiB of [34]\.\d MiB", last_bar(shown, "verify")
        )

        elsewhere = ["--data-dir", str(tmp_path / f"elsewhere-{kind}")]
        elsewhere += ["--database-url", f"sqlite:///{tmp_path / f'elsewhere-{kind}.db'}"]
        assert await asyncio.to_thread(main, ["init", *elsewhere]) == 0
        status, printed, shown = await asyncio.to_thread(
            on_a_terminal, "import", str(bundle), *elsewhere
        )
        assert status == 0, shown
        assert "1 item imported (verified and sealed)" in printed
        assert re.search(
            r"import 100%\|.*\| [34]\.\d MiB of [34]\.\d MiB", last_bar(shown, "import")
        )
        assert "verify" not in shown

    piped = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "arkham_shard_packets.cli", "verify", str(tmp_path / "scan.zip")],
        capture_output=True,
        text=True,
    )
    assert piped.returncode == 3  # checks, but no key is trusted
    assert piped.stderr == ""  # no bar when stderr is not a terminal

    status, printed, shown = await asyncio.to_thread(
        on_a_terminal, "verify", str(tmp_path / "scan.zip"), "--quiet", *trust
    )
    assert status == 0
    assert "%" not in shown


def test_the_banner_hides_database_passwords() -> None:
    hidden = shown_url("postgresql://packets:s3cret%21@db.internal:5432/arkham")
    assert hidden == "postgresql://packets:***@db.internal:5432/arkham"
    query = shown_url("postgresql://db.internal/arkham?user=p&password=s3cret&sslmode=require")
    assert "s3cret" not in query
    assert "password=***" in query
    assert "sslmode=require" in query
    config = HostConfig(
        data_dir=Path("/srv/packets"), database_url="postgresql://u:hunter2@127.0.0.1/packets"
    )
    shown = banner(config, "127.0.0.1", 8100)
    assert "hunter2" not in shown
    assert "database  postgresql://u:***@127.0.0.1/packets" in shown
    assert "http://127.0.0.1:8100/docs" in shown
    assert "data      /srv/packets" in shown
    assert "[::1]:8100" in banner(config, "::1", 8100)
    assert "public" not in shown
    public = HostConfig(data_dir=Path("/srv"), public_base_url="https://evidence.example.org")
    assert "  public    https://evidence.example.org " in banner(public, "127.0.0.1", 8100)
    endpoint = without_password("https://ana:hunter2@minio.internal:9000/?password=x")
    assert "hunter2" not in endpoint and "password=***" in endpoint


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////srv/packets data/packets.db",
        "sqlite:////srv/100%25/packets.db",
        "postgresql://packets:s3cret%21@db.internal:5432/arkham",
        "postgresql://packets@/arkham?host=/var/run/postgresql",
        "postgresql://packets:pw@[::1]:5432/arkham?options=-c%20search_path%3Devidence",
        "postgresql://db.internal/arkham?user=p&password=s3cret&sslmode=require",
    ],
)
def test_the_banner_s_database_url_can_be_pasted_back(url: str) -> None:
    """Read back as a database URL, what the banner shows is the one given, its passwords ***."""
    shown = shown_url(url)
    assert "s3cret" not in shown and ":pw@" not in shown
    given, read = make_url(url), make_url(shown)
    if given.password is not None:
        assert read.password == "***"
        given = given.set(password="***")
    if "password" in given.query:
        assert read.query["password"] == "***"
        given = given.update_query_dict({"password": "***"})
    assert read == given
    assert read.database == given.database  # sqlite:////srv/… stays an absolute path


def test_serve_prints_where_everything_is(live_host: LiveHost, tmp_path: Path) -> None:
    live_host.stop()
    lines = live_host.output.splitlines()
    base = live_host.base
    assert lines[0].endswith(f": the packets API at {base}/api/packets"), live_host.output
    assert f"  docs      {base}/docs (ReDoc: {base}/redoc)" in lines
    data_line = next(line for line in lines if line.startswith("  data      "))
    assert Path(data_line.split(None, 1)[1]).is_dir()
    database_line = next(line for line in lines if line.startswith("  database  "))
    shown = database_line.split(None, 1)[1]
    assert shown == shown_url(live_host.database_url)
    # pasted back (the suite's databases have no password), it names the same database
    pasted = ["db", "upgrade", "--database-url", shown, "--data-dir", str(tmp_path / "none")]
    assert main(pasted) == 0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"arkham-packets {__version__}\n"


def test_serve_listens_on_the_port_of_the_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKHAM_PACKETS_")}
    env |= {"ARKHAM_PACKETS_PORT": str(port), "ARKHAM_PACKETS_HOST": "127.0.0.1"}
    env["ARKHAM_PACKETS_DATA_DIR"] = str(tmp_path / "data")
    command = [sys.executable, "-m", "arkham_shard_packets.cli", "serve"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            first = server.stdout.readline()
            assert first.endswith(f"the packets API at http://127.0.0.1:{port}/api/packets\n")
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = httpx.get(f"http://127.0.0.1:{port}/api/packets/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and server.poll() is None
                    time.sleep(0.1)
            assert health.status_code == 200
        finally:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=30)


def into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """The command with its standard output a pipe nobody reads any more."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [sys.executable, "-m", "arkham_shard_packets.cli", *args],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)


async def test_a_closed_pipe_ends_quietly_with_the_command_s_own_status(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    packet = await make_packet(client, "Piped")
    await add_item(client, packet["id"], "doc-1")
    await client.post(f"/api/packets/{packet['id']}/finalize")
    exported = await client.post(f"/api/packets/{packet['id']}/export", json={"format": "zip"})
    bundle = tmp_path / "ok.zip"
    bundle.write_bytes((await client.get(exported.json()["download_url"])).content)
    key = (await client.get("/api/packets/keys")).json()["keys"][0]["fingerprint"]
    where = ["--database-url", database_url]
    where += ["--data-dir", str(app.state.packets_shard.services.data_dir)]

    for args, status in [
        (["verify", str(bundle), "--trust", key], 0),
        (["verify", str(bundle)], 3),  # it checks, but no key is trusted
        (["keys", "list", *where], 0),
        (["--help"], 0),
        (["--version"], 0),
    ]:
        ran = await asyncio.to_thread(into_a_closed_pipe, *args)
        assert (ran.returncode, ran.stderr) == (status, ""), args

    verify = [sys.executable, "-m", "arkham_shard_packets.cli", "verify", str(bundle)]
    piped = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", 'set -o pipefail; "$@" | grep -q OK', "bash", *verify, "--trust", key],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (piped.returncode, piped.stderr) == (0, "")
