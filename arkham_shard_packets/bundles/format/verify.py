"""Checking everything a bundle claims, trusting nothing it declares: every manifest digest is
recomputed, Payload-Oxum counted, packet.json validated, each item's data and file digests
recomputed and the packet checksum recomputed and compared with the declared ones."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ...core.bounds import NotJson, OutOfBounds, json_problem, read_json
from ...errors import InvalidBundle
from ...models import PacketStatus
from ...sealing.checksum import checksum_of, data_sha256
from ...sealing.disclosure import NOT_A_PACKET
from ...sealing.key_trust import KeyTrust
from .bag import ALGORITHMS, bag_path_problem, parse_bag_info, parse_manifest, payload_oxum
from .budget import check_free
from .disclosure import (
    DISCLOSURE_FILE,
    OpenedDisclosure,
    looks_like_disclosure,
    read_bag_disclosure,
    read_json_disclosure,
)
from .document import PACKET_JSON, BundleDocument, FileRef
from .evidence import CARRIED_KEYS, CarriedEvidence, json_evidence, read_bag_evidence
from .extraction import Digests
from .inline import load_split
from .limits import DOCUMENT_MAX_DEPTH, MAX_VERSION, ImportLimits
from .progress import Progress
from .reader import detect_format, extract

CHUNK = 1024 * 1024
SEALED_STATUSES = (PacketStatus.FINALIZED, PacketStatus.SHARED)


@dataclass
class VerifiedBundle:
    kind: str
    document: BundleDocument
    checksum: str  # recomputed from what the bundle carries
    files: dict[str, Path] = field(default_factory=dict)  # attachment digest -> verified bytes
    carried: CarriedEvidence = field(default_factory=CarriedEvidence)  # seal, custody log

    @property
    def sealed(self) -> bool:
        """A finalized packet whose declared checksum matched the recomputed one."""
        return self.document.packet.checksum == self.checksum


def _digests(path: Path, progress: Progress | None = None) -> tuple[int, str, str]:
    sha256, sha512, size = hashlib.sha256(), hashlib.sha512(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            sha256.update(chunk)
            sha512.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return size, sha256.hexdigest(), sha512.hexdigest()


def _read_text(path: Path, limit: int, problems: list[str]) -> str | None:
    if not path.is_file():
        problems.append(f"{path.name} is missing")
        return None
    if path.stat().st_size > limit:
        problems.append(f"{path.name} is larger than {limit} bytes")
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(f"{path.name} is not UTF-8")
        return None


def _load_json(raw: str | None, problems: list[str]) -> Any:
    if raw is None:
        return None
    try:
        return read_json(raw, max_depth=DOCUMENT_MAX_DEPTH, max_bytes=None, nul=False)
    except NotJson as error:
        where = f"at character {error.position}"
        problems.append(f"packet.json is not valid JSON ({error.reason} {where})")
    except OutOfBounds as error:
        problems.append(f"packet.json: {error.problem}")
    return None


def _validate_document(
    value: Any, problems: list[str], limits: ImportLimits
) -> BundleDocument | None:
    """packet.json's schema, then what the schema can't say: at most `max_items` items (counted
    before they are validated), and data and metadata the API would have accepted."""
    if value is None:
        return None
    contents = value.get("contents") if isinstance(value, dict) else None
    if isinstance(contents, list) and len(contents) > limits.max_items:
        problems.append(f"the bundle holds more than {limits.max_items} items")
        return None
    try:
        document = BundleDocument.model_validate(value)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        problems.append(f"packet.json does not match the schema: {where}: {first['msg']}")
        return None
    before = len(problems)
    if document.packet.version > MAX_VERSION:
        problems.append(f"packet.json's packet.version is above {MAX_VERSION}")
    free = [("packet.metadata", document.packet.metadata)] + [
        (f"contents.{index}.data", item.data)
        for index, item in enumerate(document.contents)
        if item.data is not None
    ]
    for where, data in free:
        problem = json_problem(
            data, max_depth=limits.max_json_depth, max_bytes=limits.max_value_bytes
        )
        if problem is not None:
            problems.append(f"packet.json's {where}: {problem}")
    return None if len(problems) > before else document


def _check_document(document: BundleDocument, problems: list[str]) -> str:
    packet = document.packet
    seen: set[tuple[str, str]] = set()
    for item in document.contents:
        key = (item.content_type.value, item.content_id)
        label = f"{key[0]} {key[1]}"
        if key in seen:
            problems.append(f"{label} appears twice in packet.json")
        seen.add(key)
        if item.data_sha256 != data_sha256(item.data):
            problems.append(f"data of {label} does not match its data_sha256")
    if packet.contents_count != len(document.contents):
        problems.append("packet.json's contents_count does not match its contents")
    computed = checksum_of(packet, document.contents)
    if packet.status in SEALED_STATUSES and packet.checksum is None:
        problems.append(f"packet is {packet.status.value} but declares no checksum")
    if packet.checksum is not None and packet.checksum != computed:
        problems.append(
            f"declared checksum {packet.checksum} does not match the recomputed {computed}"
        )
    return computed


class BagCheck:
    def __init__(
        self,
        root: Path,
        limits: ImportLimits,
        progress: Progress | None = None,
        known: dict[str, Digests] | None = None,
    ) -> None:
        self.root = root
        self.limits = limits
        self.progress = progress
        self.known = dict(known or {})  # digests taken while the files were written
        self.problems: list[str] = []

    def measure(self, path: str) -> Digests:
        """Each file is hashed at most once (while it was extracted, as a rule)."""
        if path not in self.known:
            self.known[path] = _digests(self.root / path, self.progress)
        return self.known[path]

    def payload_files(self) -> list[str]:
        data = self.root / "data"
        found: list[str] = []
        for folder, dirs, files in os.walk(data, followlinks=False):
            for name in [*dirs, *files]:
                if (Path(folder) / name).is_symlink():
                    self.problems.append(f"link in the payload: {name}")
            for name in files:
                found.append((Path(folder) / name).relative_to(self.root).as_posix())
        return sorted(found)

    def fixity(self) -> tuple[dict[str, list[str]], dict[str, Digests]]:
        """bagit.txt, manifests, Payload-Oxum, tag manifest: bag-info's fields, the payload."""
        problems = self.problems
        bagit = _read_text(self.root / "bagit.txt", 4096, problems)
        if bagit is not None:
            declared = parse_bag_info(bagit)
            if declared.get("BagIt-Version", [""])[0] not in ("1.0", "0.97"):
                problems.append("bagit.txt declares no supported BagIt-Version")
            if declared.get("Tag-File-Character-Encoding", [""])[0].upper() != "UTF-8":
                problems.append("bagit.txt must declare Tag-File-Character-Encoding: UTF-8")
        info_text = _read_text(self.root / "bag-info.txt", 1024 * 1024, problems) or ""
        info = parse_bag_info(info_text)
        payload = self.payload_files()
        measured = {path: self.measure(path) for path in payload}
        self._check_manifests(payload, measured)
        self._check_oxum(info, measured)
        self._check_tag_manifest()
        return info, measured

    def run(self) -> VerifiedBundle:
        problems = self.problems
        info, measured = self.fixity()
        raw = _read_text(self.root / PACKET_JSON, self.limits.max_json_bytes, problems)
        document = _validate_document(_load_json(raw, problems), problems, self.limits)
        if document is None:
            raise InvalidBundle(problems)
        checksum = _check_document(document, problems)
        declared_checksum = info.get("Packet-Checksum", [None])[0]
        if declared_checksum is None:
            problems.append("bag-info.txt declares no Packet-Checksum")
        elif declared_checksum != checksum:
            problems.append(
                f"bag-info.txt's Packet-Checksum {declared_checksum} does not match "
                f"the recomputed {checksum}"
            )
        if info.get("External-Identifier", [None])[0] != document.packet.id:
            problems.append("bag-info.txt's External-Identifier is not the packet's id")
        files = self._check_items(document, measured)
        if problems:
            raise InvalidBundle(problems)
        return VerifiedBundle("bag", document, checksum, files)

    def _check_manifests(
        self, payload: list[str], measured: dict[str, tuple[int, str, str]]
    ) -> None:
        for index, algorithm in enumerate(ALGORITHMS, start=1):
            path = self.root / f"manifest-{algorithm}.txt"
            if not path.is_file():
                if algorithm == "sha256":
                    self.problems.append("manifest-sha256.txt is missing")
                continue
            text = _read_text(path, 64 * 1024 * 1024, self.problems) or ""
            entries, problems = parse_manifest(text, algorithm)
            self.problems.extend(problems)
            for name in entries:
                problem = bag_path_problem(name)
                if problem is not None:
                    self.problems.append(f"{path.name} lists {name!r}: {problem}")
            for name in sorted(set(entries) - set(measured)):
                self.problems.append(f"{name} is listed in {path.name} but missing")
            for name in payload:
                if name not in entries:
                    self.problems.append(f"{name} is not listed in {path.name}")
                elif entries[name] != measured[name][index]:
                    self.problems.append(f"{name} does not match its {algorithm} in {path.name}")

    def _check_oxum(
        self, info: dict[str, list[str]], measured: dict[str, tuple[int, str, str]]
    ) -> None:
        declared = info.get("Payload-Oxum", [None])[0]
        actual = payload_oxum(sum(size for size, _, _ in measured.values()), len(measured))
        if declared is None:
            self.problems.append("bag-info.txt declares no Payload-Oxum")
        elif declared != actual:
            self.problems.append(f"Payload-Oxum is {declared} but the payload is {actual}")

    def _check_tag_manifest(self) -> None:
        """Tag files only: normalised relative paths outside data/, of files in the bag."""
        path = self.root / "tagmanifest-sha256.txt"
        if not path.is_file():
            return
        entries, problems = parse_manifest(
            _read_text(path, 1024 * 1024, self.problems) or "", "sha256"
        )
        self.problems.extend(problems)
        for name, digest in entries.items():
            problem = bag_path_problem(name)
            if problem is not None:
                self.problems.append(f"tagmanifest-sha256.txt lists {name!r}: {problem}")
            elif name.split("/")[0] == "data" or name not in self.tag_files():
                self.problems.append(f"{name} is listed in tagmanifest-sha256.txt but missing")
            elif self.measure(name)[1] != digest:
                self.problems.append(f"{name} does not match its sha256 in tagmanifest-sha256.txt")

    def tag_files(self) -> set[str]:
        return {name for name in self.known if name.split("/")[0] != "data"}

    def _check_items(
        self,
        document: BundleDocument,
        measured: dict[str, tuple[int, str, str]],
    ) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for item in document.contents:
            label = f"{item.content_type.value} {item.content_id}"
            for ref in (item.file, item.original_file):
                if ref is None:
                    continue
                found = measured.get(ref.path or "")
                if found is None:
                    self.problems.append(f"the file of {label} is not in the payload")
                elif found[0] != ref.size or found[1] != ref.sha256:
                    self.problems.append(f"the file of {label} does not match its size or sha256")
                elif ref is item.file:
                    files[ref.sha256] = self.root / str(ref.path)
            path = item.resolution.path
            if path is not None and path not in measured:
                self.problems.append(f"the resolved data of {label} is not in the payload")
        return files


def _decode_inline(ref: FileRef, target: Path, label: str, problems: list[str]) -> bool:
    if ref.content_base64 is None:
        problems.append(f"the file of {label} has no content_base64")
        return False
    try:
        content = base64.b64decode(ref.content_base64, validate=True)
    except (binascii.Error, ValueError):
        problems.append(f"the file of {label} is not valid base64")
        return False
    if len(content) != ref.size or hashlib.sha256(content).hexdigest() != ref.sha256:
        problems.append(f"the file of {label} does not match its size or sha256")
        return False
    target.write_bytes(content)
    return True


def verify_json(
    path: Path, dest: Path, limits: ImportLimits, progress: Progress | None = None
) -> VerifiedBundle:
    """The files are decoded to `dest` while the bundle is read (bundles/format/inline)."""
    problems: list[str] = []
    check_free(dest, 0, limits)
    value, decoded = load_split(path, dest, limits, progress)
    # the json format's seal and custody sit beside packet.json's members: taken out first
    if isinstance(value, dict) and "disclosure" in value:
        raise InvalidBundle([NOT_A_PACKET])
    members = {key: value.pop(key, None) for key in CARRIED_KEYS} if isinstance(value, dict) else {}
    document = _validate_document(value, problems, limits)
    if document is None:
        raise InvalidBundle(problems)
    checksum = _check_document(document, problems)
    files: dict[str, Path] = {}
    for index, item in enumerate(document.contents, start=1):
        label = f"{item.content_type.value} {item.content_id}"
        for key, ref in (("file", item.file), ("original", item.original_file)):
            if ref is None:
                continue
            inline = decoded.get(ref.content_base64 or "")
            if inline is None:
                target = dest / f"{index:04d}-{key}"
                if not _decode_inline(ref, target, label, problems):
                    continue
            elif inline.size != ref.size or inline.sha256 != ref.sha256:
                problems.append(f"the file of {label} does not match its size or sha256")
                continue
            else:
                target = inline.path
            if ref is item.file:
                files[ref.sha256] = target
    if problems:
        raise InvalidBundle(problems)
    return VerifiedBundle("json", document, checksum, files, json_evidence(members))


def open_bundle(
    path: Path, workdir: Path, limits: ImportLimits, progress: Progress | None = None
) -> VerifiedBundle:
    """Detect, unpack into `workdir` (empty, private) and verify; raises InvalidBundle (a
    disclosure too: it is no packet)."""
    opened = open_any(path, workdir, limits, progress)
    if isinstance(opened, OpenedDisclosure):
        raise InvalidBundle([NOT_A_PACKET])
    return opened


def open_any(
    path: Path,
    workdir: Path,
    limits: ImportLimits,
    progress: Progress | None = None,
    trust: KeyTrust | None = None,
) -> VerifiedBundle | OpenedDisclosure:
    """A packet's bundle verified, or a disclosure with what it proves (by `trust`'s keys)."""
    size = path.stat().st_size
    if size > limits.max_archive_bytes:
        raise InvalidBundle([f"the bundle is larger than {limits.max_archive_bytes} bytes"])
    kind = detect_format(path)
    if kind == "json":
        with open(path, "rb") as handle:
            if looks_like_disclosure(handle.read(64)):
                return read_json_disclosure(path, trust or KeyTrust(), limits.max_archive_bytes)
        return verify_json(path, workdir, limits, progress)
    extracted = extract(path, kind, workdir, limits, progress)
    if (extracted.root / DISCLOSURE_FILE).is_file():
        check = BagCheck(extracted.root, limits, progress, extracted.digests)
        digests = {name: found[1] for name, found in check.fixity()[1].items()}
        return read_bag_disclosure(
            extracted.root, digests, trust or KeyTrust(), kind, check.problems
        )
    verified = BagCheck(extracted.root, limits, progress, extracted.digests).run()
    verified.kind = kind
    verified.carried = read_bag_evidence(extracted.root)
    return verified
