"""The installation's signing key: where it lives, which one signs, and rotating it.

The key is a PEM file: `ARKHAM_PACKETS_SIGNING_KEY_FILE` when configured, else
`<data-dir>/keys/signing-key.pem` (mode 0600 in a 0700 folder), created at the first start.
Every process sharing the data directory signs with that file's key: it is read when the first
seal is signed and read again whenever the file changes (a rotation replaces it). The key a
process signs with is made the registry's active one in the same transaction, so GET /keys
always lists every key a seal names.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from datetime import datetime
from pathlib import Path

from ..core.clock import to_text
from ..core.unit_of_work import Transactions, UnitOfWork
from ..db.scope import Scope
from ..errors import Conflict, InvalidInput, NotFound, ServiceMissing
from ..models import utcnow
from ..sealing.signing import (
    SigningKey,
    UnusableKey,
    b64,
    load_private_key,
    looks_like_private_pem,
    new_private_pem,
    replace_private_key,
    write_private_key,
)
from . import registry
from .registry import KeyRecord, RevokedKey

logger = logging.getLogger(__name__)

KEY_FILE = "signing-key.pem"

Stamp = tuple[int, int, int]


def key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / KEY_FILE


class Keyring:
    def __init__(self, transactions: Transactions, data_dir: Path, configured: Path | None):
        self.tx = transactions
        self.configured = configured is not None
        self.path = configured if configured is not None else key_path(data_dir)
        self._key: SigningKey | None = None
        self._stamp: Stamp | None = None
        self._lock = asyncio.Lock()

    def prepare(self) -> None:
        """At start, without loading cryptography: the configured key must be there; else the
        data directory's key is created if it is missing."""
        if self.configured:
            try:
                readable = looks_like_private_pem(self.path.read_bytes())
            except OSError as error:
                raise UnusableKey(f"the signing key file {self.path}: {error.strerror}") from None
            if not readable:
                raise UnusableKey(f"the signing key file {self.path} holds no PEM private key")
        elif write_private_key(self.path, new_private_pem()):
            logger.info("packets: created the installation's signing key %s", self.path)
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            logger.warning(
                "packets: the signing key %s is readable by others (mode %o)", self.path, mode
            )

    async def signer(self, work: UnitOfWork) -> SigningKey:
        """The key to sign with now, recorded as the active key within `work`; never a
        revoked one (the file was put back, say)."""
        key = await self._current()
        if await registry.active_fingerprints(work) != {key.fingerprint}:
            try:
                await registry.activate(work, key.fingerprint, b64(key.public_key))
            except RevokedKey as error:
                raise ServiceMissing(
                    f"the signing key {self.path} is {error}: it signs nothing more; "
                    "put a new key there"
                ) from None
        return key

    async def keys(self) -> list[KeyRecord]:
        """Every key this installation has signed with, the active one recorded first if new."""
        async with self.tx.write(Scope()) as work:
            await self.signer(work)
            return await registry.list_keys(work)

    async def rotate(self) -> SigningKey:
        """A new key replaces the file and becomes the active one; the old public key stays in
        the registry, so every seal it made still verifies (until it is revoked)."""
        if self.configured:
            raise Conflict(
                f"the signing key is configured (ARKHAM_PACKETS_SIGNING_KEY_FILE={self.path}): "
                "put a new key in that file and restart the servers"
            )
        pem = new_private_pem()
        key = await asyncio.to_thread(load_private_key, pem)
        await asyncio.to_thread(replace_private_key, self.path, pem)
        async with self.tx.write(Scope()) as work:
            await registry.activate(work, key.fingerprint, b64(key.public_key))
        return key

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

    async def _current(self) -> SigningKey:
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
                    data = await asyncio.to_thread(self.path.read_bytes)
                    self._key = await asyncio.to_thread(load_private_key, data)
                except (OSError, UnusableKey) as error:
                    raise ServiceMissing(
                        f"the signing key {self.path} is not usable: {error}"
                    ) from None
                self._stamp = stamp
            return self._key
