"""Signing, later, the seal of a packet sealed before signed seals: an attestation.

The installation's key then vouches for a seal it did not sign when it was made, so only an
administrator may ask (or the operator, with `arkham-packets seals attest`), only for a packet
that verifies (its rows, its finalize snapshot, its files and its custody log), and only once:
a sealed version that has a seal keeps it. The statement says it is an attestation and when it
was made (sealing/statement.py); the custody log records it (`attested`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import exists, select

from ..core.unit_of_work import Transactions
from ..custody.evidence import packet_evidence, sealed_version_number
from ..custody.seals import Sealer, load_seal
from ..db.scope import Scope
from ..db.tables import packet_seals, packets
from ..errors import Conflict, Forbidden
from ..records.locks import hold_packet
from ..records.packets import load_packet_row
from ..sealing.key_trust import KeyTrust
from ..sealing.statement import Seal
from .integrity import IntegrityService, Verification

NOT_ADMIN = (
    "only an administrator may sign a seal after the fact (a Frame user with the admin role), "
    "or the operator on the server: arkham-packets seals attest"
)


@dataclass(frozen=True)
class Attestation:
    packet_id: str
    version: int
    checksum: str
    checksum_recipe: int
    finalized_at: str
    attested_at: str
    attested_by: str
    key_fingerprint: str
    custody_head: str
    custody_length: int

    @classmethod
    def of(cls, seal: Seal) -> Attestation:
        return cls(**{field.name: seal.statement[field.name] for field in fields(cls)})


@dataclass(frozen=True)
class Unsigned:
    """A sealed packet without a seal, and the tenant it belongs to."""

    packet_id: str
    tenant_id: str | None


def _refusal(packet_id: str, checked: Verification) -> str | None:
    if checked.checksum is None:
        return f"packet {packet_id} was never sealed: there is no seal to sign"
    if checked.signed:
        when = "attested" if checked.attested_at is not None else "signed at finalize"
        return f"packet {packet_id}'s seal is signed already ({when}); it keeps that seal"
    if checked.problems:
        return f"packet {packet_id} does not verify, so its seal is not signed: " + "; ".join(
            checked.problems
        )
    return None


class AttestService:
    def __init__(
        self, transactions: Transactions, integrity: IntegrityService, sealer: Sealer
    ) -> None:
        self.tx = transactions
        self.integrity = integrity
        self.sealer = sealer

    async def attest(self, scope: Scope, packet_id: str) -> Attestation:
        """Every check of GET /verify first (the files are hashed before the lock is taken),
        then, under the packet's lock, that nothing changed since and no seal came first."""
        if not scope.admin:
            raise Forbidden(NOT_ADMIN)
        checked = await self.integrity.verify(scope, packet_id)
        refusal = _refusal(packet_id, checked)
        if refusal is not None:
            raise Conflict(refusal)
        async with self.tx.write(scope) as work:
            await hold_packet(work, packet_id)
            row = await load_packet_row(work, packet_id)
            version = await sealed_version_number(work, packet_id)
            same = (row["checksum"], version) == (checked.checksum, checked.sealed_version)
            if version is None or not same:
                raise Conflict(f"packet {packet_id} changed while it was checked; try again")
            if await load_seal(work, packet_id, version) is not None:
                raise Conflict(f"packet {packet_id}'s seal was signed meanwhile")
            report = await packet_evidence(work, packet_id, KeyTrust())
            if report.problems:
                raise Conflict(
                    f"packet {packet_id}'s custody log no longer checks: "
                    + "; ".join(report.problems)
                )
            seal = await self.sealer.attest(
                work,
                packet_id,
                version,
                row["checksum"],
                row["checksum_recipe"],
                row["finalized_at"],
            )
        return Attestation.of(seal)

    async def unsigned(self, packet_ids: list[str] | None = None) -> list[Unsigned]:
        """The sealed packets of every tenant whose seal is not signed, all of them or those
        of `packet_ids` (the operator's command, which acts in each packet's tenant)."""
        has_seal = exists().where(packet_seals.c.packet_id == packets.c.id)
        statement = (
            select(packets.c.id, packets.c.tenant_id)
            .where(packets.c.checksum.is_not(None), ~has_seal)
            .order_by(packets.c.id)
        )
        if packet_ids is not None:
            statement = statement.where(packets.c.id.in_(packet_ids))
        async with self.tx.read(Scope()) as work:
            rows = (await work.conn.execute(statement)).all()
        return [Unsigned(packet_id, tenant_id) for packet_id, tenant_id in rows]
