"""`push`: a folder as a draft packet, one `document` item per file (its `data` the file's
path, so a bundle carries it), each file streamed to its item. Re-runnable: the packet is
found again (by `--packet ID`, else as the only draft of that exact name) and a file its item
already holds (same size and SHA-256) is not sent again."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .folder import LocalFile, Sending, folder_files, sha256_of
from .http import API, Failed, Server, segment

PAGE = 500  # the most packets one listing request answers
CONTENT_TYPE = "document"


class Progress(Protocol):
    """What push and pull report to: the bytes they will move, then each chunk moved."""

    def expect(self, total: int) -> None: ...

    def __call__(self, done: int) -> None: ...


class Watcher(Progress, Protocol):
    """What push tells as soon as it happens: the packet it found or made, each file sent."""

    def found(self, packet: dict[str, Any], how: str) -> None: ...

    def sent(self, file: LocalFile) -> None: ...


class NotKept(Failed):
    """The server kept other bytes than those sent."""


class Ambiguous(Exception):
    """Several drafts have the name: which one to push to is for the caller to say."""


@dataclass
class Pushed:
    packet: dict[str, Any]
    found: str  # how: "created", "found by name", "given"
    sent: list[LocalFile] = field(default_factory=list)
    skipped: int = 0  # files whose item holds them already
    elsewhere: int = 0  # the packet's items that no file of the folder names
    left_out: list[str] = field(default_factory=list)  # links and special files, with why

    @property
    def sent_bytes(self) -> int:
        return sum(file.size for file in self.sent)


def drafts_named(server: Server, name: str) -> list[dict[str, Any]]:
    """The caller's draft packets whose name is exactly `name`, oldest first."""
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = server.call(
            "GET",
            f"{API}/",
            params={
                "status": "draft",
                "search": name,
                "limit": PAGE,
                "offset": offset,
                "sort": "created_at",
                "order": "asc",
            },
        )
        found += [packet for packet in page["items"] if packet["name"] == name]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return found


def target(server: Server, packet_id: str | None, name: str) -> tuple[dict[str, Any], str]:
    """The packet to push to, and how it was found."""
    if packet_id is not None:
        return server.call("GET", f"{API}/{segment(packet_id)}"), "given"
    drafts = drafts_named(server, name)
    if len(drafts) > 1:
        ids = ", ".join(packet["id"] for packet in drafts)
        raise Ambiguous(f"{len(drafts)} draft packets are named {name!r} ({ids}): give --packet ID")
    if drafts:
        return drafts[0], "found by name"
    return server.call("POST", f"{API}/", json={"name": name}), "created"


def needs_sending(file: LocalFile, item: dict[str, Any] | None) -> bool:
    held = None if item is None else item.get("file")
    if held is None or held["size"] != file.size:
        return True
    return bool(held["sha256"] != sha256_of(file.path))


def push(
    server: Server,
    folder: Path,
    packet_id: str | None,
    name: str,
    watcher: Watcher,
) -> Pushed:
    """Sends what the packet doesn't hold yet, saying which packet before any file is sent,
    and each file once the server holds it."""
    files, left_out = folder_files(folder)
    packet, found = target(server, packet_id, name)
    watcher.found(packet, found)
    where = f"{API}/{segment(packet['id'])}"
    items = {
        item["content_id"]: item
        for item in server.call("GET", f"{where}/contents")
        if item["content_type"] == CONTENT_TYPE
    }
    result = Pushed(packet, found, left_out=left_out)
    result.elsewhere = len(items.keys() - {file.content_id for file in files})
    to_send = [
        (order, file)
        for order, file in enumerate(files)
        if needs_sending(file, items.get(file.content_id))
    ]
    result.skipped = len(files) - len(to_send)
    watcher.expect(sum(file.size for _, file in to_send))
    for order, file in to_send:
        item = items.get(file.content_id) or server.call(
            "POST",
            f"{where}/contents",
            json={
                "content_type": CONTENT_TYPE,
                "content_id": file.content_id,
                "content_title": file.title,
                "order": order,
                "data": {"path": file.relative},
            },
        )
        send(server, f"{where}/contents/{segment(item['id'])}/file", file, watcher)
        result.sent.append(file)
        watcher.sent(file)
    return result


def send(server: Server, path: str, file: LocalFile, progress: Progress) -> None:
    """One file to its item, checked: the server must have kept exactly the bytes sent."""
    with Sending(file.path, progress) as reader:
        item = server.send_file(path, file.path.name, reader, file.media_type)
        reader.check_whole(file.relative)
    kept, sent = (item.get("file") or {}).get("sha256"), reader.digest.hexdigest()
    if kept != sent:
        raise NotKept(f"{file.relative}: the server kept sha256 {kept}, {sent} was sent")
