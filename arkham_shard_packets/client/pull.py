"""`pull`: a packet exported by the server and downloaded as it streams, to a file beside the
one asked for until its SHA-256 is the one the server answered for it; and the keys the
server signs seals with, for a caller who trusts it."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .http import API, Failed, Server, segment
from .push import Progress

CHUNK = 1 << 20
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


class BrokenDownload(Failed):
    """The bytes downloaded are not those the server answered for."""


@dataclass(frozen=True)
class Pulled:
    path: Path
    export: dict[str, Any]  # the server's answer to the export: errors, warnings, sha256


def file_name(export: dict[str, Any], packet_id: str, export_format: str) -> str:
    """The name the server gave the export, when it is a plain file name."""
    name = PurePosixPath(str(export.get("file_path", ""))).name
    return name if PLAIN_NAME.fullmatch(name) else f"packet-{packet_id}.{export_format}"


def pull(
    server: Server, packet_id: str, export_format: str, output: Path | None, progress: Progress
) -> Pulled:
    """Exports the packet, then downloads the export to `output` (else the server's name for
    it, in the current folder)."""
    where = f"{API}/{segment(packet_id)}"
    export = server.call("POST", f"{where}/export", json={"format": export_format})
    target = output or Path(file_name(export, packet_id, export_format))
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with server.stream("GET", export["download_url"]) as answer, open(part, "wb") as file:
            size = answer.headers.get("content-length")
            progress.expect(int(size) if size and size.isdigit() else export["file_size_bytes"])
            for chunk in answer.iter_bytes(CHUNK):
                file.write(chunk)
                digest.update(chunk)
                progress(len(chunk))
        if digest.hexdigest() != export["sha256"]:
            raise BrokenDownload(
                f"the download's sha256 is {digest.hexdigest()}, the server answered for "
                f"{export['sha256']}: not kept"
            )
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return Pulled(target, export)


def server_keys(server: Server) -> tuple[list[str], list[str]]:
    """The fingerprints of the keys the server signs with, and its revocations as
    FINGERPRINT@TIME (as `verify --trust` and `--revoked` take them)."""
    keys = server.call("GET", f"{API}/keys")["keys"]
    trusted = [key["fingerprint"] for key in keys]
    revoked = [f"{key['fingerprint']}@{key['revoked_at']}" for key in keys if key["revoked_at"]]
    return trusted, revoked
