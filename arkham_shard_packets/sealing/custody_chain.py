"""The custody log's chain: every entry names the SHA-256 of the entry before it.

An entry is {"seq", "prev", "packet_id", "at", "actor", "event", "details"}: `seq` counts from
1, `prev` is the hash of entry seq-1 (null for the first), and an entry's hash is the SHA-256
(lower-case hex) of its canonical JSON, the same canonical JSON as the checksum recipe
(sealing/checksum.py). The head of a log is the hash of its last entry. An entry that is changed,
removed or moved breaks the chain at the entry after it, whose `prev` no longer names what
now comes before. Whoever holds a log can recompute every hash after an entry they change,
so only a signature over a head (the seal, sealing/statement.py) shows that the entries up
to it are the ones that were signed; entries after it are the holder's account.

Every entry names its packet. The id changes only at an `imported` entry: an import that gave
the packet an id of the importer's own (bundles/packet_ids.py) records it there, with the id
the bundle named as `bundle_packet_id`. An export names such a packet as its seal does, so a
log may end with entries about the new id when its last change of id is an import of the
packet's own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.canonical import canonical_json, sha256_hex


@dataclass(frozen=True)
class Head:
    """The last entry of a packet's log: its chain, its position and its hash."""

    chain: int
    position: int
    sha256: str


CREATED = "created"
IMPORTED = "imported"
LOG_STARTED = "log_started"  # the first entry of a packet older than custody recording
FINALIZED = "finalized"  # a seal signed at finalize
ATTESTED = "attested"  # a seal made before signed seals, signed later (an attestation)
SIGNING_EVENTS = (FINALIZED, ATTESTED)
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "seq": (int,),
    "prev": (str, type(None)),
    "packet_id": (str,),
    "at": (str,),
    "actor": (str,),
    "event": (str,),
    "details": (dict,),
}
SHOWN_PROBLEMS = 20
EMPTY_LOG = "the custody log is empty"

Entry = dict[str, Any]


def entry_hash(entry: Entry) -> str:
    return sha256_hex(canonical_json(entry))


def new_entry(
    seq: int,
    prev: str | None,
    packet_id: str,
    at: str,
    actor: str,
    event: str,
    details: dict[str, Any],
) -> Entry:
    return {
        "seq": seq,
        "prev": prev,
        "packet_id": packet_id,
        "at": at,
        "actor": actor,
        "event": event,
        "details": details,
    }


def parse_entry(text: str) -> Entry | None:
    """The entry a line of the log holds, or None when it is not one."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or set(value) != set(FIELD_TYPES):
        return None
    for name, types in FIELD_TYPES.items():
        if not isinstance(value[name], types) or isinstance(value[name], bool):
            return None
    return value


@dataclass
class ChainCheck:
    """A checked log. It keeps each entry's text and hash, not the parsed entries: a log of
    many thousand entries costs their text, and an entry is parsed again when asked for."""

    texts: Sequence[str]
    hashes: list[str]  # of each entry's canonical JSON (of its raw text if it is none)
    problems: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # imports accepted unverified

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def length(self) -> int:
        return len(self.texts)

    @property
    def head(self) -> str | None:
        return self.hashes[-1] if self.hashes else None

    @property
    def from_creation(self) -> bool:
        first = self.entry_at(1)
        return first is not None and first["event"] == CREATED

    def entry_at(self, seq: int) -> Entry | None:
        return parse_entry(self.texts[seq - 1]) if 1 <= seq <= len(self.texts) else None

    def hash_at(self, seq: int) -> str | None:
        return self.hashes[seq - 1] if 1 <= seq <= len(self.hashes) else None

    def history_import(self) -> tuple[int, Entry] | None:
        """The `imported` entry that started this log with the history a bundle carried, and
        its position: it names the head and the number of the entries before it, which are
        that history (custody/imports.py). None when the log began here."""
        for seq in range(len(self.texts), 1, -1):
            if f'"{IMPORTED}"' not in self.texts[seq - 1]:
                continue
            entry = parse_entry(self.texts[seq - 1])
            if entry is None or entry["event"] != IMPORTED:
                continue
            details = entry["details"]
            carried = details.get("bundle_custody_entries")
            if carried == seq - 1 and details.get("bundle_custody_head") == self.hashes[seq - 2]:
                return seq, entry
        return None

    def signing_entry(self) -> Entry | None:
        """The first entry that records a seal being signed (at finalize, or attested later):
        a packet whose log has one had a signed seal. Every entry is parsed, so an entry
        written with other spacing is found too; asked only of a sealed packet without a seal."""
        for text in self.texts:
            entry = parse_entry(text)
            if entry is not None and entry["event"] in SIGNING_EVENTS:
                return entry
        return None


def _unverified_mark(seq: int, entry: Entry) -> str | None:
    """An import accepted although its seal or chain did not check stays on record as such
    in the log, wherever the log goes."""
    if entry["event"] != IMPORTED or entry["details"].get("unverified") is not True:
        return None
    reasons = entry["details"].get("problems")
    shown = "; ".join(map(str, reasons)) if isinstance(reasons, list) else ""
    return f"custody entry {seq} records an import accepted unverified at {entry['at']}" + (
        f" ({shown})" if shown else ""
    )


def _imported_as_new(entry: Entry | None, packet_id: str) -> bool:
    """`entry` records an import of a bundle of `packet_id` under another id."""
    return (
        entry is not None
        and entry["event"] == IMPORTED
        and entry["details"].get("bundle_packet_id") == packet_id
    )


def check_chain(texts: Sequence[str], packet_id: str) -> ChainCheck:
    """Every entry well formed, numbered 1..n in order, naming its predecessor's hash, and
    about this packet (an `imported` entry may name the id its packet took on import)."""
    check = ChainCheck(texts, [])
    problems: list[str] = []
    if not texts:
        problems.append(EMPTY_LOG)
    previous_packet: str | None = None
    last: Entry | None = None
    last_switch: Entry | None = None  # the last entry that names another id than the one before
    for seq, text in enumerate(texts, start=1):
        prev = check.hashes[-1] if check.hashes else None
        last = entry = parse_entry(text)
        check.hashes.append(sha256_hex(text) if entry is None else entry_hash(entry))
        if entry is None:
            problems.append(f"custody entry {seq} is not a well-formed entry")
            previous_packet = None
            continue
        if entry["seq"] != seq:
            problems.append(
                f"custody entry {seq} is numbered {entry['seq']}: "
                "entries were removed, added or reordered"
            )
        if entry["prev"] != prev:
            problems.append(
                f"custody entry {seq} does not chain onto "
                + (f"entry {seq - 1}" if seq > 1 else "nothing (it is the first)")
                + ": an entry before it was changed, removed or reordered"
            )
        if previous_packet is not None and entry["packet_id"] != previous_packet:
            last_switch = entry
            if entry["event"] != IMPORTED:
                problems.append(f"custody entry {seq} is about another packet")
        previous_packet = entry["packet_id"]
        mark = _unverified_mark(seq, entry)
        if mark is not None:
            check.unverified.append(mark)
    if (
        last is not None
        and last["packet_id"] != packet_id
        and not _imported_as_new(last_switch, packet_id)
    ):
        problems.append(f"the custody log ends with an entry about another packet than {packet_id}")
    check.problems = problems[:SHOWN_PROBLEMS]
    if len(problems) > SHOWN_PROBLEMS:
        check.problems.append(f"and {len(problems) - SHOWN_PROBLEMS} more custody problems")
    return check
