"""Files attached to content items: upload into the content-addressed store, download, and
releasing a blob once no item points at it.

Blobs are shared by digest across packets and tenants, so the registry (`packet_files`) and
the reference count are deliberately not tenant-scoped; items, which are, are the only way
to reach a blob. A blob is claimed (registry row inserted and row-locked) before it is placed
and before the item points at it, and released under the same lock, so a concurrent attach
of the same bytes can never lose its file. The bytes are put in the store before (outside any
transaction: an upload to a bucket takes as long as it takes), and confirmed there again under
the claim, put again if a release took them meanwhile. A crash can leave an unreferenced blob
behind, never an item without its blob.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.byte_ranges import WHOLE, ByteSource, Span, Wanted, strong_etag
from ..core.clock import now_text
from ..core.file_names import clean_file_name, clean_media_type
from ..core.spool import SpooledFile
from ..core.store import ObjectMissing, Store, blob_key, exists, open_part
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody import log as custody
from ..db.scope import Scope
from ..db.tables import packet_contents, packet_files, packets, snapshot_files
from ..db.upsert import insert_or_skip
from ..errors import ContentNotFound, NotFound, StoredFileBroken
from ..models import AttachedFile, PacketContent
from ..records import lifecycle
from ..records.locks import lock_packet
from ..records.packets import attached_file, content_from_row, load_packet
from .uploads import ReceivedFile, Upload


@dataclass
class OpenedFile:
    source: ByteSource
    file: AttachedFile
    span: Span | None  # the range to answer, None for the whole file
    etag: str


async def claim_blob(conn: AsyncConnection, sha256: str, size: int) -> None:
    """Register the blob if it is new and hold its registry row until the transaction ends."""
    await conn.execute(
        insert_or_skip(packet_files).values(sha256=sha256, size=size, created_at=now_text())
    )
    await conn.execute(
        select(packet_files.c.sha256).where(packet_files.c.sha256 == sha256).with_for_update()
    )


async def store_blob(store: Store, sha256: str, source: Path) -> None:
    """The bytes in the store under their digest, sent from `source` unless already there."""
    if not await exists(store, blob_key(sha256)):
        await store.put(blob_key(sha256), source)


async def entry_row(work: UnitOfWork, packet_id: str, entry_id: str) -> Any:
    row = (
        (
            await work.conn.execute(
                work.scope.select(packet_contents).where(
                    packet_contents.c.id == entry_id, packet_contents.c.packet_id == packet_id
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise ContentNotFound(packet_id, entry_id)
    return row


async def is_referenced(work: UnitOfWork, sha256: str) -> bool:
    """By a content entry of any tenant, or by any version's snapshot (history keeps its
    files: a version can be restored or exported at any time)."""
    for table, column in (
        (packet_contents, packet_contents.c.file_sha256),
        (snapshot_files, snapshot_files.c.file_sha256),
    ):
        statement = select(func.count()).select_from(table).where(column == sha256)
        if (await work.conn.execute(statement)).scalar_one():
            return True
    return False


class FileReleaser:
    """Deletes a blob once nothing points at it."""

    def __init__(self, transactions: Transactions, store: Store) -> None:
        self.tx = transactions
        self.store = store

    async def release_all(self, digests: set[str]) -> None:
        for sha256 in sorted(digests):
            await self.release(sha256)

    async def release(self, sha256: str) -> None:
        async with self.tx.write(Scope()) as work:
            locked = (
                await work.conn.execute(
                    select(packet_files.c.sha256)
                    .where(packet_files.c.sha256 == sha256)
                    .with_for_update()
                )
            ).first()
            if locked is None or await is_referenced(work, sha256):
                return
            await work.conn.execute(packet_files.delete().where(packet_files.c.sha256 == sha256))
            # deleted before commit, while the row lock keeps attaches of these bytes waiting
            await self.store.delete(blob_key(sha256))


async def _point_at(work: UnitOfWork, entry_id: str, received: ReceivedFile) -> Any:
    """The item's row, pointing at the received file: its name and media type cleaned."""
    spooled = received.spooled
    return (
        (
            await work.conn.execute(
                work.scope.update(packet_contents)
                .where(packet_contents.c.id == entry_id)
                .values(
                    file_name=clean_file_name(received.filename),
                    file_media_type=clean_media_type(received.content_type),
                    file_size=spooled.size,
                    file_sha256=spooled.sha256,
                )
                .returning(*packet_contents.c)
            )
        )
        .mappings()
        .one()
    )


async def _log_attached(
    work: UnitOfWork,
    packet_id: str,
    entry_id: str,
    row: Any,
    spooled: SpooledFile,
    old: AttachedFile | None,
) -> None:
    """The attach in the packet's custody log (with the file it replaced), and its event."""
    await custody.append(
        work,
        packet_id,
        "file_attached",
        content_entry_id=entry_id,
        content_type=row["content_type"],
        content_id=row["content_id"],
        name=row["file_name"],
        media_type=row["file_media_type"],
        size=spooled.size,
        sha256=spooled.sha256,
        replaced_sha256=None if old is None else old.sha256,
    )
    work.emit(
        "packets.packet.updated",
        packet_id=packet_id,
        changes=["file"],
        content_entry_id=entry_id,
    )


class AttachmentService:
    def __init__(
        self,
        transactions: Transactions,
        store: Store,
        max_file_bytes: int,
    ) -> None:
        self.tx = transactions
        self.store = store
        self.max_file_bytes = max_file_bytes

    async def attach(
        self, scope: Scope, packet_id: str, entry_id: str, upload: Upload
    ) -> PacketContent:
        async with self.tx.read(scope) as work:  # refuse before receiving the bytes
            lifecycle.EDIT.check(await load_packet(work, packet_id))
            await entry_row(work, packet_id, entry_id)
        received = await upload.receive(self.store.staging, self.max_file_bytes)
        spooled = received.spooled
        try:
            await store_blob(self.store, spooled.sha256, spooled.path)
            async with self.tx.write(scope) as work:
                await lock_packet(work, packet_id, lifecycle.EDIT)
                old = attached_file(await entry_row(work, packet_id, entry_id))
                await claim_blob(work.conn, spooled.sha256, spooled.size)
                await store_blob(self.store, spooled.sha256, spooled.path)  # still there
                row = await _point_at(work, entry_id, received)
                await work.conn.execute(
                    work.scope.update(packets)
                    .where(packets.c.id == packet_id)
                    .values(
                        size_bytes=packets.c.size_bytes + spooled.size - (old.size if old else 0)
                    )
                )
                await _log_attached(work, packet_id, entry_id, row, spooled, old)
                if old is not None and old.sha256 != spooled.sha256:
                    work.orphan(old.sha256)
        finally:
            spooled.discard()
        return content_from_row(row)

    async def open(
        self, scope: Scope, packet_id: str, entry_id: str, wanted: Wanted = WHOLE
    ) -> OpenedFile:
        async with self.tx.read(scope) as work:
            await load_packet(work, packet_id)
            return await open_attached(work, self.store, packet_id, entry_id, wanted)


async def open_attached(
    work: UnitOfWork, store: Store, packet_id: str, entry_id: str, wanted: Wanted = WHOLE
) -> OpenedFile:
    """The item's attached file, opened for reading the part `wanted` asks for (404 when it
    has none, 409 when its stored file is missing, 416 for a range of none of its bytes)."""
    file = attached_file(await entry_row(work, packet_id, entry_id))
    if file is None:
        raise NotFound(f"content entry {entry_id} of packet {packet_id} has no attached file")
    etag = strong_etag(file.sha256)
    key = blob_key(file.sha256)
    try:
        source, span = await open_part(partial(store.open, key), file.size, wanted, etag)
    except ObjectMissing:
        raise StoredFileBroken(f"the stored file {file.sha256} is missing") from None
    return OpenedFile(source, file, span, etag)
