"""Importing a bundle: everything is verified (bundles/format/verify.py) before anything is written,
then one transaction creates or updates the packet as the merge mode says.

  replace (default): no packet with the bundle's id -> created with that id; an existing draft
                     -> its metadata and contents become the bundle's; anything else -> 409.
  merge:             like replace, but an existing draft keeps its contents and gains the
                     bundle's items it lacks (same content_type and content_id).
  skip:              an existing packet is left untouched; the answer says it was skipped.
"Existing" is a packet the importer sees: a new packet takes an id of the importer's own unless
the bundle's id is free for it to take (bundles/packet_ids.py), so that the answer is the
same whether or not another tenant has a packet with the bundle's id. A verified finalized
bundle is imported finalized, with its checksum; shares never travel. The bundle's account of
who made the packet is kept as a claim (bundles/claims.py): here the importer made it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import exc, insert

from ..attachments.service import claim_blob, store_blob
from ..attachments.uploads import Upload
from ..core.canonical import canonical_json
from ..core.clock import now_text
from ..core.file_names import clean_file_name, clean_media_type
from ..core.places import place_in, shown_path
from ..core.store import EXPORTS, Store, download
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody.imports import record_import
from ..db.scope import Scope
from ..db.tables import packet_contents, packet_exports, packets
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..keys.trust import TrustedKeys
from ..models import MergeMode, PacketImportResult, PacketStatus, VersionKind, utcnow
from ..records import lifecycle
from ..records.packets import RowLike, load_contents, load_packet, stored_size
from ..sealing.checksum import RECIPE_VERSION, checksum_of
from ..versions.history import record_version
from .claims import claims, claims_text
from .format.document import BundleDocument, BundleItem
from .format.limits import ImportLimits
from .format.progress import Progress
from .format.verify import VerifiedBundle, open_bundle
from .packet_ids import ids_to_find, ids_to_take
from .proof import Proof, examine, flag_of
from .server_paths import path_refused

BATCH = 1000  # content rows per INSERT statement (executemany), not one round trip each


def _is_inside(path: Path, folder: Path) -> bool:
    return path.is_relative_to(folder.resolve())


def _is_one_of(path: Path, candidates: list[str]) -> bool:
    return any(Path(each).resolve() == path for each in candidates)


def merge_mode_of(value: str | None) -> MergeMode:
    try:
        return MergeMode(value or MergeMode.REPLACE.value)
    except ValueError:
        modes = ", ".join(mode.value for mode in MergeMode)
        raise InvalidInput(f"merge_mode must be one of {modes}") from None


class ImportService:
    def __init__(
        self,
        transactions: Transactions,
        store: Store,
        work_dir: Path,
        limits: ImportLimits,
        allowed_dirs: list[Path],
        exports_dir: Path | None = None,
        data_dir: Path | None = None,
        trust: TrustedKeys | None = None,
    ) -> None:
        self.tx = transactions
        self.trust = trust or TrustedKeys()
        self.store = store
        self.work_dir = work_dir
        self.limits = limits
        self.allowed_dirs = allowed_dirs
        self.exports_dir = exports_dir
        # A relative `file_path` is a place in the data directory, as export answers name it.
        self.data_dir = data_dir if data_dir is not None else Path.cwd()

    async def import_upload(self, scope: Scope, upload: Upload) -> PacketImportResult:
        await asyncio.to_thread(self.store.modes.make_folder, self.work_dir)
        received = await upload.receive(self.work_dir, self.limits.max_archive_bytes)
        try:
            mode = merge_mode_of(received.fields.get("merge_mode"))
            unverified = flag_of(received.fields.get("allow_unverified"), "allow_unverified")
            source = f"upload:{clean_file_name(received.filename)}"
            return await self.import_file(
                scope, received.spooled.path, mode, source, allow_unverified=unverified
            )
        finally:
            received.spooled.discard()

    async def import_path(
        self, scope: Scope, file_path: str, mode: MergeMode, *, allow_unverified: bool = False
    ) -> PacketImportResult:
        """A server-side file: only inside an allowed import folder, after following links.
        The answer names it by its place in the data directory (or in its import folder)."""
        key = await self._stored_export(scope, file_path)
        if key is not None:
            return await self._import_stored(scope, key, mode, allow_unverified)
        resolved = await asyncio.to_thread(self._allowed, file_path)
        if not await self._readable_export(scope, resolved):
            raise NotFound(f"no file at {file_path}")
        source = await asyncio.to_thread(shown_path, self.data_dir, resolved, *self.allowed_dirs)
        return await self.import_file(
            scope, resolved, mode, source, allow_unverified=allow_unverified
        )

    async def _readable_export(self, scope: Scope, path: Path) -> bool:
        """A file in the shard's own export folder belongs to the tenant that exported it: only
        a file an export of the caller's scope wrote there may be imported by its path."""
        exports = self.exports_dir
        if exports is None or not await asyncio.to_thread(_is_inside, path, exports):
            return True
        statement = scope.select(
            packet_exports, packet_exports.c.file_path, packet_exports.c.store_key
        ).where(packet_exports.c.file_name == path.name)
        async with self.tx.read(scope) as work:
            rows = (await work.conn.execute(statement)).all()
        written = [str(self.data_dir / key) if key else file for file, key in rows]
        return await asyncio.to_thread(_is_one_of, path, written)

    async def _stored_export(self, scope: Scope, file_path: str) -> str | None:
        """The key of a bundle an export of the caller's scope put in a store that keeps it off
        this machine, when `file_path` names its place (`exports/<name>`, as the export's
        answer did) and the exports folder is an allowed import folder; else None."""
        if self.exports_dir is None or self.store.local_path(EXPORTS) is not None:
            return None
        key = await asyncio.to_thread(self._place_named, file_path)
        if key is None or not key.startswith(EXPORTS):
            return None
        statement = scope.select(packet_exports, packet_exports.c.id).where(
            packet_exports.c.store_key == key
        )
        async with self.tx.read(scope) as work:
            return key if await work.conn.scalar(statement) is not None else None

    def _place_named(self, file_path: str) -> str | None:
        """The place in the data directory `file_path` names, when in an allowed folder."""
        data_dir = self.data_dir.resolve()
        named = Path(os.path.normpath(data_dir / file_path))
        return place_in(data_dir, named) if self._inside(named) else None

    async def _import_stored(
        self, scope: Scope, key: str, mode: MergeMode, allow_unverified: bool
    ) -> PacketImportResult:
        """A stored export, fetched into the work folder and imported from there."""
        await asyncio.to_thread(self.store.modes.make_folder, self.work_dir)
        copy = self.work_dir / f".bundle-{uuid.uuid4().hex}"
        try:
            await download(self.store, key, copy, self.store.modes)
            return await self.import_file(scope, copy, mode, key, allow_unverified=allow_unverified)
        finally:
            copy.unlink(missing_ok=True)

    async def prepare(self) -> None:
        """Create the drop folders the data directory holds (`imports/`), so an operator finds
        where to put bundles; folders configured elsewhere are the operator's to make."""
        for folder in self.allowed_dirs:
            if folder.resolve().is_relative_to(self.data_dir.resolve()):
                await asyncio.to_thread(self.store.modes.make_folder, folder)

    def allowed_places(self) -> str:
        """The allowed folders as the 403 names them: a folder in the data directory by its
        place there (`imports/`), one configured elsewhere as configured."""
        data_dir = self.data_dir.resolve()
        inside: list[str] = []
        elsewhere: list[str] = []
        for folder in self.allowed_dirs:
            place = place_in(data_dir, folder.resolve())
            if place is None:
                elsewhere.append(str(folder))
            else:
                inside.append(f"{place}/")
        named = [" and ".join(inside) + " in the data directory"] if inside else []
        return "; ".join(named + elsewhere)

    def _allowed(self, file_path: str) -> Path:
        try:
            resolved = (self.data_dir / file_path).resolve()
        except (OSError, RuntimeError) as error:  # a loop of links: where it leads is unknown
            if not self._inside(Path(os.path.normpath(self.data_dir.resolve() / file_path))):
                raise self._outside(file_path) from None
            raise path_refused(file_path, error) from None
        if not self._inside(resolved):
            raise self._outside(file_path)
        try:
            if not resolved.is_file():
                raise NotFound(f"no file at {file_path}")
            with open(resolved, "rb"):  # what the import will read, refused now if it can't be
                pass
        except OSError as error:
            raise path_refused(file_path, error) from None
        return resolved

    def _inside(self, path: Path) -> bool:
        return any(path.is_relative_to(folder.resolve()) for folder in self.allowed_dirs)

    def _outside(self, file_path: str) -> Forbidden:
        return Forbidden(
            f"{file_path} is outside the allowed import folders ({self.allowed_places()}); "
            "put the bundle in one of them and give its path (a relative path is read from "
            "the data directory, as imports/<name>), or upload it as the multipart field "
            "'file'"
        )

    async def import_file(
        self,
        scope: Scope,
        path: Path,
        mode: MergeMode,
        source: str | None = None,
        progress: Progress | None = None,
        *,
        allow_unverified: bool = False,
    ) -> PacketImportResult:
        """Any file the caller may read (the CLI); routes go through the two methods above.
        A bundle whose seal or custody chain does not check is refused unless the caller
        `allow_unverified`: then it is imported and marked unverified."""
        await asyncio.to_thread(self.store.modes.make_folder, self.work_dir)
        workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=self.work_dir))
        try:
            bundle = await asyncio.to_thread(open_bundle, path, workdir, self.limits, progress)
            proof = await examine(self.tx, self.trust, scope, bundle, allow_unverified)
            return await self._apply(scope, bundle, mode, source or str(path), proof)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _apply(
        self, scope: Scope, bundle: VerifiedBundle, mode: MergeMode, source: str, proof: Proof
    ) -> PacketImportResult:
        document = bundle.document
        packet_id = document.packet.id
        # Nothing an import accepts fails in part: what it answers is worth knowing, no more.
        warnings = [
            f"{item.content_type.value} {item.content_id}: unresolved at export"
            for item in document.contents
            if item.resolution.source == "unresolved"
        ]
        await self._store_files(bundle)
        # built before the write lock is taken: it is held only for the statements
        prepared = {
            (item.content_type.value, item.content_id): self._content_row(scope, packet_id, item)
            for item in document.contents
        }
        async with self.tx.write(scope, bulk=True) as work:
            existing = await self._find_existing(work, document.packet.id)
            if existing is not None:
                packet_id = existing["id"]
            if existing is not None and mode is MergeMode.SKIP:
                noted = warnings + proof.trust_notes
                return self._result(
                    packet_id, source, 0, mode, noted, proof, scope.actor, skipped=True
                )
            if existing is not None:
                lifecycle.IMPORT_INTO.check_status(packet_id, PacketStatus(existing["status"]))
            keep = existing is not None and mode is MergeMode.MERGE
            seal = bundle.sealed and not keep
            if keep and bundle.sealed:
                warnings.append("merged into the existing draft: the bundle's seal does not apply")
            if existing is None:
                packet_id = await self._create(work, document, seal)
            else:
                await self._update(work, packet_id, document, seal)
            present: set[tuple[str, str]] = set()
            if keep:
                current = await load_contents(work, packet_id)
                present = {(c.content_type.value, c.content_id) for c in current}
            elif existing is not None:
                work.orphan(*await self._clear(work, packet_id))
            added = [
                item
                for item in document.contents
                if (item.content_type.value, item.content_id) not in present
            ]
            await self._place_files(work, added, bundle.files)
            rows = [prepared[(item.content_type.value, item.content_id)] for item in added]
            for row in rows:
                row.update(packet_id=packet_id, tenant_id=work.scope.tenant_id)
            for start in range(0, len(rows), BATCH):
                await work.conn.execute(insert(packet_contents), rows[start : start + BATCH])
            all_rows = None if keep else rows
            await self._totals(work, packet_id, all_rows, bundle if seal else None)
            version = await record_version(
                work,
                packet_id,
                VersionKind.FINALIZED if seal else VersionKind.IMPORTED,
                proof.mark
                + f"imported from {source} by {work.scope.actor}; {claims_text(document)}",
                at_least=document.packet.version if existing is None else 1,
            )
            await record_import(
                work,
                packet_id,
                proof.record(source, mode, document, len(added)),
                takes_history=existing is None or seal,
                sealed_version=version.version_number if seal else None,
            )
            work.emit("packets.packet.imported", packet_id=packet_id, import_source=source)
        warnings.extend(proof.warnings)
        return self._result(packet_id, source, len(added), mode, warnings, proof, scope.actor)

    async def _store_files(self, bundle: VerifiedBundle) -> None:
        """The verified attachments the store lacks, put in it before the transaction (which
        confirms each under its claim)."""
        for digest, path in sorted(bundle.files.items()):
            await store_blob(self.store, digest, path)

    async def _place_files(
        self, work: UnitOfWork, items: list[BundleItem], files: dict[str, Path]
    ) -> None:
        """Claim each new item's blob and confirm its bytes are stored (put again if a release
        took them meanwhile), in digest order so that concurrent imports sharing files never
        wait on each other in a cycle."""
        sizes = {item.file.sha256: item.file.size for item in items if item.file is not None}
        for digest in sorted(sizes):
            await claim_blob(work.conn, digest, sizes[digest])
            source = files.get(digest)
            if source is not None:
                await store_blob(self.store, digest, source)

    async def _find_existing(self, work: UnitOfWork, bundle_id: str) -> Any:
        """The packet the caller sees that the bundle is imported into, row-locked, if any."""
        for packet_id in ids_to_find(work.scope, bundle_id):
            row = await self._lock_existing(work, packet_id)
            if row is not None:
                return row
        return None

    async def _lock_existing(self, work: UnitOfWork, packet_id: str) -> Any:
        """Row-lock the packet without touching it (a skipped packet stays as it was); the work
        enters its tenant, so an import into a packet of no tenant leaves it one of no tenant."""
        statement = work.scope.select(packets).where(packets.c.id == packet_id).with_for_update()
        row = (await work.conn.execute(statement)).mappings().first()
        if row is not None:
            work.enter(row["tenant_id"])
        return row

    @staticmethod
    def _packet_values(document: BundleDocument, seal: bool) -> dict[str, Any]:
        packet = document.packet
        return {
            "name": packet.name,
            "description": packet.description,
            "visibility": packet.visibility.value,
            "metadata": canonical_json(packet.metadata),
            "status": (PacketStatus.FINALIZED if seal else PacketStatus.DRAFT).value,
            "checksum": packet.checksum if seal else None,
            "checksum_recipe": RECIPE_VERSION if seal else None,
            "finalized_at": packet.finalized_at if seal else None,
        }

    async def _create(self, work: UnitOfWork, document: BundleDocument, seal: bool) -> str:
        """Created by the importer under the first free id of `ids_to_take`: an id taken by a
        packet the caller can't see is passed over, neither touched nor told of."""
        packet = document.packet
        for packet_id in (*ids_to_take(work.scope, packet.id), str(uuid.uuid4())):
            values = work.scope.row(
                id=packet_id,
                created_by=work.scope.actor,
                created_at=packet.created_at,
                updated_at=now_text(),
                version=packet.version,
                contents_count=0,
                size_bytes=0,
                **self._packet_values(document, seal),
            )
            try:
                async with work.conn.begin_nested():
                    await work.conn.execute(insert(packets).values(values))
                return packet_id
            except exc.IntegrityError:
                if await self._lock_existing(work, packet_id) is not None:
                    raise Conflict(
                        f"packet {packet_id} was created while it was imported"
                    ) from None
        raise Conflict(f"no free id for the packet of bundle {packet.id}; try again")

    async def _update(
        self, work: UnitOfWork, packet_id: str, document: BundleDocument, seal: bool
    ) -> None:
        values = {**self._packet_values(document, seal), "updated_at": now_text()}
        if seal:
            values["version"] = document.packet.version
        await work.conn.execute(
            work.scope.update(packets).where(packets.c.id == packet_id).values(values)
        )

    async def _clear(self, work: UnitOfWork, packet_id: str) -> set[str]:
        rows = await work.conn.execute(
            work.scope.delete(packet_contents)
            .where(packet_contents.c.packet_id == packet_id)
            .returning(packet_contents.c.file_sha256)
        )
        return {digest for (digest,) in rows.all() if digest is not None}

    @staticmethod
    def _content_row(scope: Scope, packet_id: str, item: BundleItem) -> dict[str, Any]:
        file = item.file
        return scope.row(
            id=str(uuid.uuid4()),
            packet_id=packet_id,
            content_type=item.content_type.value,
            content_id=item.content_id,
            content_title=item.content_title,
            added_at=item.added_at,
            added_by=scope.actor,  # the bundle's account of it is a claim (claims.py)
            order_num=item.order,
            data=None if item.data is None else canonical_json(item.data),
            # as an upload's are: a name and a media type every later download can carry
            file_name=None if file is None else clean_file_name(file.name),
            file_media_type=None if file is None else clean_media_type(file.media_type),
            file_size=None if file is None else file.size,
            file_sha256=None if file is None else file.sha256,
        )

    async def _totals(
        self,
        work: UnitOfWork,
        packet_id: str,
        rows: Sequence[RowLike] | None,
        sealed: VerifiedBundle | None,
    ) -> None:
        """The packet's count and size: from the rows just inserted when they are all its
        items, else read back; a sealed bundle's checksum recomputed from what was stored."""
        if rows is None:
            rows = (
                (
                    await work.conn.execute(
                        work.scope.select(packet_contents).where(
                            packet_contents.c.packet_id == packet_id
                        )
                    )
                )
                .mappings()
                .all()
            )
        await work.conn.execute(
            work.scope.update(packets)
            .where(packets.c.id == packet_id)
            .values(contents_count=len(rows), size_bytes=sum(stored_size(row) for row in rows))
        )
        if sealed is not None:
            packet = await load_packet(work, packet_id)
            if checksum_of(packet, await load_contents(work, packet_id)) != sealed.checksum:
                raise Conflict(
                    f"packet {packet_id} would not match its sealed checksum; not imported"
                )

    @staticmethod
    def _result(
        packet_id: str,
        source: str,
        count: int,
        mode: MergeMode,
        warnings: list[str],
        proof: Proof,
        actor: str,
        skipped: bool = False,
    ) -> PacketImportResult:
        evidence, coverage = proof.evidence, proof.coverage
        unproven = coverage.unproven
        return PacketImportResult(
            packet_id=packet_id,
            import_source=source,
            imported_at=utcnow(),
            contents_imported=count,
            merge_mode=mode.value,
            errors=[],
            warnings=warnings,
            verified=proof.bundle.sealed and not proof.unverified,
            skipped=skipped,
            imported_by=actor,
            claimed=claims(proof.bundle.document),
            signed_by=evidence.signed_by,
            signature_valid=evidence.signature_valid,
            trusted=evidence.trusted,
            custody_intact=evidence.custody_intact,
            unverified=proof.unverified,
            attested_at=evidence.attested_at,
            custody_entries=coverage.length,
            covered_entries=coverage.covered,
            unproven_entries=None if unproven is None else asdict(unproven),
        )
