"""BagIt 1.0 (RFC 8493) tag files: bagit.txt, bag-info.txt, manifests and the tag manifest."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
ALGORITHMS = ("sha256", "sha512")
HEX = {"sha256": re.compile(r"^[0-9a-fA-F]{64}$"), "sha512": re.compile(r"^[0-9a-fA-F]{128}$")}


def encode_path(path: str) -> str:
    """Manifest paths percent-encode CR, LF and % (RFC 8493, 2.1.3)."""
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def decode_path(path: str) -> str:
    return re.sub(
        r"%(25|0A|0D)",
        lambda m: {"25": "%", "0A": "\n", "0D": "\r"}[m.group(1).upper()],
        path,
        flags=re.IGNORECASE,
    )


def bag_path_problem(path: str) -> str | None:
    """Why a path a manifest lists is not a normalised relative path inside the bag, or None."""
    if not path or "\x00" in path or "\\" in path:
        return "not a usable path"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "an absolute path"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "not a normalised relative path inside the bag"
    return None


def manifest(digests: Mapping[str, str]) -> bytes:
    """`digests` maps path to hex digest; lines sorted by path."""
    lines = [f"{digests[path]}  {encode_path(path)}\n" for path in sorted(digests)]
    return "".join(lines).encode("utf-8")


def parse_manifest(text: str, algorithm: str) -> tuple[dict[str, str], list[str]]:
    entries: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not HEX[algorithm].match(parts[0]):
            problems.append(f"manifest-{algorithm}.txt line {number} is malformed")
            continue
        path = decode_path(parts[1].strip())
        if path in entries:
            problems.append(f"manifest-{algorithm}.txt lists {path} twice")
        entries[path] = parts[0].lower()
    return entries, problems


def bag_info(fields: Iterable[tuple[str, str]]) -> bytes:
    return "".join(f"{label}: {value}\n" for label, value in fields).encode("utf-8")


def parse_bag_info(text: str) -> dict[str, list[str]]:
    """Labels to values (a label may repeat); indented lines continue the previous value."""
    fields: dict[str, list[str]] = {}
    last: str | None = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and last is not None:
            fields[last][-1] += " " + line.strip()
            continue
        label, sep, value = line.partition(":")
        if not sep:
            continue
        last = label.strip()
        fields.setdefault(last, []).append(value.strip())
    return fields


def payload_oxum(total_bytes: int, file_count: int) -> str:
    return f"{total_bytes}.{file_count}"
