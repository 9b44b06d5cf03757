"""Crafted bundles that an import must refuse, written to files: the benchmark's refusals
section times them and the tests refuse them."""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path

BAGIT_TXT = "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"


def central_directory_bomb(records: int, declared: int, method: int = 0) -> bytes:
    """A zip of `records` empty entries whose end record declares only `declared`."""
    directory = bytearray()
    for number in range(records):
        name = f"bag/{number}".encode()
        directory += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, 0, 0, 0,
            len(name), 0, 0, 0, 0, 0, 0,
        )  # fmt: skip
        directory += name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, declared, declared, len(directory), 0, 0)
    name = b"bag/0"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, 0, 0, 0, len(name), 0)
    return local + name + bytes(directory) + end


def expansion_bomb(path: Path, expanded: int, declared: int = 1) -> None:
    """A BagIt zip whose one payload file deflates `expanded` zero bytes to a few KiB, while
    its bag-info's Payload-Oxum declares `declared` bytes."""
    zeros = b"\0" * (1024 * 1024)
    digest = hashlib.sha256()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("bag/data/files/zeros.bin", "w", force_zip64=True) as member:
            left = expanded
            while left > 0:
                chunk = zeros[: min(left, len(zeros))]
                member.write(chunk)
                digest.update(chunk)
                left -= len(chunk)
        archive.writestr("bag/bagit.txt", BAGIT_TXT)
        archive.writestr("bag/bag-info.txt", f"Payload-Oxum: {declared}.1\n")
        manifest = f"{digest.hexdigest()}  data/files/zeros.bin\n"
        archive.writestr("bag/manifest-sha256.txt", manifest)


def many_items_bundle(path: Path, items: int) -> None:
    """A json bundle of a draft packet with `items` document items (over the item limit)."""
    contents = [
        {
            "id": f"00000000-0000-4000-8000-{number:012d}",
            "content_type": "document",
            "content_id": f"doc-{number}",
            "content_title": f"Document {number}",
            "order": number,
            "added_at": "2026-01-01T00:00:00+00:00",
            "added_by": "someone",
            "data": {"text": "x" * 200},
        }
        for number in range(items)
    ]
    document = {
        "format": "arkham-packet",
        "format_version": 1,
        "packet": {
            "id": "00000000-0000-4000-8000-000000000000",
            "name": "Too many items",
            "status": "draft",
            "created_by": "someone",
            "created_at": "2026-01-01T00:00:00+00:00",
            "version": 1,
        },
        "contents": contents,
    }
    path.write_text(json.dumps(document))


def absolute_tag_path_bundle(path: Path, target: str) -> None:
    """A BagIt zip whose tag manifest names a file outside the bag by its absolute path."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bag/bagit.txt", BAGIT_TXT)
        archive.writestr("bag/manifest-sha256.txt", "")
        archive.writestr("bag/tagmanifest-sha256.txt", f"{'0' * 64}  {target}\n")
