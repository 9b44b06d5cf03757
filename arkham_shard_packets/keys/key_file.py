"""The signing key kept in a file (without a key-encryption key): a PEM file,
`ARKHAM_PACKETS_SIGNING_KEY_FILE` when configured, else `<data-dir>/keys/signing-key.pem`
(mode 0600 in a 0700 folder), created at the first start of an installation that has no key
yet. Every process sharing the file signs with its key: read when the first seal is signed
and again whenever the file changes (a rotation replaces it).

A server never makes its file's key the active one over another: one whose file does not hold
the registry's active key refuses to start, and if it finds out while it runs, to sign;
`arkham-packets keys rotate` is how the active key changes. Start-up tells without loading
cryptography, by the active key's check value (keys/wrapping.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from pathlib import Path

from ..core.unit_of_work import Transactions, UnitOfWork
from ..db.scope import Scope
from ..errors import Conflict, ServiceMissing
from ..sealing.signing import (
    SigningKey,
    UnusableKey,
    b64,
    load_private_key,
    looks_like_private_pem,
    new_private_pem,
    private_raw,
    replace_private_key,
    write_private_key,
)
from . import registry
from .registry import ActiveKey, RevokedKey
from .wrapping import key_check, same

logger = logging.getLogger(__name__)

KEK_SETTING = "ARKHAM_PACKETS_KEY_ENCRYPTION_KEY"
ONE_KEY = (
    f"servers sharing a database sign with one key: give every server the same {KEK_SETTING} "
    "(docs/custody.md)"
)

Stamp = tuple[int, int, int]


def kept_in_database(fingerprint: str) -> str:
    return (
        f"the installation's signing key {fingerprint} is kept in the database, encrypted: "
        f"set {KEK_SETTING} to the value the other servers have"
    )


def check_of(pem: bytes) -> str | None:
    raw = private_raw(pem)
    return None if raw is None else key_check(raw)


class FileKey:
    def __init__(self, transactions: Transactions, path: Path, configured: bool) -> None:
        self.tx = transactions
        self.path = path
        self.configured = configured
        self._key: SigningKey | None = None
        self._check: str | None = None
        self._stamp: Stamp | None = None
        self._lock = asyncio.Lock()

    def not_held(self, fingerprint: str) -> str:
        holds = "does not exist" if not self.path.exists() else "holds another key"
        return (
            f"the installation signs with {fingerprint}, and this server's key file {self.path} "
            f"{holds}: {ONE_KEY}, or run `arkham-packets keys rotate` here to make this "
            "server's key the active one"
        )

    async def prepare(self) -> None:
        """At start, without loading cryptography: the file holds the active key (or there is
        none yet, and the data directory's key is made if it is missing)."""
        async with self.tx.read(Scope()) as work:
            active = await registry.active_key(work)
        if active is not None and active.in_database:
            raise ServiceMissing(kept_in_database(active.fingerprint))
        pem = await asyncio.to_thread(self._prepared, active)
        if active is not None and active.key_check is not None:
            check = check_of(pem)
            if check is not None and not same(check, active.key_check):
                raise ServiceMissing(self.not_held(active.fingerprint))

    def _prepared(self, active: ActiveKey | None) -> bytes:
        if not self.configured and not self.path.exists():
            if active is not None:
                raise ServiceMissing(self.not_held(active.fingerprint))
            if write_private_key(self.path, new_private_pem()):
                logger.info("packets: created the installation's signing key %s", self.path)
        pem = self.read_pem()
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            logger.warning(
                "packets: the signing key %s is readable by others (mode %o)", self.path, mode
            )
        return pem

    def read_pem(self) -> bytes:
        try:
            pem = self.path.read_bytes()
        except OSError as error:
            raise ServiceMissing(f"the signing key file {self.path}: {error.strerror}") from None
        if not looks_like_private_pem(pem):
            raise ServiceMissing(f"the signing key file {self.path} holds no PEM private key")
        return pem

    async def signer(self, work: UnitOfWork) -> SigningKey:
        """The file's key, when it is the active key, or made the active one within `work`
        when there is none; never a revoked one (the file was put back, say)."""
        key, check = await self.current()
        active = await registry.active_key(work)
        if active is None:
            await registry.lock(work)
            active = await registry.active_key(work)
        if active is not None and active.fingerprint == key.fingerprint:
            if active.key_check is None and check is not None:
                await registry.hold(work, key.fingerprint, key_check=check)
            return key
        known = await registry.find_key(work, key.fingerprint)
        if known is not None and known.revoked_at is not None:
            raise ServiceMissing(
                f"the signing key {self.path} is {RevokedKey(key.fingerprint, known.revoked_at)}: "
                "it signs nothing more; put a new key there"
            )
        if active is not None:
            if active.in_database:
                raise ServiceMissing(kept_in_database(active.fingerprint))
            raise ServiceMissing(self.not_held(active.fingerprint))
        await registry.activate(work, key.fingerprint, b64(key.public_key), key_check=check)
        return key

    async def rotate(self) -> SigningKey:
        """A new key in the data directory's file, or the configured file's new key, becomes
        the active one."""
        async with self.tx.read(Scope()) as work:
            active = await registry.active_key(work)
        if active is not None and active.in_database:
            raise Conflict(kept_in_database(active.fingerprint))
        if self.configured:
            key, check = await self.current()
            if active is not None and active.fingerprint == key.fingerprint:
                raise Conflict(
                    f"the signing key is configured (ARKHAM_PACKETS_SIGNING_KEY_FILE={self.path}) "
                    "and is the active key: put a new key in that file first"
                )
        else:
            pem = new_private_pem()
            key = await asyncio.to_thread(load_private_key, pem)
            check = check_of(pem)
            await asyncio.to_thread(replace_private_key, self.path, pem)
        async with self.tx.write(Scope()) as work:
            await registry.lock(work)
            try:
                await registry.activate(work, key.fingerprint, b64(key.public_key), key_check=check)
            except RevokedKey as error:
                raise Conflict(
                    f"the signing key {self.path} is {error}: put a new key there"
                ) from None
        return key

    async def current(self) -> tuple[SigningKey, str | None]:
        """The file's key (loads cryptography) and its check value, read again when the file
        changed."""
        async with self._lock:
            try:
                found = await asyncio.to_thread(os.stat, self.path)
            except OSError as error:
                raise ServiceMissing(
                    f"the signing key {self.path} can't be read: {error.strerror}"
                ) from None
            stamp = (found.st_ino, found.st_mtime_ns, found.st_size)
            if self._key is None or stamp != self._stamp:
                try:
                    pem = await asyncio.to_thread(self.path.read_bytes)
                    self._key = await asyncio.to_thread(load_private_key, pem)
                except (OSError, UnusableKey) as error:
                    raise ServiceMissing(
                        f"the signing key {self.path} is not usable: {error}"
                    ) from None
                self._check = check_of(pem)
                self._stamp = stamp
            return self._key, self._check
