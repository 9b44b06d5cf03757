"""A disclosure bundle: some items of a sealed version, each with its proof against the seal.

As a BagIt bag (zip or tar.gz): the items' files under `data/items/<index>/` (`data.json`, the
item's data in canonical JSON, whose SHA-256 is its entry's `data_sha256`; `file/<name>`, its
attached file, whose SHA-256 is its `file_sha256`), the version's signed seal as the tag file
`packet-seal.json`, and `disclosure.json`:

    {"packet_id", "version", "items_count", "items_root",
     "items": [{"index", "salt", "entry", "audit_path"}, ...]}

As json: one document `{"disclosure": {…}, "files": {"<path>": "<base64>"}, "format":
"arkham-packet-disclosure/1", "seal": {…}}`. Nothing of the withheld items is carried but the
hashes in the audit paths (sealing/item_proofs.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ...core.bounds import NotJson, OutOfBounds, read_json
from ...sealing.disclosure import DisclosureCheck, check_disclosure
from ...sealing.key_trust import KeyTrust
from ...sealing.statement import Seal
from .document import dumps, safe_name
from .seal_file import parse_seal
from .writer import PayloadFile

DISCLOSURE_FILE = "disclosure.json"
JSON_FORMAT = "arkham-packet-disclosure/1"
JSON_HEAD = b'{"disclosure"'
CHUNK = 3 * 256 * 1024


def data_path(index: int) -> str:
    return f"data/items/{index}/data.json"


def file_path(index: int, name: str) -> str:
    return f"data/items/{index}/file/{safe_name(name)}"


def render_disclosure(disclosure: Mapping[str, Any]) -> bytes:
    return (dumps(disclosure) + "\n").encode("utf-8")


def looks_like_disclosure(head: bytes) -> bool:
    """A json bundle that is a disclosure, from its first bytes (as written here)."""
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(JSON_HEAD)


def write_disclosure_json(
    out: BinaryIO, disclosure: Mapping[str, Any], seal: Seal, files: Sequence[PayloadFile]
) -> None:
    """Keys sorted; each file's bytes as base64, written in chunks."""
    compact = json.dumps(disclosure, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    out.write(b'{"disclosure":' + compact.encode("utf-8") + b',"files":{')
    for number, entry in enumerate(sorted(files, key=lambda f: f.path)):
        out.write((b"," if number else b"") + json.dumps(entry.path).encode() + b':"')
        with open(entry.source, "rb") as handle:
            while chunk := handle.read(CHUNK):
                out.write(base64.b64encode(chunk))
        out.write(b'"')
    tail = json.dumps(seal.as_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    out.write(b'},"format":"' + JSON_FORMAT.encode() + b'","seal":' + tail.encode() + b"}\n")


@dataclass
class OpenedDisclosure:
    kind: str  # zip, tar.gz or json
    check: DisclosureCheck
    files: dict[str, str] = field(default_factory=dict)  # payload path -> SHA-256

    @property
    def problems(self) -> list[str]:
        return self.check.problems


def check_opened(
    kind: str,
    disclosure: Any,
    seal: Seal | None,
    files: dict[str, str],
    trust: KeyTrust,
    problems: Sequence[str] = (),
) -> OpenedDisclosure:
    """The proofs against the seal, then each disclosed item's files against its entry."""
    check = check_disclosure(disclosure, seal, trust)
    check.problems[:0] = problems
    opened = OpenedDisclosure(kind, check, files)
    claimed: set[str] = set()
    for item in check.items:
        index, entry = item["index"], item["entry"]
        wanted = [(data_path(index), entry.get("data_sha256"), "data")]
        folder = f"data/items/{index}/file/"
        in_folder = [path for path in files if path.startswith(folder)]
        if entry.get("file_sha256") is not None or in_folder:
            if len(in_folder) != 1:
                check.problems.append(f"item {index} must have exactly one file in {folder}")
                claimed.update(in_folder)
                continue
            wanted.append((in_folder[0], entry.get("file_sha256"), "file"))
        for path, digest, what in wanted:
            if digest is None and path not in files:
                continue
            claimed.add(path)
            if path not in files:
                check.problems.append(f"the {what} of item {index} is not in the bundle")
            elif files[path] != digest:
                check.problems.append(f"the {what} of item {index} does not match its entry")
    for path in sorted(set(files) - claimed):
        check.problems.append(f"{path} is not a file of a disclosed item")
    return opened


def read_bag_disclosure(
    root: Path, files: dict[str, str], trust: KeyTrust, kind: str, problems: list[str]
) -> OpenedDisclosure:
    """A bag whose fixity `problems` were found already, `files` its payload's digests."""
    disclosure: Any = None
    raw = (root / DISCLOSURE_FILE).read_bytes()
    try:
        disclosure = read_json(raw, max_bytes=len(raw) + 1)
    except (NotJson, OutOfBounds):
        problems.append(f"{DISCLOSURE_FILE} is not valid UTF-8 JSON")
    seal_path = root / "packet-seal.json"
    seal = parse_seal(seal_path.read_bytes(), problems) if seal_path.is_file() else None
    return check_opened(kind, disclosure, seal, files, trust, problems)


def read_json_disclosure(path: Path, trust: KeyTrust, max_bytes: int) -> OpenedDisclosure:
    problems: list[str] = []
    try:
        value = read_json(path.read_bytes(), max_bytes=max_bytes)
    except (NotJson, OutOfBounds):
        value = None
    if not isinstance(value, dict) or value.get("format") != JSON_FORMAT:
        problems.append(f"the json bundle is not a disclosure of format {JSON_FORMAT}")
        return check_opened("json", None, None, {}, trust, problems)
    files: dict[str, str] = {}
    inline = value.get("files")
    for name, text in inline.items() if isinstance(inline, dict) else ():
        try:
            files[name] = hashlib.sha256(base64.b64decode(text, validate=True)).hexdigest()
        except (binascii.Error, ValueError, TypeError):
            problems.append(f"the file {name} is not valid base64")
    seal = parse_seal(value.get("seal"), problems) if value.get("seal") is not None else None
    return check_opened("json", value.get("disclosure"), seal, files, trust, problems)
