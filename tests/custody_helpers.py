"""Checking and forging seals and custody logs as an outsider would: with `cryptography`,
`hashlib` and `json` only, never the project's own code."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

Files = dict[str, bytes]  # a bag's files by their path inside the bag's folder


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def fingerprint(raw_key: bytes) -> str:
    return "sha256:" + sha256(raw_key)


def check_seal_independently(seal: dict[str, Any]) -> None:
    """Raises unless the seal's signature checks against the key it carries."""
    raw = base64.b64decode(seal["public_key"])
    assert seal["key_fingerprint"] == fingerprint(raw)
    assert seal["statement"]["key_fingerprint"] == seal["key_fingerprint"]
    Ed25519PublicKey.from_public_bytes(raw).verify(
        base64.b64decode(seal["signature"]), canonical(seal["statement"])
    )


def check_chain_independently(entries: list[dict[str, Any]]) -> list[str]:
    """Every entry's prev is the hash of the one before; the hashes of all entries."""
    hashes: list[str] = []
    for number, entry in enumerate(entries, start=1):
        assert entry["seq"] == number
        assert entry["prev"] == (hashes[-1] if hashes else None)
        hashes.append(sha256(canonical(entry)))
    return hashes


def bag_files(archive: bytes, fmt: str) -> tuple[str, Files]:
    """The bag's folder name and its files."""
    files: Files = {}
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            for info in bundle.infolist():
                files[info.filename] = bundle.read(info)
    else:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as bundle:
            for member in bundle.getmembers():
                handle = bundle.extractfile(member)
                if handle is not None:
                    files[member.name] = handle.read()
    root = next(iter(files)).split("/", 1)[0]
    return root, {name.split("/", 1)[1]: data for name, data in files.items()}


def seal_of(archive: bytes, fmt: str) -> dict[str, Any]:
    if fmt == "json":
        seal: dict[str, Any] = json.loads(archive)["seal"]
        return seal
    loaded: dict[str, Any] = json.loads(bag_files(archive, fmt)[1]["packet-seal.json"])
    return loaded


def custody_of(archive: bytes, fmt: str) -> list[dict[str, Any]]:
    if fmt == "json":
        entries: list[dict[str, Any]] = json.loads(archive)["custody"]
        return entries
    lines = bag_files(archive, fmt)[1]["custody.jsonl"].decode().splitlines()
    return [json.loads(line) for line in lines]


def rebuild_bag(files: Files) -> Files:
    """Recompute every manifest, the tag manifest and Payload-Oxum, as a forger would."""
    payload = {name: data for name, data in files.items() if name.startswith("data/")}
    for algorithm in ("sha256", "sha512"):
        files[f"manifest-{algorithm}.txt"] = "".join(
            f"{hashlib.new(algorithm, payload[name]).hexdigest()}  {name}\n"
            for name in sorted(payload)
        ).encode()
    oxum = f"{sum(len(d) for d in payload.values())}.{len(payload)}"
    info = [
        line if not line.startswith("Payload-Oxum:") else f"Payload-Oxum: {oxum}"
        for line in files["bag-info.txt"].decode().splitlines()
    ]
    files["bag-info.txt"] = ("\n".join(info) + "\n").encode()
    tags = {n: d for n, d in files.items() if "/" not in n and n != "tagmanifest-sha256.txt"}
    files["tagmanifest-sha256.txt"] = "".join(
        f"{sha256(tags[name])}  {name}\n" for name in sorted(tags)
    ).encode()
    return files


def pack(root: str, files: Files, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "zip":
        with zipfile.ZipFile(out, "w") as bundle:
            for name in sorted(files):
                bundle.writestr(f"{root}/{name}", files[name])
    else:
        with tarfile.open(fileobj=out, mode="w:gz") as bundle:
            for name in sorted(files):
                info = tarfile.TarInfo(f"{root}/{name}")
                info.size = len(files[name])
                bundle.addfile(info, io.BytesIO(files[name]))
    return out.getvalue()


def rewrite(archive: bytes, fmt: str, change: Callable[[Files], None]) -> bytes:
    """A bag changed by `change`, with every manifest recomputed to match."""
    root, files = bag_files(archive, fmt)
    change(files)
    return pack(root, rebuild_bag(files), fmt)


def jsonl(entries: list[dict[str, Any]]) -> bytes:
    return b"".join(canonical(entry) + b"\n" for entry in entries)


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def sign_seal(key: Ed25519PrivateKey, statement: dict[str, Any]) -> dict[str, Any]:
    raw = raw_public(key)
    statement = {**statement, "key_fingerprint": fingerprint(raw)}
    return {
        "statement": statement,
        "signature": base64.b64encode(key.sign(canonical(statement))).decode(),
        "public_key": base64.b64encode(raw).decode(),
        "key_fingerprint": fingerprint(raw),
    }


def rechain(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries renumbered and relinked, as a forger recomputing every hash would."""
    linked: list[dict[str, Any]] = []
    for number, entry in enumerate(entries, start=1):
        prev = sha256(canonical(linked[-1])) if linked else None
        linked.append({**entry, "seq": number, "prev": prev})
    return linked


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def restate_packet(files: Files, **changes: Any) -> dict[str, Any]:
    """A bag's packet.json with `changes` made and its checksum recomputed by the documented
    recipe (test_integrity.readme_snippet), bag-info's Packet-Checksum with it; the packet."""
    from .test_integrity import readme_snippet

    document = json.loads(files["data/packet.json"])
    packet: dict[str, Any] = document["packet"]
    packet.update(changes)
    packet["checksum"] = readme_snippet()["packet_checksum"](packet, document["contents"])
    files["data/packet.json"] = (
        json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    ).encode()
    files["bag-info.txt"] = b"".join(
        f"Packet-Checksum: {packet['checksum']}\n".encode()
        if line.startswith(b"Packet-Checksum:")
        else line
        for line in files["bag-info.txt"].splitlines(keepends=True)
    )
    return packet
