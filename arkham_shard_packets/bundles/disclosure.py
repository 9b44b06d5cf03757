"""Disclosing some items of a sealed version: a bundle that proves them part of the signed
seal and carries nothing else of the packet (bundles/format/disclosure.py), stored and
downloaded as an export is, and recorded in the packet's custody log (`disclosed`)."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert

from ..core.canonical import canonical_json
from ..core.clock import to_text
from ..core.spool import hash_file
from ..core.store import (
    FileReader,
    ObjectMissing,
    ReaderSource,
    Store,
    blob_key,
    download,
    export_key,
)
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody import log as custody
from ..custody.seals import item_salts, load_seal
from ..db.scope import Scope
from ..db.tables import packet_exports, packet_seals
from ..errors import Conflict, InvalidInput, SnapshotDamaged, StoredFileBroken
from ..models import ExportFormat, PacketExportResult, utcnow
from ..records.packets import load_packet_row
from ..sealing.checksum import Record
from ..sealing.item_proofs import SealedItems, disclose
from ..sealing.statement import STATEMENT_FORMAT, Seal
from ..version import __version__
from ..versions.history import load_version, read_snapshot
from .export import MEDIA_TYPES, SealedBundle
from .format.disclosure import data_path, file_path, render_disclosure, write_disclosure_json
from .format.seal_file import SEAL_FILE, render_seal
from .format.writer import PayloadFile, SourceChanged, write_bag
from .scratch import scratch_folder

MAX_ITEMS = 10_000


@dataclass
class Disclosed:
    """What a disclosure is made of, read in one transaction."""

    seal: Seal
    document: dict[str, Any]
    records: list[Record]  # the disclosed items' content records, in index order


class DisclosureService:
    def __init__(self, transactions: Transactions, store: Store, work_dir: Path) -> None:
        self.tx = transactions
        self.store = store
        self.work_dir = work_dir

    async def disclose(
        self,
        scope: Scope,
        packet_id: str,
        item_ids: list[str],
        export_format: ExportFormat,
        version: int | None = None,
        recipient: str | None = None,
    ) -> PacketExportResult:
        async with self.tx.read(scope, settled=True, bulk=True) as work:
            disclosed = await read_disclosed(work, packet_id, item_ids, version)
        number = disclosed.document["version"]
        export_id = str(uuid.uuid4())
        name = f"disclosure-{packet_id}-v{number}-{export_id}.{export_format.value}"
        async with scratch_folder(self.store.modes, self.work_dir) as staging:
            payload = await self._payload(disclosed, staging, packet_id)
            target = staging / name
            size, digest = await asyncio.to_thread(
                self._write, disclosed, payload, export_format, target
            )
            await self.store.put(export_key(name), target)
        key = export_key(name)
        exported_at = await self._record(
            scope, disclosed, export_id, export_format, key, size, digest, recipient
        )
        return PacketExportResult(
            packet_id=packet_id,
            export_format=export_format,
            file_path=key,
            file_size_bytes=size,
            exported_at=exported_at,
            contents_exported=len(disclosed.records),
            export_id=export_id,
            sha256=digest,
        )

    async def link_bundle(
        self,
        scope: Scope,
        packet_id: str,
        item_ids: list[str],
        version: int,
        export_format: ExportFormat,
    ) -> SealedBundle:
        """The disclosure a share link limited to items hands over: made on request under the
        work folder, opened, and its file removed; neither stored nor recorded here (the link
        records its use, with the bundle's SHA-256)."""
        async with self.tx.read(scope, settled=True, bulk=True) as work:
            disclosed = await read_disclosed(work, packet_id, item_ids, version)
        async with scratch_folder(self.store.modes, self.work_dir) as staging:
            payload = await self._payload(disclosed, staging, packet_id)
            target = staging / f"disclosure.{export_format.value}"
            size, digest = await asyncio.to_thread(
                self._write, disclosed, payload, export_format, target
            )
            handle = await asyncio.to_thread(open, target, "rb")
        return SealedBundle(
            ReaderSource(FileReader(handle, size), 0, size),
            f"disclosure-{packet_id}-v{version}.{export_format.value}",
            MEDIA_TYPES[export_format],
            sha256=digest,
            version=version,
        )

    async def _record(
        self,
        scope: Scope,
        disclosed: Disclosed,
        export_id: str,
        export_format: ExportFormat,
        key: str,
        size: int,
        digest: str,
        recipient: str | None,
    ) -> datetime:
        """The disclosure in the packet's custody log and its list of exports, and its event."""
        exported_at = utcnow()
        async with self.tx.write(scope) as work:
            await custody.append(
                work,
                disclosed.document["packet_id"],
                "disclosed",
                export_id=export_id,
                version=disclosed.document["version"],
                items=[record["id"] for record in disclosed.records],
                indexes=[item["index"] for item in disclosed.document["items"]],
                items_count=disclosed.document["items_count"],
                recipient=recipient,
                format=export_format.value,
                sha256=digest,
                size=size,
            )
            await work.conn.execute(
                insert(packet_exports).values(
                    work.scope.row(
                        id=export_id,
                        packet_id=disclosed.document["packet_id"],
                        export_format=export_format.value,
                        file_name=key.rsplit("/", 1)[-1],
                        file_path=key,
                        store_key=key,
                        file_size=size,
                        sha256=digest,
                        exported_at=to_text(exported_at),
                        exported_by=scope.actor,
                        contents_exported=len(disclosed.records),
                    )
                )
            )
            work.emit(
                "packets.packet.exported",
                packet_id=disclosed.document["packet_id"],
                format=export_format.value,
                file_path=key,
            )
        return exported_at

    async def _payload(
        self, disclosed: Disclosed, staging: Path, packet_id: str
    ) -> list[PayloadFile]:
        payload = []
        for item, record in zip(disclosed.document["items"], disclosed.records, strict=True):
            index = item["index"]
            if record.get("data") is not None:
                data = canonical_json(record["data"]).encode("utf-8")
                source = staging / f"data-{index}.json"
                await asyncio.to_thread(source.write_bytes, data)
                payload.append(PayloadFile(data_path(index), source, len(data), text=True))
            sha256 = record.get("file_sha256")
            if sha256 is not None:
                source = await self._fetched(sha256, staging, packet_id)
                path = file_path(index, record.get("file_name") or "file")
                payload.append(PayloadFile(path, source, int(record["file_size"]), sha256))
        return payload

    async def _fetched(self, sha256: str, staging: Path, packet_id: str) -> Path:
        """An attached file in place on this machine's disk, else fetched from the store; the
        writer checks its digest as it reads it."""
        local = self.store.local_path(blob_key(sha256))
        if local is not None:
            return local
        target = staging / f"file-{sha256}"
        if not target.exists():
            try:
                await download(self.store, blob_key(sha256), target, self.store.modes)
            except ObjectMissing:
                raise StoredFileBroken(f"a stored file of packet {packet_id} is missing") from None
        return target

    def _write(
        self,
        disclosed: Disclosed,
        payload: list[PayloadFile],
        export_format: ExportFormat,
        target: Path,
    ) -> tuple[int, str]:
        try:
            self._write_file(disclosed, payload, export_format, target)
        except SourceChanged as error:
            raise StoredFileBroken(
                f"a stored file of a disclosed item is damaged: {error}"
            ) from None
        return hash_file(target)

    def _write_file(
        self,
        disclosed: Disclosed,
        payload: list[PayloadFile],
        export_format: ExportFormat,
        target: Path,
    ) -> None:
        document = disclosed.document
        with self.store.modes.create(target) as out:
            if export_format is ExportFormat.JSON:
                write_disclosure_json(out, document, disclosed.seal, payload)
            else:
                info = [
                    ("Bag-Software-Agent", f"arkham-shard-packets {__version__}"),
                    ("Bagging-Date", utcnow().date().isoformat()),
                    ("External-Identifier", document["packet_id"]),
                    ("Packet-Version", str(document["version"])),
                    ("Disclosed-Items", f"{len(document['items'])} of {document['items_count']}"),
                ]
                tags = [
                    (SEAL_FILE, render_seal(disclosed.seal)),
                    ("disclosure.json", render_disclosure(document)),
                ]
                root = f"disclosure-{document['packet_id']}-v{document['version']}"
                write_bag(out, export_format.value, root, payload, info, utcnow(), None, tags)
            out.flush()
            os.fsync(out.fileno())


async def read_disclosed(
    work: UnitOfWork, packet_id: str, item_ids: list[str], version: int | None
) -> Disclosed:
    """What disclosing `item_ids` of the version (default the latest sealed) is made of: 404
    for a packet the caller doesn't see, 409 for a version without item proofs, 422 for an id
    that is not an item of it."""
    await load_packet_row(work, packet_id)  # 404 for a packet the caller doesn't see
    if version is None:
        version = await _latest_sealed(work, packet_id)
    found = await load_seal(work, packet_id, version)
    if found is None:
        raise Conflict(f"version {version} of packet {packet_id} is not sealed")
    seal = found[0]
    salts = await item_salts(work, packet_id, version)
    if salts is None or seal.statement.get("format") != STATEMENT_FORMAT:
        raise Conflict(
            f"the seal of version {version} of packet {packet_id} commits to no items one "
            f"by one (only seals signed here in format {STATEMENT_FORMAT} do): its items "
            "can be proven only with the whole packet, by an export"
        )
    body = await read_snapshot(work, await load_version(work, packet_id, version))
    items = SealedItems.of(body["contents"])
    tree = items.tree(salts)
    if tree.root.hex() != seal.statement["items_root"]:
        raise SnapshotDamaged(
            f"the items of version {version} of packet {packet_id} no longer give the "
            "items_root its seal signed"
        )
    index_of = {record["id"]: index for index, record in enumerate(items.records)}
    unknown = [item_id for item_id in item_ids if item_id not in index_of]
    if unknown:
        raise InvalidInput(
            f"not items of version {version} of packet {packet_id}: {', '.join(unknown[:10])}"
        )
    indexes = sorted({index_of[item_id] for item_id in item_ids})
    document = {
        "packet_id": packet_id,
        "version": version,
        "items_count": len(items.entries),
        "items_root": seal.statement["items_root"],
        "items": disclose(items, salts, indexes, tree),
    }
    return Disclosed(seal, document, [items.records[index] for index in indexes])


async def _latest_sealed(work: UnitOfWork, packet_id: str) -> int:
    latest = (
        await work.conn.execute(
            work.scope.select(packet_seals, func.max(packet_seals.c.version_number)).where(
                packet_seals.c.packet_id == packet_id
            )
        )
    ).scalar_one()
    if latest is None:
        raise Conflict(f"packet {packet_id} has no sealed version to disclose items of")
    return int(latest)
