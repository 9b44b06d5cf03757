"""Verifying a sealed packet: recompute its checksum from the stored rows and from the
snapshot frozen when it was finalized, and say what does not match."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..core.canonical import sha256_hex
from ..core.store import Store, blob_key
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody.evidence import packet_evidence
from ..custody.seals import item_salts, load_seal
from ..db.scope import Scope
from ..db.tables import packet_contents, packet_versions
from ..keys.trust import TrustedKeys
from ..models import PacketVersion, VersionKind, utcnow
from ..records.packets import load_packet_row
from ..sealing.checksum import ITEM_FIELDS, RECIPES, packet_checksum
from ..sealing.custody_coverage import Coverage
from ..sealing.item_proofs import items_root
from ..sealing.key_trust import KeyTrust
from ..sealing.statement import STATEMENT_FORMAT
from .history import version_from_row
from .snapshots import Record, digest_of, load_snapshot_text, packet_record, record_sort_key


@dataclass
class Verification:
    packet_id: str
    checksum: str | None
    checksum_recipe: int | None
    checked_at: datetime
    computed: str | None = None
    snapshot_computed: str | None = None
    sealed_version: int | None = None
    problems: list[str] = field(default_factory=list)
    finalized_at: str | None = None
    signed: bool = False
    attested_at: str | None = None
    signed_by: str | None = None
    signature_valid: bool | None = None
    trusted: bool = False
    warnings: list[str] = field(default_factory=list)
    custody_intact: bool = False
    custody_head: str | None = None
    custody_length: int = 0

    @property
    def valid(self) -> bool:
        return not self.problems


async def sealed_version(work: UnitOfWork, packet_id: str) -> PacketVersion | None:
    statement = (
        work.scope.select(packet_versions)
        .where(
            packet_versions.c.packet_id == packet_id,
            packet_versions.c.kind == VersionKind.FINALIZED.value,
        )
        .order_by(packet_versions.c.version_number)
        .limit(1)
    )
    row = (await work.conn.execute(statement)).mappings().first()
    return None if row is None else version_from_row(row)


async def sealed_items(work: UnitOfWork, packet_id: str) -> list[Record]:
    """The packet's content rows, as far as the recipe reads them (their files' digests
    included), with their data as stored."""
    statement = work.scope.select(
        packet_contents, *(packet_contents.c[name] for name in ITEM_FIELDS)
    ).where(packet_contents.c.packet_id == packet_id)
    rows = await work.conn.execute(statement)
    return [dict(zip(ITEM_FIELDS, row, strict=True)) for row in rows]


async def items_root_problem(
    work: UnitOfWork, packet_id: str, sealed: PacketVersion | None, contents: list[Record]
) -> str | None:
    """A seal of format 2 signed here keeps its items' salts: with the stored items they must
    give the `items_root` it signed, or no disclosure of them can be proven. Seals of format
    1, and format-2 seals an import carried in (they keep no salts), have nothing to check."""
    if sealed is None:
        return None
    found = await load_seal(work, packet_id, sealed.version_number)
    if found is None or found[0].statement.get("format") != STATEMENT_FORMAT:
        return None
    where = f"the item salts kept with the seal of version {sealed.version_number}"
    try:
        salts = await item_salts(work, packet_id, sealed.version_number)
        if salts is None:
            return None
        root = items_root(contents, salts)
    except (ValueError, TypeError, AttributeError):
        return f"{where} are damaged: they are not one 64-hex salt per sealed item"
    if root != found[0].statement.get("items_root"):
        return f"{where} and the stored items no longer give the items_root the seal signed"
    return None


@dataclass(frozen=True)
class SealView:
    """A sealed packet's seal as a person reading it needs it: the key named, and whether the
    seal checks (signature, custody log, and the stored contents against the checksum). A
    packet sealed before signed seals checks without a signature (`signed` false)."""

    key_fingerprint: str | None
    signed_by: str | None
    trusted: bool
    checks: bool
    problems: list[str]
    signed: bool = True
    attested_at: str | None = None
    revoked: str | None = None  # the key is revoked: what that means for this seal
    coverage: Coverage | None = None  # which custody entries the signature covers


async def log_coverage(work: UnitOfWork, packet_id: str, trust: KeyTrust) -> Coverage:
    """Which entries of the packet's custody log a signature covers, and which are an
    imported bundle's own account."""
    return (await packet_evidence(work, packet_id, trust)).coverage


async def seal_view(work: UnitOfWork, packet_id: str, trust: KeyTrust) -> SealView | None:
    """None for a packet that was never sealed."""
    packet = packet_record(await load_packet_row(work, packet_id))
    if packet["checksum"] is None:
        return None
    report = await packet_evidence(work, packet_id, trust)
    evidence = report.evidence
    problems = list(evidence.problems)
    recipe = packet["checksum_recipe"]
    contents = await sealed_items(work, packet_id)
    if recipe not in RECIPES or packet_checksum(packet, contents, recipe) != packet["checksum"]:
        problems.append("the stored contents no longer match the sealed checksum")
    named = None if evidence.seal is None else evidence.seal.named_key
    return SealView(
        named,
        evidence.signed_by,
        evidence.trusted,
        not problems,
        problems,
        signed=evidence.signed,
        attested_at=evidence.attested_at,
        revoked=None if evidence.revocation is None else evidence.revocation.note,
        coverage=report.coverage,
    )


class IntegrityService:
    def __init__(self, transactions: Transactions, files: Store, trust: TrustedKeys) -> None:
        self.tx = transactions
        self.files = files
        self.trust = trust

    async def verify(self, scope: Scope, packet_id: str) -> Verification:
        async with self.tx.read(scope, settled=True, bulk=True) as work:
            packet = packet_record(await load_packet_row(work, packet_id))
            contents = await sealed_items(work, packet_id)
            sealed = await sealed_version(work, packet_id)
            digest = None if sealed is None else digest_of(sealed.snapshot_path)
            frozen = None if digest is None else await load_snapshot_text(work, digest)
            stored_count = packet["contents_count"]
            custody = await packet_evidence(work, packet_id, await self.trust.load(work))
            salts_problem = await items_root_problem(work, packet_id, sealed, contents)
        result = Verification(
            packet_id=packet_id,
            checksum=packet["checksum"],
            checksum_recipe=packet["checksum_recipe"],
            checked_at=utcnow(),
            sealed_version=None if sealed is None else sealed.version_number,
            finalized_at=packet["finalized_at"],
        )
        await self._check_checksum(result, packet, contents, stored_count, sealed, digest, frozen)
        evidence = custody.evidence
        result.problems.extend(evidence.problems)
        if salts_problem is not None:
            result.problems.append(salts_problem)
        result.warnings.extend(evidence.warnings)
        result.signed = evidence.signed
        result.attested_at = evidence.attested_at
        result.signed_by = evidence.signed_by
        result.signature_valid = evidence.signature_valid
        result.trusted = evidence.trusted
        result.custody_intact = evidence.custody_intact
        result.custody_head = evidence.chain.head
        result.custody_length = evidence.chain.length
        return result

    async def _check_checksum(
        self,
        result: Verification,
        packet: Record,
        contents: list[Record],
        stored_count: int,
        sealed: PacketVersion | None,
        digest: str | None,
        frozen: str | None,
    ) -> None:
        if result.checksum is None:
            result.computed = packet_checksum(packet, contents)
            result.problems.append(
                f"packet {result.packet_id} is {packet['status']} and was never finalized: "
                "it has no checksum to verify"
            )
            return
        recipe = result.checksum_recipe
        if recipe is None or recipe not in RECIPES:
            result.problems.append(f"the checksum's recipe ({recipe}) is unknown to this shard")
            return
        self._check_rows(result, recipe, packet, contents, stored_count)
        self._check_snapshot(result, recipe, sealed, digest, frozen)
        await self._check_files(result, contents)

    async def _check_files(self, result: Verification, contents: list[Record]) -> None:
        """The sealed digests say which bytes belong to the packet; the stored bytes must
        still be exactly those."""
        attached = sorted((item for item in contents if item["file_sha256"]), key=record_sort_key)
        for item in attached:
            sha256 = item["file_sha256"]
            if await self.files.sha256(blob_key(sha256)) != sha256:
                result.problems.append(
                    f"the file attached to {item['content_type']} {item['content_id']} "
                    f"is missing or no longer hashes to {sha256}"
                )

    @staticmethod
    def _check_rows(
        result: Verification,
        recipe: int,
        packet: Record,
        contents: list[Record],
        stored_count: int,
    ) -> None:
        result.computed = packet_checksum(packet, contents, recipe)
        if result.computed != result.checksum:
            result.problems.append(
                "the stored packet fields and contents no longer match the checksum"
            )
        if stored_count != len(contents):
            result.problems.append(
                f"contents_count is {stored_count} but {len(contents)} content entries are stored"
            )

    @staticmethod
    def _check_snapshot(
        result: Verification,
        recipe: int,
        sealed: PacketVersion | None,
        digest: str | None,
        frozen: str | None,
    ) -> None:
        if sealed is None:
            result.problems.append("the version recorded at finalize is missing")
            return
        where = f"the snapshot frozen at finalize (version {sealed.version_number})"
        if frozen is None or digest is None:
            result.problems.append(f"{where} is missing")
            return
        if sha256_hex(frozen) != digest:
            result.problems.append(f"{where} no longer matches its digest {digest}")
            return
        body: dict[str, Any] = json.loads(frozen)
        result.snapshot_computed = packet_checksum(body["packet"], body["contents"], recipe)
        if result.snapshot_computed != result.checksum:
            result.problems.append(f"{where} does not give the packet's checksum")
        if body["packet"].get("checksum") != result.checksum:
            result.problems.append(f"{where} records a different checksum than the packet")
        if sealed.checksum != result.checksum:
            result.problems.append(
                f"version {sealed.version_number} records a different checksum than the packet"
            )
