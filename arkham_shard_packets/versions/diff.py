"""What changed between two snapshots: packet fields, and contents added, removed or changed.

Content items are matched by (content_type, content_id); an item's entry id, and when and by
whom it was added, are not changes of the item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Record = Mapping[str, Any]

PACKET_FIXED = frozenset({"id", "created_at", "created_by"})
CONTENT_IDENTITY = ("content_type", "content_id")
CONTENT_NOT_COMPARED = frozenset({"id", "added_at", "added_by", *CONTENT_IDENTITY})
PUBLIC_NAMES = {"order_num": "order"}


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ContentChange:
    content_type: str
    content_id: str
    changes: list[FieldChange]


@dataclass
class SnapshotDiff:
    from_version: int
    to_version: int
    fields_changed: list[FieldChange] = field(default_factory=list)
    contents_added: list[dict[str, Any]] = field(default_factory=list)
    contents_removed: list[dict[str, Any]] = field(default_factory=list)
    contents_changed: list[ContentChange] = field(default_factory=list)


def _changes(before: Record, after: Record, ignored: frozenset[str]) -> list[FieldChange]:
    names = sorted((set(before) | set(after)) - ignored)
    return [
        FieldChange(PUBLIC_NAMES.get(name, name), before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    ]


def _summary(record: Record) -> dict[str, Any]:
    return {
        "content_type": record["content_type"],
        "content_id": record["content_id"],
        "content_title": record.get("content_title") or "",
        "order": record["order_num"],
    }


def _by_identity(body: Record) -> dict[tuple[str, str], Record]:
    return {(item["content_type"], item["content_id"]): item for item in body["contents"]}


def diff_snapshots(
    from_version: int, before: Record, to_version: int, after: Record
) -> SnapshotDiff:
    diff = SnapshotDiff(from_version, to_version)
    diff.fields_changed = _changes(before["packet"], after["packet"], PACKET_FIXED)
    old, new = _by_identity(before), _by_identity(after)
    diff.contents_added = [_summary(new[key]) for key in sorted(new.keys() - old.keys())]
    diff.contents_removed = [_summary(old[key]) for key in sorted(old.keys() - new.keys())]
    for key in sorted(old.keys() & new.keys()):
        changes = _changes(old[key], new[key], CONTENT_NOT_COMPARED)
        if changes:
            diff.contents_changed.append(ContentChange(key[0], key[1], changes))
    return diff
