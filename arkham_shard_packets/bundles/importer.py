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
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..attachments.service import claim_blob, store_blob
from ..attachments.uploads import Upload
from ..core.file_names import clean_file_name
from ..core.places import shown_path
from ..core.store import EXPORTS, Store, download
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody.imports import record_import
from ..db.scope import Scope
from ..db.tables import packet_exports
from ..errors import InvalidInput, NotFound
from ..keys.trust import TrustedKeys
from ..models import MergeMode, PacketImportResult, PacketStatus, VersionKind, utcnow
from ..records import lifecycle
from ..records.packets import load_contents
from ..versions.history import record_version
from .claims import claims, claims_text
from .format.document import BundleItem
from .format.limits import ImportLimits
from .format.progress import Progress
from .format.verify import VerifiedBundle, open_bundle
from .import_rows import (
    clear_contents,
    content_row,
    create_packet,
    find_existing,
    insert_contents,
    set_totals,
    update_packet,
)
from .proof import Proof, examine, flag_of
from .scratch import scratch_folder
from .server_paths import ImportFolders


def _is_inside(path: Path, folder: Path) -> bool:
    return path.is_relative_to(folder.resolve())


def _is_one_of(path: Path, candidates: list[str]) -> bool:
    return any(Path(each).resolve() == path for each in candidates)


@dataclass(frozen=True)
class Target:
    """The packet an import goes into, and how."""

    packet_id: str
    created: bool  # by this import
    keep: bool  # merged: the existing draft keeps its contents
    seal: bool  # imported sealed, with the bundle's checksum


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

    @property
    def folders(self) -> ImportFolders:
        return ImportFolders(self.data_dir, self.allowed_dirs)

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
        resolved = await asyncio.to_thread(self.folders.file_at, file_path)
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
        key = await asyncio.to_thread(self.folders.place_named, file_path)
        if key is None or not key.startswith(EXPORTS):
            return None
        statement = scope.select(packet_exports, packet_exports.c.id).where(
            packet_exports.c.store_key == key
        )
        async with self.tx.read(scope) as work:
            return key if await work.conn.scalar(statement) is not None else None

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
        async with scratch_folder(self.store.modes, self.work_dir) as workdir:
            bundle = await asyncio.to_thread(open_bundle, path, workdir, self.limits, progress)
            proof = await examine(self.tx, self.trust, scope, bundle, allow_unverified)
            return await self._apply(scope, bundle, mode, source or str(path), proof)

    async def _apply(
        self, scope: Scope, bundle: VerifiedBundle, mode: MergeMode, source: str, proof: Proof
    ) -> PacketImportResult:
        document = bundle.document
        # Nothing an import accepts fails in part: what it answers is worth knowing, no more.
        warnings = [
            f"{item.content_type.value} {item.content_id}: unresolved at export"
            for item in document.contents
            if item.resolution.source == "unresolved"
        ]
        await self._store_files(bundle)
        # built before the write lock is taken: it is held only for the statements
        prepared = {
            (item.content_type.value, item.content_id): content_row(scope, document.packet.id, item)
            for item in document.contents
        }
        async with self.tx.write(scope, bulk=True) as work:
            existing = await find_existing(work, document.packet.id)
            if existing is not None and mode is MergeMode.SKIP:
                noted = warnings + proof.trust_notes
                return self._result(
                    existing["id"], source, 0, mode, noted, proof, scope.actor, skipped=True
                )
            target = await self._land(work, existing, mode, bundle, warnings)
            added = await self._fill(work, target, bundle, prepared)
            await self._record(work, target, bundle, mode, source, proof, len(added))
        warnings.extend(proof.warnings)
        return self._result(
            target.packet_id, source, len(added), mode, warnings, proof, scope.actor
        )

    @staticmethod
    async def _land(
        work: UnitOfWork,
        existing: Any,
        mode: MergeMode,
        bundle: VerifiedBundle,
        warnings: list[str],
    ) -> Target:
        """The packet the import goes into, as the merge mode says: a new one, or the existing
        draft (anything else is a 409), its row written from the bundle's."""
        if existing is not None:
            lifecycle.IMPORT_INTO.check_status(existing["id"], PacketStatus(existing["status"]))
        keep = existing is not None and mode is MergeMode.MERGE
        seal = bundle.sealed and not keep
        if keep and bundle.sealed:
            warnings.append("merged into the existing draft: the bundle's seal does not apply")
        if existing is None:
            target = Target(await create_packet(work, bundle.document, seal), True, keep, seal)
        else:
            await update_packet(work, existing["id"], bundle.document, seal)
            target = Target(existing["id"], False, keep, seal)
        if target.packet_id != bundle.document.packet.id:
            warnings.append(
                f"imported as packet {target.packet_id}: the bundle's seal and custody log name "
                f"it {bundle.document.packet.id}"
            )
        return target

    async def _fill(
        self,
        work: UnitOfWork,
        target: Target,
        bundle: VerifiedBundle,
        prepared: dict[tuple[str, str], dict[str, Any]],
    ) -> list[BundleItem]:
        """The bundle's items in the packet (a merge adds those it lacks), their files placed,
        its totals set; the items added."""
        present: set[tuple[str, str]] = set()
        if target.keep:
            current = await load_contents(work, target.packet_id)
            present = {(c.content_type.value, c.content_id) for c in current}
        elif not target.created:
            work.orphan(*await clear_contents(work, target.packet_id))
        added = [
            item
            for item in bundle.document.contents
            if (item.content_type.value, item.content_id) not in present
        ]
        await self._place_files(work, added, bundle.files)
        rows = [prepared[(item.content_type.value, item.content_id)] for item in added]
        await insert_contents(work, target.packet_id, rows)
        all_rows = None if target.keep else rows
        await set_totals(work, target.packet_id, all_rows, bundle if target.seal else None)
        return added

    @staticmethod
    async def _record(
        work: UnitOfWork,
        target: Target,
        bundle: VerifiedBundle,
        mode: MergeMode,
        source: str,
        proof: Proof,
        count: int,
    ) -> None:
        """The import in the packet's history and custody log, and its event."""
        document, packet_id, seal = bundle.document, target.packet_id, target.seal
        version = await record_version(
            work,
            packet_id,
            VersionKind.FINALIZED if seal else VersionKind.IMPORTED,
            proof.mark + f"imported from {source} by {work.scope.actor}; {claims_text(document)}",
            at_least=document.packet.version if target.created else 1,
        )
        await record_import(
            work,
            packet_id,
            proof.record(source, mode, document, count),
            takes_history=target.created or seal,
            sealed_version=version.version_number if seal else None,
        )
        work.emit("packets.packet.imported", packet_id=packet_id, import_source=source)

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
