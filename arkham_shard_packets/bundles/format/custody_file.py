"""custody.jsonl: a packet's custody log as a tag file at the bag's root (and under `custody`
in the json format): one entry per line, each line the entry's canonical JSON, whose SHA-256
the next entry names as `prev` (core/custody_chain.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...core.seal import canonical_json

CUSTODY_FILE = "custody.jsonl"
# A log is read whole: bounded so that a hostile one costs tens of MB, not hundreds.
MAX_CUSTODY_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 100_000


def render_custody(entries: Sequence[str]) -> bytes:
    return "".join(f"{entry}\n" for entry in entries).encode("utf-8")


def parse_custody(data: bytes, problems: list[str]) -> list[str] | None:
    """The entries' texts, one per line, as carried (their checks are the chain's)."""
    if len(data) > MAX_CUSTODY_BYTES:
        problems.append(f"{CUSTODY_FILE} is larger than {MAX_CUSTODY_BYTES} bytes")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{CUSTODY_FILE} is not UTF-8")
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_ENTRIES:
        problems.append(f"{CUSTODY_FILE} holds more than {MAX_ENTRIES} entries")
        return None
    return lines


def custody_from_json(value: Any, problems: list[str]) -> list[str] | None:
    """The json format's `custody`: a list of entries, each hashed as its canonical JSON."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        problems.append(f"the bundle's custody is not a list of at most {MAX_ENTRIES} entries")
        return None
    entries = []
    for entry in value:
        try:
            entries.append(canonical_json(entry))
        except (TypeError, ValueError):
            entries.append(repr(entry))
    return entries
