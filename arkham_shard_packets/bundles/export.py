"""Exporting a packet as a verifiable bundle, and serving the exported file back.

A bundle is assembled on this machine (scratch under the work folder) and then put in the store
under `exports/<name>`, which its row names (`store_key`), so any server sharing the database
and the store serves its download. A bundle written where a command was told (`export -o`)
stays only there, and so does every export made before the store: their rows name a path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from ..core.clock import to_text
from ..core.places import place_in
from ..core.spool import hash_file
from ..core.store import FileReader, ObjectMissing, Reader, Store, blob_key, download, export_key
from ..core.unit_of_work import Transactions
from ..custody import log as custody
from ..db.scope import Scope
from ..db.tables import packet_exports
from ..errors import Conflict, NotFound, StoredFileBroken
from ..frame.resolver import ItemResolver, Resolved, unowned_report
from ..models import ExportFormat, PacketContent, PacketExportResult, utcnow
from ..sealing.checksum import RECIPE_VERSION, checksum_of, data_sha256
from ..version import __version__
from .carried import Carried, carried_by_export
from .format.document import (
    FORMAT_VERSION,
    PACKET_JSON,
    BundleDocument,
    BundleItem,
    BundlePacket,
    FileRef,
    Resolution,
    file_path,
    item_path,
    render,
)
from .format.progress import Progress
from .format.writer import InlineItem, PayloadFile, SourceChanged, write_bag, write_json
from .state import PacketState, export_state

# What the packet holds and nothing the Frame would add: a share link's bundle.
STORED_ONLY = ItemResolver(None)

MEDIA_TYPES = {
    ExportFormat.ZIP: "application/zip",
    ExportFormat.TAR_GZ: "application/gzip",
    ExportFormat.JSON: "application/json",
}


@dataclass
class Download:
    handle: Reader
    name: str
    media_type: str
    size: int


@dataclass
class SealedBundle(Download):
    """A sealed version's bundle, open for reading; its file is already gone from the disk."""

    sha256: str
    version: int


@dataclass
class Plan:
    document: BundleDocument
    payload: list[PayloadFile]
    inline: list[InlineItem]
    errors: list[str]  # what could not be exported
    warnings: list[str]  # exported, but worth knowing
    carried: Carried


def download_url(packet_id: str, export_id: str) -> str:
    return f"/api/packets/{packet_id}/exports/{export_id}"


def _write_json_file(path: Path, value: Any) -> int:
    data = (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    path.write_bytes(data)
    return len(data)


class ExportService:
    def __init__(
        self,
        transactions: Transactions,
        store: Store,
        resolver: ItemResolver,
        exports_dir: Path,
        work_dir: Path,
    ) -> None:
        self.tx = transactions
        self.store = store
        self.resolver = resolver
        self.exports_dir = exports_dir
        self.work_dir = work_dir

    async def export(
        self,
        scope: Scope,
        packet_id: str,
        export_format: ExportFormat,
        *,
        destination: Path | None = None,
        authorization: str | None = None,
        progress: Progress | None = None,
    ) -> PacketExportResult:
        state, carried = await self._state(scope, packet_id)
        moment = state.sealed_at or utcnow()
        export_id = str(uuid.uuid4())
        name = self._file_name(state, export_format, moment, export_id)
        key = None if destination is not None else export_key(name)
        async with self._staging() as staging:
            plan = await self._plan(state, staging, authorization, carried)
            target = destination or staging / name
            size, digest = await asyncio.to_thread(
                self._write, plan, state, export_format, target, moment, progress
            )
            if key is not None:
                await self.store.put(key, target)
        exported_at = utcnow()
        # Answers and events name a stored bundle by its key, which is its place in the data
        # directory on the local store (`exports/<name>`); only a file written where the caller
        # asked (the command line) is named as the caller named it.
        shown = key or place_in(self.exports_dir.parent, target) or str(target)
        async with self.tx.write(scope) as work:
            # the packet's row is locked (by the custody entry) before the export row that
            # refers to it is written: in the other order two exports of one packet deadlock
            # (each insert's foreign key check holds a share lock the other's update waits on)
            await custody.append(
                work,
                packet_id,
                "exported",
                export_id=export_id,
                format=export_format.value,
                sha256=digest,
                size=size,
                contents_exported=len(state.contents),
            )
            await work.conn.execute(
                insert(packet_exports).values(
                    work.scope.row(  # the packet's tenant, entered by the custody entry
                        id=export_id,
                        packet_id=packet_id,
                        export_format=export_format.value,
                        file_name=target.name,
                        file_path=key or str(target),
                        store_key=key,
                        file_size=size,
                        sha256=digest,
                        exported_at=to_text(exported_at),
                        exported_by=scope.actor,
                        contents_exported=len(state.contents),
                    )
                )
            )
            work.emit(
                "packets.packet.exported",
                packet_id=packet_id,
                format=export_format.value,
                file_path=shown,
            )
        return PacketExportResult(
            packet_id=packet_id,
            export_format=export_format,
            file_path=shown,
            file_size_bytes=size,
            exported_at=exported_at,
            contents_exported=len(state.contents),
            errors=plan.errors,
            export_id=export_id,
            sha256=digest,
            warnings=plan.warnings,
        )

    async def open(self, scope: Scope, packet_id: str, export_id: str) -> Download:
        """The export's file, opened; the download is recorded in the packet's custody log."""
        async with self.tx.write(scope) as work:
            row = await work.first(
                work.scope.select(packet_exports).where(
                    packet_exports.c.id == export_id,
                    packet_exports.c.packet_id == packet_id,
                )
            )
            if row is None:
                raise NotFound(f"export {export_id} of packet {packet_id} not found")
            handle = await self._open_file(row)
            try:
                await custody.append(
                    work,
                    packet_id,
                    "export_downloaded",
                    export_id=export_id,
                    format=row["export_format"],
                    sha256=row["sha256"],
                )
            except BaseException:
                await handle.aclose()
                raise
        media_type = MEDIA_TYPES[ExportFormat(row["export_format"])]
        return Download(handle, row["file_name"], media_type, handle.size)

    async def _open_file(self, row: Any) -> Reader:
        """From the store; a file an export wrote outside it (see the module's docstring) from
        this machine's disk, where it was written."""
        try:
            if row["store_key"] is not None:
                return await self.store.open(row["store_key"])
            return await FileReader.open(Path(row["file_path"]))
        except (ObjectMissing, FileNotFoundError):
            raise NotFound(f"the file of export {row['id']} is no longer there") from None

    async def sealed_bundle(
        self, scope: Scope, packet_id: str, export_format: ExportFormat
    ) -> SealedBundle:
        """The sealed version's bundle as an export of it carries it (the tag files aside: the
        custody log as it stands now), for a share link: written under the work folder, opened,
        and its file removed, so nothing is left on the disk whatever becomes of the answer.
        No export is recorded; the caller records whom it went to. Only what the packet holds:
        a link has no user's credentials to ask the Frame with, so an item without stored
        data is carried unresolved. 409 for a draft."""
        state, carried = await self._state(scope, packet_id)
        if state.sealed_at is None:
            raise Conflict(
                f"packet {packet_id} is a draft; a bundle is offered only for a sealed version"
            )
        async with self._staging() as staging:
            plan = await self._plan(state, staging, None, carried, STORED_ONLY)
            target = staging / f"bundle.{export_format.value}"
            size, digest = await asyncio.to_thread(
                self._write, plan, state, export_format, target, state.sealed_at, None
            )
            handle = await FileReader.open(target)
        version = state.packet.version
        return SealedBundle(
            handle,
            f"packet-{packet_id}-v{version}.{export_format.value}",
            MEDIA_TYPES[export_format],
            size,
            digest,
            version,
        )

    async def _state(self, scope: Scope, packet_id: str) -> tuple[PacketState, Carried]:
        async with self.tx.read(scope, settled=True) as work:
            return await carried_by_export(work, await export_state(work, packet_id))

    @contextlib.asynccontextmanager
    async def _staging(self) -> AsyncIterator[Path]:
        """A private folder of its own under the work folder, removed with all it holds."""
        await asyncio.to_thread(self.store.modes.make_folder, self.work_dir)
        staging = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=self.work_dir))
        try:
            yield staging
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)

    @staticmethod
    def _file_name(
        state: PacketState, export_format: ExportFormat, moment: datetime, export_id: str
    ) -> str:
        """A file of its own for every export, so its download serves the bytes whose digest
        it answered for as long as it is kept, whatever is exported after it."""
        packet = state.packet
        stamp = f"v{packet.version}" if state.sealed else moment.strftime("%Y%m%dT%H%M%S%fZ")
        return f"packet-{packet.id}-{stamp}-{export_id}.{export_format.value}"

    async def _plan(
        self,
        state: PacketState,
        staging: Path,
        authorization: str | None,
        carried: Carried,
        resolver: ItemResolver | None = None,
    ) -> Plan:
        payload: list[PayloadFile] = []
        inline: list[InlineItem] = []
        items: list[BundleItem] = []
        errors: list[str] = []
        warnings: list[str] = []  # an unresolved item's record is exported all the same
        unowned: list[PacketContent] = []
        fetched: dict[str, Path] = {}
        for index, item in enumerate(state.contents, start=1):
            label = f"{item.content_type.value} {item.content_id}"
            resolved = await (resolver or self.resolver).resolve(item, staging, authorization)
            resolution = Resolution(source=resolved.source)
            if resolved.original_error is not None:
                errors.append(
                    f"{label}: its original file was not exported ({resolved.original_error})"
                )
            if resolved.unowned:
                unowned.append(item)
            elif resolved.source == "unresolved":
                warnings.append(f"{label}: unresolved ({resolved.error})")
            else:
                resolution.path = item_path(index, item.content_type)
                payload.append(await self._item_file(resolution.path, item, resolved, staging))
            stored = original = None
            file_ref = original_ref = None
            if item.file is not None:
                path = file_path(index, item.file.name)
                source = await self._stored_file(item.file.sha256, staging, fetched, state)
                stored = PayloadFile(path, source, item.file.size, item.file.sha256)
                file_ref = FileRef(
                    name=item.file.name,
                    media_type=item.file.media_type,
                    size=item.file.size,
                    sha256=item.file.sha256,
                    path=path,
                )
            if resolved.original is not None:
                size, digest = await asyncio.to_thread(hash_file, resolved.original.path)
                path = file_path(index, resolved.original.name, "originals")
                original = PayloadFile(path, resolved.original.path, size, digest)
                original_ref = FileRef(
                    name=resolved.original.name,
                    media_type=resolved.original.media_type,
                    size=size,
                    sha256=digest,
                    path=path,
                )
            payload.extend(entry for entry in (stored, original) if entry is not None)
            inline.append(InlineItem(resolved.data, stored, original))
            items.append(
                BundleItem(
                    content_type=item.content_type,
                    content_id=item.content_id,
                    content_title=item.content_title,
                    order=item.order,
                    added_at=to_text(item.added_at),
                    added_by=item.added_by,
                    data=item.data,
                    data_sha256=data_sha256(item.data),
                    file=file_ref,
                    original_file=original_ref,
                    resolution=resolution,
                )
            )
        if unowned:
            warnings.append(unowned_report(unowned))
        document = self._document(state, items)
        packet_json = staging / "packet.json"
        size = await asyncio.to_thread(packet_json.write_bytes, render(document))
        payload.append(PayloadFile(PACKET_JSON, packet_json, size, text=True))
        return Plan(document, payload, inline, errors, warnings, carried)

    async def _stored_file(
        self, sha256: str, staging: Path, fetched: dict[str, Path], state: PacketState
    ) -> Path:
        """An attached file where the bundle's writer reads it: in place on this machine's disk,
        else fetched from the store into the scratch folder (once per digest). The writer
        checks every file's digest as it reads it."""
        key = blob_key(sha256)
        local = self.store.local_path(key)
        if local is not None:
            return local
        if sha256 not in fetched:
            target = staging / f"file-{sha256}"
            try:
                await download(self.store, key, target, self.store.modes)
            except ObjectMissing:
                raise StoredFileBroken(
                    f"a stored file of packet {state.packet.id} is missing"
                ) from None
            fetched[sha256] = target
        return fetched[sha256]

    @staticmethod
    async def _item_file(path: str, item: Any, resolved: Resolved, staging: Path) -> PayloadFile:
        source = staging / f"item-{uuid.uuid4().hex}.json"
        body = {
            "content_type": item.content_type.value,
            "content_id": item.content_id,
            "content_title": item.content_title,
            "source": resolved.source,
            "data": resolved.data,
        }
        size = await asyncio.to_thread(_write_json_file, source, body)
        return PayloadFile(path, source, size, text=True)

    @staticmethod
    def _document(state: PacketState, items: list[BundleItem]) -> BundleDocument:
        packet = state.packet
        return BundleDocument(
            format="arkham-packet",
            format_version=FORMAT_VERSION,
            packet=BundlePacket(
                id=packet.id,
                name=packet.name,
                description=packet.description,
                status=packet.status,
                visibility=packet.visibility,
                created_by=packet.created_by,
                created_at=to_text(packet.created_at),
                updated_at=to_text(packet.updated_at),
                finalized_at=None if state.sealed_at is None else to_text(state.sealed_at),
                version=packet.version,
                contents_count=len(items),
                size_bytes=packet.size_bytes,
                checksum=packet.checksum,
                checksum_recipe=RECIPE_VERSION,
                metadata=packet.metadata,
            ),
            contents=items,
        )

    def _write(
        self,
        plan: Plan,
        state: PacketState,
        export_format: ExportFormat,
        target: Path,
        moment: datetime,
        progress: Progress | None,
    ) -> tuple[int, str]:
        """Write to a temporary file beside the target, then rename it into place."""
        self.store.modes.make_folder(target.parent)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            with self.store.modes.create(temp) as out:
                if export_format is ExportFormat.JSON:
                    write_json(
                        out, plan.document, plan.inline, progress, plan.carried.json_members()
                    )
                else:
                    write_bag(
                        out,
                        export_format.value,
                        f"packet-{state.packet.id}",
                        plan.payload,
                        self._bag_info(state, plan.document, moment),
                        moment,
                        progress,
                        plan.carried.bag_tags(),
                    )
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except SourceChanged as error:
            raise StoredFileBroken(
                f"a stored file of packet {state.packet.id} is damaged: {error}"
            ) from None
        except FileNotFoundError:  # its message would name the server's path
            raise StoredFileBroken(
                f"a stored file of packet {state.packet.id} is missing"
            ) from None
        finally:
            temp.unlink(missing_ok=True)
        return hash_file(target)

    @staticmethod
    def _bag_info(
        state: PacketState, document: BundleDocument, moment: datetime
    ) -> list[tuple[str, str]]:
        return [
            ("Bag-Software-Agent", f"arkham-shard-packets {__version__}"),
            ("Bagging-Date", moment.date().isoformat()),
            ("External-Identifier", state.packet.id),
            ("Packet-Checksum", checksum_of(document.packet, document.contents)),
            ("Packet-Checksum-Recipe", str(RECIPE_VERSION)),
            ("Packet-Status", state.packet.status.value),
            ("Packet-Version", str(state.packet.version)),
        ]
