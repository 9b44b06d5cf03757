"""Exporting a packet as a verifiable bundle, and serving the exported file back.

A bundle is assembled on this machine (scratch under the work folder) and then put in the store
under `exports/<name>`, which its row names (`store_key`), so any server sharing the database
and the store serves its download. A bundle written where a command was told (`export -o`)
stays only there, and so does every export made before the store: their rows name a path.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from ..core.byte_ranges import WHOLE, ByteSource, Span, Wanted, strong_etag
from ..core.clock import to_text
from ..core.places import place_in
from ..core.spool import hash_file
from ..core.store import (
    FileReader,
    ObjectMissing,
    Reader,
    ReaderSource,
    Store,
    export_key,
    open_part,
)
from ..core.unit_of_work import Transactions
from ..custody import log as custody
from ..db.scope import Scope
from ..db.tables import packet_exports
from ..errors import Conflict, NotFound, StoredFileBroken
from ..frame.resolver import ItemResolver
from ..models import ExportFormat, PacketExportResult, utcnow
from ..sealing.checksum import RECIPE_VERSION, checksum_of
from ..version import __version__
from .carried import Carried, carried_by_export
from .export_plan import Plan, plan_export
from .format.document import BundleDocument
from .format.progress import Progress
from .format.writer import SourceChanged, write_bag, write_json
from .scratch import scratch_folder
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
    source: ByteSource
    name: str
    media_type: str
    span: Span | None = None  # the range to answer, None for the whole file
    etag: str | None = None


@dataclass(kw_only=True)
class SealedBundle(Download):
    """A sealed version's bundle, open for reading; its file is already gone from the disk."""

    sha256: str
    version: int


def download_url(packet_id: str, export_id: str) -> str:
    return f"/api/packets/{packet_id}/exports/{export_id}"


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
        async with scratch_folder(self.store.modes, self.work_dir) as staging:
            plan = await plan_export(
                state, staging, authorization, carried, self.resolver, self.store
            )
            target = destination or staging / name
            size, digest = await asyncio.to_thread(
                self._write, plan, state, export_format, target, moment, progress
            )
            if key is not None:
                await self.store.put(key, target)
        exported_at, shown = await self._record(
            scope,
            packet_id,
            export_id,
            export_format,
            target,
            key,
            size,
            digest,
            len(state.contents),
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

    async def _record(
        self,
        scope: Scope,
        packet_id: str,
        export_id: str,
        export_format: ExportFormat,
        target: Path,
        key: str | None,
        size: int,
        digest: str,
        count: int,
    ) -> tuple[datetime, str]:
        """The export in the packet's custody log and its list of exports, and its event; when
        it was made and how answers name its file."""
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
                contents_exported=count,
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
                        contents_exported=count,
                    )
                )
            )
            work.emit(
                "packets.packet.exported",
                packet_id=packet_id,
                format=export_format.value,
                file_path=shown,
            )
        return exported_at, shown

    async def open(
        self, scope: Scope, packet_id: str, export_id: str, wanted: Wanted = WHOLE
    ) -> Download:
        """The export's file, opened for the part `wanted` asks for; the download is recorded
        in the packet's custody log, a range with the bytes it hands over (`range`). A range
        of none of its bytes is 416 and recorded nowhere."""
        async with self.tx.write(scope) as work:
            row = await work.first(
                work.scope.select(packet_exports).where(
                    packet_exports.c.id == export_id,
                    packet_exports.c.packet_id == packet_id,
                )
            )
            if row is None:
                raise NotFound(f"export {export_id} of packet {packet_id} not found")
            etag = strong_etag(row["sha256"])
            try:
                source, span = await open_part(self._opener(row), row["file_size"], wanted, etag)
            except (ObjectMissing, FileNotFoundError):
                raise NotFound(f"the file of export {export_id} is no longer there") from None
            try:
                await custody.append(
                    work,
                    packet_id,
                    "export_downloaded",
                    export_id=export_id,
                    format=row["export_format"],
                    sha256=row["sha256"],
                    **({} if span is None else {"range": span.content_range}),
                )
            except BaseException:
                source.close()
                raise
        media_type = MEDIA_TYPES[ExportFormat(row["export_format"])]
        return Download(source, row["file_name"], media_type, span, etag)

    def _opener(self, row: Any) -> Callable[[int, int | None], Awaitable[Reader]]:
        """Opens the export's file: from the store; a file an export wrote outside it (see the
        module's docstring) from this machine's disk, where it was written."""
        if row["store_key"] is not None:
            return partial(self.store.open, row["store_key"])
        return partial(FileReader.open, Path(row["file_path"]))

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
        async with scratch_folder(self.store.modes, self.work_dir) as staging:
            plan = await plan_export(state, staging, None, carried, STORED_ONLY, self.store)
            target = staging / f"bundle.{export_format.value}"
            size, digest = await asyncio.to_thread(
                self._write, plan, state, export_format, target, state.sealed_at, None
            )
            handle = await asyncio.to_thread(open, target, "rb")
        version = state.packet.version
        return SealedBundle(
            ReaderSource(FileReader(handle, size), 0, size),
            f"packet-{packet_id}-v{version}.{export_format.value}",
            MEDIA_TYPES[export_format],
            sha256=digest,
            version=version,
        )

    async def _state(self, scope: Scope, packet_id: str) -> tuple[PacketState, Carried]:
        async with self.tx.read(scope, settled=True, bulk=True) as work:
            return await carried_by_export(work, await export_state(work, packet_id))

    @staticmethod
    def _file_name(
        state: PacketState, export_format: ExportFormat, moment: datetime, export_id: str
    ) -> str:
        """A file of its own for every export, so its download serves the bytes whose digest
        it answered for as long as it is kept, whatever is exported after it."""
        packet = state.packet
        stamp = f"v{packet.version}" if state.sealed else moment.strftime("%Y%m%dT%H%M%S%fZ")
        return f"packet-{packet.id}-{stamp}-{export_id}.{export_format.value}"

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
