"""Signed seals: signing one at finalize, storing one an import carried in, reading them back.

Finalize records the seal in the custody log (`finalized`), then signs a statement naming that
entry as the log's head (sealing/statement.py); the statement's canonical JSON, the signature
and the public key are stored with the sealed version, so the seal can be checked and exported
without the private key, and every export of the packet carries the same seal.

A packet sealed before signed seals has none; `attest` signs one later, as an attestation
(sealing/statement.py): recorded in the custody log (`attested`), which the statement names
as its head, and stored with the sealed version as a seal is (origin ATTESTED).
"""

from __future__ import annotations

import json
from typing import Any

from ..core.canonical import canonical_json
from ..core.clock import now_text
from ..core.unit_of_work import UnitOfWork
from ..db.tables import packet_seals
from ..keys.keyring import Keyring
from ..sealing.checksum import RECIPE_VERSION
from ..sealing.custody_chain import ATTESTED as ATTESTED_EVENT
from ..sealing.custody_chain import FINALIZED, Head
from ..sealing.item_proofs import SealedItems, new_salts
from ..sealing.key_trust import OwnSeal
from ..sealing.signing import SigningKey, b64
from ..sealing.statement import Seal, attestation_statement, seal_statement, statement_bytes
from .log import append

SIGNED = "signed"
IMPORTED = "imported"
ATTESTED = "attested"
OWN = (SIGNED, ATTESTED)  # signed here: the row's time is when


class Sealer:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    async def seal(
        self,
        work: UnitOfWork,
        packet_id: str,
        version: int,
        checksum: str,
        finalized_at: str,
        items: SealedItems,
    ) -> Seal:
        """Inside finalize's unit of work, after the sealed version is recorded: `items` those
        it sealed, each committed to with a fresh salt (sealing/item_proofs.py)."""
        key = await self.keyring.signer(work)
        salts = new_salts(len(items.entries))
        root = items.tree(salts).root.hex()
        head = await _append_known(
            work,
            packet_id,
            FINALIZED,
            version=version,
            checksum=checksum,
            checksum_recipe=RECIPE_VERSION,
            key_fingerprint=key.fingerprint,
        )
        statement = seal_statement(
            packet_id=packet_id,
            version=version,
            checksum=checksum,
            checksum_recipe=RECIPE_VERSION,
            finalized_at=finalized_at,
            finalized_by=work.scope.actor,
            key_fingerprint=key.fingerprint,
            custody_head=head.sha256,
            custody_length=head.position,
            items_root=root,
            items_count=len(items.entries),
        )
        return await _sign(work, key, packet_id, version, statement, SIGNED, salts, at_commit=True)

    async def attest(
        self,
        work: UnitOfWork,
        packet_id: str,
        version: int,
        checksum: str,
        checksum_recipe: int,
        finalized_at: str,
    ) -> Seal:
        """Inside a unit of work holding the packet's lock, once the caller checked that the
        sealed version has no seal and that the packet verifies."""
        key = await self.keyring.signer(work)
        attested_at = now_text()
        head = await _append_known(
            work,
            packet_id,
            ATTESTED_EVENT,
            version=version,
            checksum=checksum,
            checksum_recipe=checksum_recipe,
            finalized_at=finalized_at,
            attested_at=attested_at,
            key_fingerprint=key.fingerprint,
        )
        statement = attestation_statement(
            packet_id=packet_id,
            version=version,
            checksum=checksum,
            checksum_recipe=checksum_recipe,
            finalized_at=finalized_at,
            attested_at=attested_at,
            attested_by=work.scope.actor,
            key_fingerprint=key.fingerprint,
            custody_head=head.sha256,
            custody_length=head.position,
        )
        return await _sign(work, key, packet_id, version, statement, ATTESTED)


async def _sign(
    work: UnitOfWork,
    key: SigningKey,
    packet_id: str,
    version: int,
    statement: dict[str, Any],
    origin: str,
    salts: list[str] | None = None,
    *,
    at_commit: bool = False,
) -> Seal:
    seal = Seal(
        statement, key.sign(statement_bytes(statement)), b64(key.public_key), key.fingerprint
    )
    await store_seal(work, packet_id, version, seal, origin, salts, at_commit=at_commit)
    return seal


async def store_seal(
    work: UnitOfWork,
    packet_id: str,
    version: int,
    seal: Seal,
    origin: str,
    salts: list[str] | None = None,
    *,
    at_commit: bool = False,
) -> None:
    """`at_commit`: written with the work's events (nothing in the work reads it back)."""
    values = work.scope.row(
        packet_id=packet_id,
        version_number=version,
        statement=canonical_json(seal.statement),
        signature=seal.signature,
        public_key=seal.public_key,
        key_fingerprint=seal.key_fingerprint,
        origin=origin,
        created_at=now_text(),
        item_salts=None if salts is None else json.dumps(salts),
    )
    await work.insert(packet_seals, values, at_commit=at_commit)


async def load_seal(work: UnitOfWork, packet_id: str, version: int) -> tuple[Seal, str] | None:
    """The seal stored with the version and where it came from (SIGNED or IMPORTED)."""
    row = await work.first(
        work.scope.select(packet_seals).where(
            packet_seals.c.packet_id == packet_id, packet_seals.c.version_number == version
        )
    )
    if row is None:
        return None
    try:
        statement = json.loads(row["statement"])
    except ValueError:
        statement = row["statement"]  # the check says it is not a statement
    seal = Seal(statement, row["signature"], row["public_key"], row["key_fingerprint"])
    return seal, row["origin"]


async def item_salts(work: UnitOfWork, packet_id: str, version: int) -> list[str] | None:
    """The salts of the version's items, for a seal signed here with item proofs; else None."""
    row = await work.first(
        work.scope.select(packet_seals, packet_seals.c.item_salts).where(
            packet_seals.c.packet_id == packet_id, packet_seals.c.version_number == version
        )
    )
    if row is None or row["item_salts"] is None:
        return None
    salts: list[str] = json.loads(row["item_salts"])
    return salts


async def own_seal(work: UnitOfWork, packet_id: str, signature: str) -> OwnSeal | None:
    """The seal of the packet this installation signed itself (at finalize, or attesting),
    with the time its row records: the one with `signature` if it is one of them."""
    statement = (
        work.scope.select(packet_seals, packet_seals.c.signature, packet_seals.c.created_at)
        .where(packet_seals.c.packet_id == packet_id, packet_seals.c.origin.in_(OWN))
        .order_by(packet_seals.c.created_at)
    )
    own = [OwnSeal(row.signature, row.created_at) for row in await work.conn.execute(statement)]
    for seal in own:
        if seal.signature == signature:
            return seal
    return own[0] if own else None


async def _append_known(work: UnitOfWork, packet_id: str, event: str, **details: Any) -> Head:
    """`append` in a work that locked its packet at once, as sealing does: the new head."""
    head = await append(work, packet_id, event, **details)
    if head is None:
        raise RuntimeError("a seal names the custody log's head: its packet is locked at once")
    return head
