"""The signing key kept in the database (with `ARKHAM_PACKETS_KEY_ENCRYPTION_KEY`): the active
key's private key is stored in the key registry, encrypted with the key-encryption key
(keys/wrapping.py), so every server given the same key-encryption key signs with it, whatever
its data directory.

The first server to start finding no active key kept in the database puts one there, under
the registry's lock, so servers starting at once agree on one: its key file's key when that
file holds the installation's active key (moving a key into the database keeps its
fingerprint) or when there is no active key yet, else a new key. The others check at start,
without loading cryptography, that their key-encryption key is the one the key is kept with.
Every seal reads which key is active, so a rotation made anywhere is used by every server's
next seal.
"""

from __future__ import annotations

import asyncio
import logging
import os

from ..core.unit_of_work import Transactions, UnitOfWork
from ..db.scope import Scope
from ..errors import ServiceMissing
from ..sealing.signing import KEY_BYTES, SigningKey, UnusableKey, b64, load_private_key, private_pem
from . import registry
from .key_file import KEK_SETTING, FileKey
from .registry import ActiveKey, RevokedKey
from .wrapping import KeyEncryption, same

logger = logging.getLogger(__name__)


def new_key() -> tuple[SigningKey, bytes]:
    """Loads cryptography. A fresh key and its raw private bytes."""
    raw = os.urandom(KEY_BYTES)
    return load_private_key(private_pem(raw)), raw


class DatabaseKey:
    def __init__(self, transactions: Transactions, encryption: KeyEncryption, file: FileKey):
        self.tx = transactions
        self.encryption = encryption
        self.file = file  # a key file whose key may be moved into the database
        self._key: SigningKey | None = None

    def in_a_file(self, fingerprint: str) -> str:
        return (
            f"the installation's signing key {fingerprint} is kept in a key file, and this "
            f"server's ({self.file.path}) does not hold it: start the server that holds it "
            f"with {KEK_SETTING} set, which moves the key into the database, or make a new "
            f"key there with `arkham-packets keys rotate` ({KEK_SETTING} set)"
        )

    def _check(self, active: ActiveKey) -> None:
        if active.kek_check is None or not same(active.kek_check, self.encryption.check):
            raise ServiceMissing(
                f"{KEK_SETTING} is not the key-encryption key the installation's signing key "
                f"{active.fingerprint} is kept with: give this server the value the other "
                "servers have"
            )

    async def prepare(self) -> None:
        """At start: the active key is kept in the database with this key-encryption key,
        put there now if it is not yet."""
        async with self.tx.read(Scope()) as work:
            active = await registry.active_key(work)
        if active is not None and active.in_database:
            self._check(active)
        else:
            await self._keep(active)
        if await asyncio.to_thread(self.file.path.exists):
            logger.warning(
                "packets: %s holds a private key this server does not read (the signing key "
                "is kept in the database): remove it once the database is backed up",
                self.file.path,
            )

    async def _keep(self, active: ActiveKey | None) -> None:
        key, raw, moved = await asyncio.to_thread(self._candidate, active)
        wrapped = await asyncio.to_thread(self.encryption.wrap, raw, key.fingerprint)
        async with self.tx.write(Scope()) as work:
            await registry.lock(work)
            now = await registry.active_key(work)
            if now is not None and now.in_database:  # another server was first
                self._check(now)
                return
            if now is not None and now.fingerprint != key.fingerprint:
                raise ServiceMissing(self.in_a_file(now.fingerprint))
            await self._activate(work, key, wrapped)
        self._key = key
        if moved:
            logger.info("packets: moved the signing key %s into the database", key.fingerprint)
        else:
            logger.info("packets: made the installation's signing key %s", key.fingerprint)

    def _candidate(self, active: ActiveKey | None) -> tuple[SigningKey, bytes, bool]:
        """The key to keep in the database, its raw private key, and whether it is the key
        file's."""
        if self.file.configured or self.file.path.exists():
            try:
                key = load_private_key(self.file.read_pem())
            except UnusableKey as error:
                raise ServiceMissing(f"the signing key {self.file.path}: {error}") from None
            if active is None or active.fingerprint == key.fingerprint:
                return key, key.private_bytes(), True
        if active is not None:
            raise ServiceMissing(self.in_a_file(active.fingerprint))
        return (*new_key(), False)

    async def _activate(self, work: UnitOfWork, key: SigningKey, wrapped: str) -> None:
        try:
            await registry.activate(
                work,
                key.fingerprint,
                b64(key.public_key),
                encrypted_private_key=wrapped,
                kek_check=self.encryption.check,
            )
        except RevokedKey as error:
            raise ServiceMissing(
                f"the signing key {self.file.path} is {error}: it signs nothing more"
            ) from None

    async def signer(self, work: UnitOfWork) -> SigningKey:
        """The active key, decrypted when it is first used and after each rotation."""
        active = await registry.active_key(work)
        if active is None:
            raise ServiceMissing(
                "the installation has no active signing key: restart a server, or make one "
                "with `arkham-packets keys rotate`"
            )
        if not active.in_database:
            raise ServiceMissing(self.in_a_file(active.fingerprint))
        self._check(active)
        key = self._key
        if key is None or key.fingerprint != active.fingerprint:
            key = self._key = await asyncio.to_thread(self._decrypted, active)
        return key

    def _decrypted(self, active: ActiveKey) -> SigningKey:
        assert active.encrypted_private_key is not None
        try:
            raw = self.encryption.unwrap(active.encrypted_private_key, active.fingerprint)
            key = load_private_key(private_pem(raw))
        except UnusableKey as error:
            raise ServiceMissing(f"the signing key kept in the database: {error}") from None
        if key.fingerprint != active.fingerprint:
            raise ServiceMissing(f"the private key kept for {active.fingerprint} is another's")
        return key

    async def rotate(self, new_kek: bool = False) -> SigningKey:
        """A new key, kept in the database, becomes the active one; the retired key's private
        key leaves the database. `new_kek`: this server's key-encryption key replaces the one
        the active key is kept with (servers given the old one refuse to sign until given it)."""
        key, raw = await asyncio.to_thread(new_key)
        wrapped = await asyncio.to_thread(self.encryption.wrap, raw, key.fingerprint)
        async with self.tx.write(Scope()) as work:
            await registry.lock(work)
            active = await registry.active_key(work)
            if active is not None and active.in_database and not new_kek:
                self._check(active)
            await self._activate(work, key, wrapped)
        self._key = key
        return key
