"""Writing a bundle: a BagIt bag inside a zip or tar.gz, or the single json document.

Every payload file is on disk before writing starts (packet.json and the item files are
rendered to a staging folder, attachments come from the file store), so writing reads each
source once, in chunks, hashing as it copies: memory stays flat however large the packet.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from .archives import SAMPLE, Archive, HashingReader, compresses, open_archive
from .bag import BAGIT_TXT, bag_info, manifest, payload_oxum
from .document import BundleDocument
from .progress import Progress

BASE64_CHUNK = 3 * 256 * 1024


class SourceChanged(Exception):
    """A payload source no longer has the size or digest it was planned with."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} does not match its recorded size or SHA-256")
        self.path = path


@dataclass(frozen=True)
class PayloadFile:
    path: str  # inside the bag, "data/..."
    source: Path
    size: int
    sha256: str | None = None  # when known (a stored file), checked while copying
    text: bool = False  # rendered JSON: always deflated


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def read(self, size: int = -1, /) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk = self.data[self.offset : end]
        self.offset += len(chunk)
        return chunk


def _sample(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(SAMPLE)


def write_bag(
    out: BinaryIO,
    kind: str,
    root: str,
    payload: Sequence[PayloadFile],
    info: Sequence[tuple[str, str]],
    moment: datetime,
    progress: Progress | None = None,
    tags: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Entries in sorted order: bag-info.txt, bagit.txt, data/..., manifests, tag manifest;
    `tags` (more tag files at the bag's root, listed in the tag manifest) where they sort."""
    files = sorted(payload, key=lambda entry: entry.path)
    info_bytes = bag_info(
        [*info, ("Payload-Oxum", payload_oxum(sum(f.size for f in files), len(files)))]
    )
    if progress is not None:
        progress.expect(sum(f.size for f in files))
    archive = open_archive(kind, out, root, moment)
    try:
        _write_entries(archive, files, info_bytes, progress, dict(tags))
    except BaseException:
        with contextlib.suppress(Exception):  # the caller discards the partial file
            archive.close()
        raise
    archive.close()


def _write_entries(
    archive: Archive,
    files: list[PayloadFile],
    info_bytes: bytes,
    progress: Progress | None,
    extra: dict[str, bytes],
) -> None:
    archive.add("bag-info.txt", len(info_bytes), _Bytes(info_bytes), True)
    archive.add("bagit.txt", len(BAGIT_TXT), _Bytes(BAGIT_TXT), True)
    before_data = sorted(name for name in extra if name < "data/")
    for name in before_data:
        archive.add(name, len(extra[name]), _Bytes(extra[name]), True)
    sha256: dict[str, str] = {}
    sha512: dict[str, str] = {}
    for entry in files:
        with open(entry.source, "rb") as handle:
            reader = HashingReader(handle)
            archive.add(
                entry.path, entry.size, reader, entry.text or compresses(_sample(entry.source))
            )
        if reader.size != entry.size or (entry.sha256 and reader.sha256 != entry.sha256):
            raise SourceChanged(entry.path)
        sha256[entry.path], sha512[entry.path] = reader.sha256, reader.sha512
        if progress is not None:
            progress(entry.size)
    between = sorted(name for name in extra if "data/" < name < "manifest-sha256.txt")
    for name in between:
        archive.add(name, len(extra[name]), _Bytes(extra[name]), True)
    tags = {"bag-info.txt": info_bytes, "bagit.txt": BAGIT_TXT}
    tags["manifest-sha256.txt"] = manifest(sha256)
    tags["manifest-sha512.txt"] = manifest(sha512)
    for name in ("manifest-sha256.txt", "manifest-sha512.txt"):
        archive.add(name, len(tags[name]), _Bytes(tags[name]), True)
    for name in sorted(set(extra) - set(before_data) - set(between)):
        assert "manifest-sha512.txt" < name < "tagmanifest-sha256.txt", name
        archive.add(name, len(extra[name]), _Bytes(extra[name]), True)
    tags.update(extra)
    tag_manifest = manifest({name: hashlib.sha256(data).hexdigest() for name, data in tags.items()})
    archive.add("tagmanifest-sha256.txt", len(tag_manifest), _Bytes(tag_manifest), True)


@dataclass(frozen=True)
class InlineItem:
    """What the json format carries inline for one item, beyond packet.json's fields."""

    resolved: Any = None
    file: PayloadFile | None = None
    original_file: PayloadFile | None = None


def _stream_base64(out: BinaryIO, source: PayloadFile, progress: Progress | None) -> None:
    digest = hashlib.sha256()
    size = 0
    with open(source.source, "rb") as handle:
        while chunk := handle.read(BASE64_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(base64.b64encode(chunk))
    if size != source.size or (source.sha256 and digest.hexdigest() != source.sha256):
        raise SourceChanged(source.path)
    if progress is not None:
        progress(size)


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_json(
    out: BinaryIO,
    document: BundleDocument,
    inline: Sequence[InlineItem],
    progress: Progress | None = None,
    members: Mapping[str, Any] | None = None,
) -> None:
    """One UTF-8 JSON document, keys sorted, one item per line, file bytes as base64 written
    in chunks into the item's line; `members` join packet.json's (all sort after
    "contents")."""
    marker = f"\u0000inline-{uuid.uuid4().hex}-"
    if progress is not None:
        progress.expect(
            sum(f.size for extra in inline for f in (extra.file, extra.original_file) if f)
        )
    out.write(b'{"contents":[\n')
    for number, (item, extra) in enumerate(zip(document.contents, inline, strict=True)):
        fields = item.model_dump(mode="json")
        fields["resolution"]["data"] = extra.resolved
        fields["resolution"]["path"] = None
        sources: dict[str, PayloadFile] = {}
        for key, source in (("file", extra.file), ("original_file", extra.original_file)):
            if source is not None and fields[key] is not None:
                fields[key]["path"] = None
                fields[key]["content_base64"] = marker + key
                sources[json.dumps(marker + key)] = source
        text = _compact(fields)
        position = 0
        while position < len(text):
            hits = [(text.find(token, position), token) for token in sources]
            hits = [(at, token) for at, token in hits if at >= 0]
            if not hits:
                out.write(text[position:].encode("utf-8"))
                break
            at, token = min(hits)
            out.write(text[position:at].encode("utf-8") + b'"')
            _stream_base64(out, sources[token], progress)
            out.write(b'"')
            position = at + len(token)
        out.write(b",\n" if number < len(document.contents) - 1 else b"\n")
    header = {**document.model_dump(mode="json", exclude={"contents"}), **(members or {})}
    assert min(header) > "contents"
    rest = _compact(header)[1:]  # '"format":...,"packet":{...}}'
    out.write(b"]," + rest.encode("utf-8") + b"\n")
