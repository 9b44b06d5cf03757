"""The installation's signing key: which one signs, listing the keys, rotating and revoking.

It is kept in a file (keys/key_file.py), or with `ARKHAM_PACKETS_KEY_ENCRYPTION_KEY` in the
database, encrypted (keys/key_vault.py), so that servers sharing the database sign with one
key whatever their data directories. Either way a server signs only with the registry's active
key, and refuses to start when it can't. The key a process signs with is the registry's active
one in the same transaction, so GET /keys always lists every key a seal names.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..core.clock import to_text
from ..core.unit_of_work import Transactions, UnitOfWork
from ..db.scope import Scope
from ..errors import Conflict, InvalidInput, NotFound
from ..models import utcnow
from ..sealing.signing import SigningKey
from . import registry
from .key_file import KEK_SETTING, FileKey
from .key_vault import DatabaseKey
from .registry import KeyRecord
from .wrapping import KeyEncryption

KEY_FILE = "signing-key.pem"


def key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / KEY_FILE


class Keyring:
    def __init__(
        self,
        transactions: Transactions,
        data_dir: Path,
        configured: Path | None,
        kek: bytes | None = None,
    ):
        self.tx = transactions
        self.file = FileKey(transactions, configured or key_path(data_dir), configured is not None)
        self.held: FileKey | DatabaseKey = (
            self.file if kek is None else DatabaseKey(transactions, KeyEncryption(kek), self.file)
        )

    async def prepare(self) -> None:
        """At start: this server can sign with the installation's active key (made now when
        there is none), else it refuses to start, saying why."""
        await self.held.prepare()

    async def signer(self, work: UnitOfWork) -> SigningKey:
        """The key to sign with now: the registry's active key, within `work`."""
        return await self.held.signer(work)

    async def keys(self) -> list[KeyRecord]:
        """Every key this installation has signed with, the active one recorded first if
        there is none yet."""
        async with self.tx.write(Scope()) as work:
            if await registry.active_key(work) is None:
                await self.signer(work)
            return await registry.list_keys(work)

    async def listed(self) -> list[KeyRecord]:
        """Every key in the registry, as it is."""
        async with self.tx.read(Scope()) as work:
            return await registry.list_keys(work)

    async def recorded(self) -> list[KeyRecord]:
        """Every key in the registry; when it has none yet, the key file this installation
        holds (one made before signed seals were recorded) recorded first. Never makes a
        key: that is for a server's start, or `arkham-packets init`."""
        keys = await self.listed()
        if keys or not self.file.path.exists():
            return keys
        return await self.keys()

    async def rotate(self, new_kek: bool = False) -> SigningKey:
        """A new key becomes the active one; the old public key stays in the registry, so
        every seal it made still verifies (until it is revoked). `new_kek`: kept with this
        server's key-encryption key, which replaces the one the active key is kept with."""
        if isinstance(self.held, FileKey):
            if new_kek:
                raise InvalidInput(
                    f"a new key-encryption key is given by setting {KEK_SETTING} to it"
                )
            return await self.held.rotate()
        return await self.held.rotate(new_kek)

    async def revoke(self, fingerprint: str, at: datetime) -> tuple[KeyRecord, bool]:
        """Revoke a retired key from `at` (now or earlier; a revocation only moves back): its
        seals made after are no longer trusted. The key and whether anything changed."""
        if at > utcnow():
            raise InvalidInput("a key is revoked from now or from a moment in the past")
        wanted = fingerprint.strip().lower()
        async with self.tx.write(Scope()) as work:
            key = await registry.find_key(work, wanted)
            if key is None:
                raise NotFound(f"no key {fingerprint} in this installation's registry")
            if key.active:
                raise Conflict(
                    f"{wanted} is the active key, which signs new seals: rotate first "
                    "(arkham-packets keys rotate), then revoke it"
                )
            changed = await registry.revoke(work, wanted, to_text(at))
            revoked = await registry.find_key(work, wanted)
        assert revoked is not None
        return revoked, changed
