"""Version snapshots: a packet's full state as one canonical JSON body, stored once per digest.

A body is {"format", "packet", "contents"}: the packet's columns and each content row's
columns, by column name, taken generically from the tables (a column added to a table is in
every later snapshot without touching this module). JSON text columns are decoded so the body
reads as plain JSON. Bookkeeping that changes while the state does not (`updated_at`, the
version counter, tenant and parent ids) is left out, so an unchanged packet snapshots to the
same body and the same digest.

Bodies live in `arkham_packet_snapshots` under their SHA-256; a version names its body by
`snapshot_path` = "sha256:<hex>". Packet ids are global primary keys and every body carries
its packet's id, so two tenants can never share a digest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Label, Table, and_, literal, select

from ..core.canonical import canonical_json, sha256_hex
from ..core.clock import now_text
from ..core.unit_of_work import UnitOfWork
from ..db.tables import packet_contents, packet_snapshots, packets, snapshot_files

SNAPSHOT_FORMAT = "arkham-packet-snapshot/1"
PATH_PREFIX = "sha256:"
JSON_COLUMNS = frozenset({"metadata", "data"})
PACKET_LEFT_OUT = frozenset({"tenant_id", "updated_at", "version"})
CONTENT_LEFT_OUT = frozenset({"tenant_id", "packet_id"})

Record = dict[str, Any]


@dataclass(frozen=True)
class Fields:
    """A table's columns in a snapshot, and which of them hold JSON text.

    By name: the order canonical JSON writes a record's keys in, which its sort then finds
    already done (a snapshot of 10,000 items encodes a sixth faster)."""

    names: tuple[str, ...]
    json_names: tuple[str, ...]

    @classmethod
    def of(cls, table: Table, left_out: frozenset[str]) -> Fields:
        names = tuple(sorted(column.name for column in table.c if column.name not in left_out))
        return cls(names, tuple(name for name in names if name in JSON_COLUMNS))

    def record(self, values: Iterable[Any]) -> Record:
        """The record of a row's values, given in the order of `names`."""
        record = dict(zip(self.names, values, strict=True))
        for name in self.json_names:
            value = record[name]
            if value is not None:
                record[name] = json.loads(value)
        return record


PACKET_FIELDS = Fields.of(packets, PACKET_LEFT_OUT)
CONTENT_FIELDS = Fields.of(packet_contents, CONTENT_LEFT_OUT)


def packet_record(row: Mapping[Any, Any]) -> Record:
    return PACKET_FIELDS.record(row[name] for name in PACKET_FIELDS.names)


def content_values(record: Mapping[str, Any], packet_id: str) -> Record:
    """Column values that put a content record back as a row of `packet_id` (add the tenant
    with `Scope.row`). Keys the table no longer has are dropped."""
    values: Record = {"packet_id": packet_id}
    for column in packet_contents.c:
        if column.name in CONTENT_LEFT_OUT or column.name not in record:
            continue
        value = record[column.name]
        if column.name in JSON_COLUMNS and value is not None:
            value = canonical_json(value)
        values[column.name] = value
    return values


def record_sort_key(record: Mapping[str, Any]) -> tuple[int, str, str]:
    return (int(record["order_num"]), str(record["content_type"]), str(record["content_id"]))


def snapshot_body(packet: Record, contents: list[Record]) -> Record:
    return {
        "format": SNAPSHOT_FORMAT,
        "packet": packet,
        "contents": sorted(contents, key=record_sort_key),
    }


def path_of(digest: str) -> str:
    return PATH_PREFIX + digest


def digest_of(path: str | None) -> str | None:
    if not path or not path.startswith(PATH_PREFIX):
        return None
    return path[len(PATH_PREFIX) :]


@dataclass(frozen=True)
class StoredSnapshot:
    digest: str
    size_bytes: int

    @property
    def path(self) -> str:
        return path_of(self.digest)


async def content_records(work: UnitOfWork, packet_id: str) -> list[Record]:
    """The packet's content records as the rows are stored now, in snapshot order."""
    statement = work.scope.select(
        packet_contents, *(packet_contents.c[name] for name in CONTENT_FIELDS.names)
    ).where(packet_contents.c.packet_id == packet_id)
    records = [CONTENT_FIELDS.record(row) for row in await work.conn.execute(statement)]
    records.sort(key=record_sort_key)
    return records


async def content_records_beside(
    work: UnitOfWork, packet_id: str, beside: Sequence[Label[Any]]
) -> tuple[list[Record], dict[str, Any]]:
    """`content_records`, and the values of the scalar subqueries `beside` read in the same
    statement (one round trip): each row carries them, and a packet without items one row."""
    names = CONTENT_FIELDS.names
    items = and_(work.scope.owns(packet_contents), packet_contents.c.packet_id == packet_id)
    statement = select(*(packet_contents.c[name] for name in names), *beside).select_from(
        select(literal(1).label("one")).subquery().outerjoin(packet_contents, items)
    )
    rows = (await work.conn.execute(statement)).all()
    width, key = len(names), names.index("id")
    records = [CONTENT_FIELDS.record(row[:width]) for row in rows if row[key] is not None]
    records.sort(key=record_sort_key)
    found = zip(beside, rows[0][width:], strict=True)
    return records, {label.name: value for label, value in found}


async def store_snapshot(
    work: UnitOfWork, body: Record, *, at_commit: bool = False
) -> StoredSnapshot:
    """Writes the body unless a body with its digest is already stored (`at_commit`: with the
    work's events, when nothing in the work reads it back)."""
    text = canonical_json(body)
    raw = text.encode("utf-8")
    stored = StoredSnapshot(sha256_hex(raw), len(raw))
    values = {
        "digest": stored.digest,
        "body": text,
        "size_bytes": stored.size_bytes,
        "created_at": now_text(),
    }
    await work.insert(packet_snapshots, values, at_commit=at_commit, skip_duplicates=True)
    named_files = sorted({c["file_sha256"] for c in body["contents"] if c.get("file_sha256")})
    if named_files:
        await work.insert_each(
            snapshot_files,
            {"snapshot_digest": stored.digest},
            "file_sha256",
            named_files,
            at_commit=at_commit,
            skip_duplicates=True,
        )
    return stored


async def load_snapshot_text(work: UnitOfWork, digest: str) -> str | None:
    """Bodies are shared by digest and reached only through a (tenant-scoped) version row."""
    statement = select(packet_snapshots.c.body).where(packet_snapshots.c.digest == digest)
    body: str | None = (await work.conn.execute(statement)).scalar_one_or_none()
    return body
