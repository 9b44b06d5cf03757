"""The client commands (`push`, `pull`, `ls`, `show`, `finalize`, `share`) against a live
server guarded by a bearer token, on the suite's database: what they send and answer, that a
second push sends nothing, that a pull is verified, and that every failure is one line with
its exit status."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import io
import json
import os
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from arkham_shard_packets.cli.main import main
from arkham_shard_packets.client.folder import Changed, Sending
from arkham_shard_packets.db.engine import create_engine

from .conftest import POSTGRES_URL, reset_postgres
from .live_host import LiveHost, free_port, running
from .test_cli import last_bar, on_a_terminal

TOKEN = "client-test-token"
MAX_FILE_BYTES = 2**20
API = "/api/packets"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHost]:
    """One server for the module (each test makes packets of its own), behind a token, taking
    files up to 1 MiB."""
    where = tmp_path_factory.mktemp("client")
    url = POSTGRES_URL or f"sqlite:///{where / 'packets.db'}"
    if POSTGRES_URL:
        asyncio.run(reset_postgres(url))
    settings = {
        "ARKHAM_PACKETS_API_TOKEN": TOKEN,
        "ARKHAM_PACKETS_MAX_FILE_BYTES": str(MAX_FILE_BYTES),
    }
    with running(where / "data", url, settings) as host:
        yield host


@pytest.fixture
def api(server: LiveHost, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """The server, for the commands (through the environment) and for the test's own calls."""
    monkeypatch.setenv("ARKHAM_PACKETS_SERVER", server.base)
    monkeypatch.setenv("ARKHAM_PACKETS_TOKEN", TOKEN)
    with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield http


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    printed = capsys.readouterr()
    return status, printed.out, printed.err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("arkham-packets: error: "), err
    return lines[0]


def evidence(root: Path) -> Path:
    """A folder with files at three depths, an empty one and a symbolic link."""
    (root / "letters" / "2023").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "manifest.txt").write_text("MV Aurora, 12 containers\n")
    (root / "letters" / "to the port.md").write_text("Dear harbour master,\n")
    (root / "letters" / "2023" / "scan.bin").write_bytes(os.urandom(300 * 1024))
    (root / "shortcut.txt").symlink_to(root / "manifest.txt")
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pushed_id(out: str) -> str:
    return out.split()[1]  # "packet <id> '<name>' (created)"


def custody_length(api: httpx.Client, pid: str) -> int:
    length: int = api.get(f"{API}/{pid}/custody").json()["length"]
    return length


def test_push_sends_a_folder_then_only_what_changed(
    api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = evidence(tmp_path / "harbor-leak")
    status, out, err = run(capsys, "push", str(folder))
    assert status == 0, err
    pid = pushed_id(out)
    assert out.startswith(f"packet {pid} 'harbor-leak' (created)\n")
    assert "3 files sent (300.0 KiB), 0 already there" in out
    assert err == "warning: left out shortcut.txt: a symbolic link, not followed\n"
    items = api.get(f"{API}/{pid}/contents").json()
    paths = ["letters/2023/scan.bin", "letters/to the port.md", "manifest.txt"]
    assert [item["content_id"] for item in items] == paths
    assert [item["content_title"] for item in items] == paths
    assert [item["data"] for item in items] == [{"path": path} for path in paths]
    assert [item["file"]["sha256"] for item in items] == [sha256(folder / p) for p in paths]
    assert items[1]["file"]["name"] == "to the port.md"
    assert items[1]["file"]["media_type"] == "text/markdown"
    before = api.get(f"{API}/{pid}").json(), custody_length(api, pid)

    status, out, _ = run(capsys, "push", str(folder))
    assert status == 0
    assert (
        out == f"packet {pid} 'harbor-leak' (found by name)\n0 files sent (0 B), 3 already there\n"
    )
    assert (api.get(f"{API}/{pid}").json(), custody_length(api, pid)) == before  # nothing sent

    (folder / "manifest.txt").write_text("MV Aurora, 13 containers\n")
    (folder / "letters" / "reply.txt").write_text("No.\n")
    status, out, _ = run(capsys, "push", str(folder))
    assert status == 0
    assert "  sent letters/reply.txt (4 B)\n  sent manifest.txt (25 B)\n" in out
    assert "2 files sent (29 B), 2 already there" in out
    items = {item["content_id"]: item for item in api.get(f"{API}/{pid}/contents").json()}
    assert len(items) == 4
    assert items["manifest.txt"]["file"]["sha256"] == sha256(folder / "manifest.txt")


def test_push_finds_its_packet_by_id_or_by_one_name(
    api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "desk"
    folder.mkdir()
    (folder / "note.txt").write_text("one\n")
    status, out, _ = run(capsys, "push", str(folder), "--name", "Customs file")
    pid = pushed_id(out)
    assert status == 0 and "'Customs file' (created)" in out
    (folder / "more.txt").write_text("two\n")
    status, out, _ = run(capsys, "push", str(folder), "--packet", pid)
    assert status == 0
    assert out.startswith(f"packet {pid} 'Customs file' (given)\n")
    assert "1 file sent (4 B), 1 already there" in out

    other = api.post(f"{API}/", json={"name": "Customs file"}).json()["id"]
    status, out, err = run(capsys, "push", str(folder), "--name", "Customs file")
    assert status == 2
    assert one_line(err) == (
        f"arkham-packets: error: 2 draft packets are named 'Customs file' ({pid}, {other}): "
        "give --packet ID"
    )
    api.post(f"{API}/{pid}/finalize")
    status, out, _ = run(capsys, "push", str(folder), "--name", "Customs file")
    assert status == 0 and out.startswith(f"packet {other} 'Customs file' (found by name)")

    status, out, _ = run(capsys, "push", str(folder), "--packet", pid)  # finalized now
    assert status == 0 and "0 files sent (0 B), 2 already there" in out  # nothing to change
    (folder / "late.txt").write_text("three\n")
    status, _, err = run(capsys, "push", str(folder), "--packet", pid)
    assert status == 1
    assert one_line(err) == (
        f"arkham-packets: error: the server refused (409): packet {pid} is finalized; only a "
        "draft can be changed"
    )


def test_ls_show_finalize_share_pull(
    api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = evidence(tmp_path / "Ledger 7")
    status, out, _ = run(capsys, "push", str(folder), "--quiet")
    pid = pushed_id(out)

    status, out, _ = run(capsys, "ls", "--search", "Ledger 7")
    assert status == 0
    assert out.startswith(f"{pid}  draft      v1       3 items  300.1 KiB  Ledger 7\n")
    api.post(f"{API}/", json={"name": "Spare"})
    status, out, err = run(capsys, "ls", "--limit", "1")
    total = api.get(f"{API}/count").json()["count"]
    assert (len(out.splitlines()), err) == (1, f"1 of {total}: --offset 1 for more\n")
    status, out, _ = run(capsys, "ls", "--search", "Ledger 7", "--json")
    assert [packet["id"] for packet in json.loads(out)["items"]] == [pid]
    status, out, _ = run(capsys, "show", pid)
    assert status == 0
    assert f"packet {pid} 'Ledger 7'\n  draft, version 1, private\n  3 items, 300.1 KiB" in out
    assert "  - document manifest.txt: 'manifest.txt'; manifest.txt, text/plain, 25 B" in out
    shown = json.loads(run(capsys, "show", pid, "--json")[1])
    assert len(shown["contents"]) == 3 and shown["packet"]["status"] == "draft"
    added = {"content_type": "claim", "content_id": "c\x1b[2J", "content_title": "t\x1b[2J"}
    assert api.post(f"{API}/{pid}/contents", json=added).status_code == 201
    out = run(capsys, "show", pid)[1]
    assert "\x1b" not in out  # a terminal's escape sequence is shown, not played
    assert "  - claim 'c\\x1b[2J': 't\\x1b[2J'; no file\n" in out

    status, out, _ = run(capsys, "finalize", pid)
    checksum = api.get(f"{API}/{pid}").json()["checksum"]
    assert (status, out) == (0, f"packet {pid} finalized: version 2, checksum {checksum}\n")
    assert api.get(f"{API}/{pid}/verify").json()["valid"] is True
    status, _, err = run(capsys, "finalize", pid)
    assert status == 1
    assert one_line(err) == (
        f"arkham-packets: error: the server refused (409): packet {pid} is finalized; only a "
        "draft can be finalized"
    )

    share = ["share", pid, "--with", "Ana@Example.org", "--permissions", "comment"]
    share += ["--expires", "2099-12-31T18:00:00Z", "--password-stdin", "--json"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
        status, out, _ = run(capsys, *share)
    assert status == 0
    made = json.loads(out)
    assert made["share_url"].startswith(f"{api.base_url}{API}/shared/")
    assert (made["shared_with"], made["permissions"]) == ("ana@example.org", "comment")
    opened = httpx.get(
        f"{api.base_url}{API}/shared/{made['access_token']}",
        headers={"X-Share-Password": "correct horse battery"},
    )
    assert opened.status_code == 200 and opened.json()["share"]["permissions"] == "comment"
    status, _, err = run(capsys, "share", pid, "--expires", "2001-01-01T00:00:00Z")
    assert status == 1 and "(422)" in one_line(err) and "expires_at" in err

    bundle = tmp_path / "ledger.zip"
    status, out, err = run(capsys, "pull", pid, "-o", str(bundle), "--trust-server")
    assert status == 0, out + err
    assert f"{bundle}: OK (BagIt bag in zip) packet {pid} 'Ledger 7'" in out
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() in out
    with zipfile.ZipFile(bundle) as bag:
        scans = [name for name in bag.namelist() if name.endswith("scan.bin")]
        assert [bag.read(name) for name in scans] == [
            (folder / "letters/2023/scan.bin").read_bytes()
        ]
    status, out, _ = run(
        capsys, "pull", pid, "-o", str(tmp_path / "l.tar.gz"), "--format", "tar.gz"
    )
    assert status == 3 and out.rstrip().endswith("pass --trust or set ARKHAM_PACKETS_TRUSTED_KEYS)")
    key = api.get(f"{API}/keys").json()["keys"][0]["fingerprint"]
    status, out, _ = run(
        capsys, "pull", pid, "-o", str(tmp_path / "l.json"), "--format", "json", "--trust", key
    )
    assert status == 0 and "OK (json bundle)" in out


async def test_a_pull_of_a_packet_tampered_behind_the_server_is_invalid(
    api: httpx.Client, server: LiveHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = evidence(tmp_path / "tampered")
    pid = pushed_id(run(capsys, "push", str(folder), "--quiet")[1])
    assert run(capsys, "finalize", pid)[0] == 0
    engine = create_engine(server.database_url)
    try:
        async with engine.begin() as conn:
            changed = await conn.execute(
                text(
                    'UPDATE arkham_packet_custody SET entry = REPLACE(entry, \'"at":"2\', '
                    '\'"at":"1\') WHERE packet_id = :p AND position = 2'
                ),
                {"p": pid},
            )
            assert changed.rowcount == 1
    finally:
        await engine.dispose()
    bundle = tmp_path / "tampered.zip"
    status, out, _ = await asyncio.to_thread(
        run, capsys, "pull", pid, "-o", str(bundle), "--trust-server"
    )
    assert status == 1
    assert "the chain is BROKEN" in out
    assert out.rstrip().splitlines()[-1].startswith(f"{bundle}: INVALID")


class Tampering(http.server.BaseHTTPRequestHandler):
    """A proxy to the server that changes one byte of every export it hands on."""

    upstream = ""

    def forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
        }
        answer = httpx.request(
            self.command,
            self.upstream + self.path,
            headers=headers,
            content=self.rfile.read(length),
        )
        body = bytearray(answer.content)
        if "/exports/" in self.path and body:
            body[len(body) // 2] ^= 1
        self.answer(answer.status_code, answer.headers, bytes(body))

    def answer(self, status: int, headers: Any, body: bytes) -> None:
        self.send_response(status)
        for name in ("content-type", "www-authenticate", "location"):
            if name in headers:
                self.send_header(name, headers[name])
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def changed_upload(self) -> None:
        """An upload with one byte of its file changed on the way."""
        body = bytearray(self.rfile.read(int(self.headers["content-length"])))
        body[len(body) // 2] ^= 1
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        answer = httpx.put(self.upstream + self.path, headers=headers, content=bytes(body))
        self.answer(answer.status_code, answer.headers, answer.content)

    do_GET = do_POST = forward
    do_PUT = changed_upload

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def proxy(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A server on a port of its own, answering with `handler`: its address."""
    served = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{served.server_address[1]}"
    finally:
        served.shutdown()
        served.server_close()


def test_a_download_changed_on_the_way_is_not_kept(
    api: httpx.Client, server: LiveHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = evidence(tmp_path / "in transit")
    pid = pushed_id(run(capsys, "push", str(folder), "--quiet")[1])
    Tampering.upstream = server.base
    bundle = tmp_path / "changed.zip"
    with proxy(Tampering) as via:
        status, _, err = run(capsys, "pull", pid, "-o", str(bundle), "--server", via)
    assert status == 1
    assert "the download's sha256 is " in one_line(err) and err.rstrip().endswith(": not kept")
    assert list(tmp_path.glob("changed.zip*")) == []


def test_an_upload_changed_on_the_way_is_one_line(
    api: httpx.Client, server: LiveHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "upload in transit"
    folder.mkdir()
    scan = folder / "scan.bin"
    scan.write_bytes(os.urandom(200 * 1024))
    Tampering.upstream = server.base
    with proxy(Tampering) as via:
        status, out, err = run(capsys, "push", str(folder), "--server", via)
    assert status == 1
    [item] = api.get(f"{API}/{pushed_id(out)}/contents").json()
    kept = item["file"]["sha256"]
    assert kept != sha256(scan)
    assert one_line(err) == (
        f"arkham-packets: error: scan.bin: the server kept sha256 {kept}, {sha256(scan)} was sent"
    )


class Moved(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/moved"):
            self.send_response(301)
            self.send_header("location", "https://evidence.example.org/api/packets/")
            body = b""
        else:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_what_is_not_the_api_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with proxy(Moved) as elsewhere:
        status, _, err = run(capsys, "ls", "--server", f"{elsewhere}/moved")
        assert status == 1
        assert one_line(err) == (
            "arkham-packets: error: the server refused (301): moved to "
            "https://evidence.example.org/api/packets/: give that as --server"
        )
        status, _, err = run(capsys, "ls", "--server", elsewhere)
        assert status == 1
        assert one_line(err) == (
            "arkham-packets: error: the server refused (200): not an answer of the packets "
            "API: <html><body>Welcome to nginx!</body></html>"
        )


def test_a_path_too_long_for_a_content_id_ends_with_its_digest(
    api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "deep"
    deep = folder / ("d" * 200) / ("e" * 100)
    deep.mkdir(parents=True)
    (deep / "note.txt").write_text("deep\n")
    path = f"{'d' * 200}/{'e' * 100}/note.txt"
    status, out, _ = run(capsys, "push", str(folder))
    assert status == 0
    [item] = api.get(f"{API}/{pushed_id(out)}/contents").json()
    digest = hashlib.sha256(path.encode()).hexdigest()[:16]
    assert item["content_id"] == f"{path[:238]}~{digest}"
    assert (item["content_title"], item["data"]) == (path, {"path": path})
    assert "0 files sent (0 B), 1 already there" in run(capsys, "push", str(folder))[1]


def test_a_file_that_changes_while_it_is_sent_is_caught(tmp_path: Path) -> None:
    growing = tmp_path / "log.txt"
    growing.write_bytes(b"x" * 1000)
    with Sending(growing, lambda done: None) as reader:
        assert reader.seek(0, os.SEEK_END) == 1000 and reader.seek(0) == 0
        assert reader.read(600) + reader.read(600) == b"x" * 1000  # no more than declared
        with open(growing, "ab") as appending:
            appending.write(b"more")
        with pytest.raises(Changed, match=r"log\.txt changed while it was sent"):
            reader.check_whole("log.txt")


def test_a_wrong_or_missing_token_is_one_line(
    api: httpx.Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    said = "arkham-packets: error: the server refused (401): missing or wrong bearer token"
    folder = evidence(tmp_path / "no entry")
    before = api.get(f"{API}/count").json()["count"]
    status, _, err = run(capsys, "push", str(folder), "--token", "guess")
    assert (status, one_line(err)) == (1, said)
    monkeypatch.delenv("ARKHAM_PACKETS_TOKEN")
    for command in (["ls"], ["show", "x"], ["finalize", "x"], ["share", "x"], ["pull", "x"]):
        status, out, err = run(capsys, *command)
        assert (status, out, one_line(err)) == (1, "", said), command
    assert api.get(f"{API}/count").json()["count"] == before


def test_an_unreachable_server_is_one_line_and_status_2(
    api: httpx.Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    folder = evidence(tmp_path / "offline")
    for command in (["push", str(folder)], ["pull", "x"], ["ls"], ["show", "x"]):
        status, out, err = run(capsys, *command, "--server", nobody)
        assert status == 2 and out == ""
        assert one_line(err).startswith(f"arkham-packets: error: can't reach {nobody}: ")
    status, _, err = run(capsys, "ls", "--server", "localhost:8100")
    assert status == 2 and "give an http or https URL" in one_line(err)
    monkeypatch.setenv("ARKHAM_PACKETS_SERVER", nobody)  # the flag wins over the environment
    assert run(capsys, "ls", "--server", str(api.base_url))[0] == 0


def test_a_file_over_the_server_s_limit_is_one_line(
    api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "too big"
    folder.mkdir()
    (folder / "small.txt").write_text("fits\n")
    (folder / "video.bin").write_bytes(os.urandom(16 * MAX_FILE_BYTES))
    status, out, err = run(capsys, "push", str(folder))
    assert status == 1
    line = one_line(err)
    assert "413" in line or "ARKHAM_PACKETS_MAX_FILE_BYTES" in line, line
    assert "small.txt" not in err
    pid = pushed_id(out)
    items = api.get(f"{API}/{pid}/contents").json()
    assert [(item["content_id"], item["file"] is None) for item in items] == [
        ("small.txt", False),
        ("video.bin", True),
    ]


def test_push_shows_a_bar_on_a_terminal(api: httpx.Client, tmp_path: Path) -> None:
    folder = evidence(tmp_path / "bar")
    status, printed, shown = on_a_terminal("push", str(folder))
    assert status == 0, shown
    assert "3 files sent (300.0 KiB)" in printed
    assert "push 100%|" in last_bar(shown, "push") and "300.0 KiB of 300.0 KiB" in shown
