"""Two stores while an installation moves from one into the other (`arkham-packets store
migrate --to s3`, ARKHAM_PACKETS_STORE=s3 with ARKHAM_PACKETS_STORE_FALLBACK=local): every
object written goes to the new store; a read tries the new store, then the old one, so what has
not been copied yet is still served; a delete removes both copies (a copy made afterwards names
nothing and is swept) and a listing shows each key once, the new store's first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from ..core.store import ObjectMissing, Reader, Store, StoredObject


class FallbackStore:
    def __init__(self, primary: Store, fallback: Store) -> None:
        self.primary = primary
        self.fallback = fallback
        self.backend = primary.backend
        self.modes = primary.modes

    @property
    def location(self) -> str:
        return f"{self.primary.location}, and {self.fallback.location} for what is not there yet"

    @property
    def staging(self) -> Path:
        return self.primary.staging

    async def check(self) -> None:
        await self.primary.check()
        await self.fallback.check()

    async def reachable(self) -> bool:
        return await self.primary.reachable()

    async def put(self, key: str, source: Path) -> None:
        await self.primary.put(key, source)

    async def open(self, key: str, start: int = 0, end: int | None = None) -> Reader:
        try:
            return await self.primary.open(key, start, end)
        except ObjectMissing:
            return await self.fallback.open(key, start, end)

    async def size(self, key: str) -> int | None:
        size = await self.primary.size(key)
        return size if size is not None else await self.fallback.size(key)

    async def delete(self, key: str) -> None:
        await self.primary.delete(key)
        await self.fallback.delete(key)

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        seen: set[str] = set()
        async for found in self.primary.list(prefix):
            seen.add(found.key)
            yield found
        async for found in self.fallback.list(prefix):
            if found.key not in seen:
                yield found

    async def abort_incomplete(self, prefix: str, cutoff: float) -> int:
        return await self.primary.abort_incomplete(
            prefix, cutoff
        ) + await self.fallback.abort_incomplete(prefix, cutoff)

    def local_path(self, key: str) -> Path | None:
        """The new store's (a bucket has none): a caller then reads through `open`, which
        falls back."""
        return self.primary.local_path(key)

    async def sha256(self, key: str) -> str | None:
        digest = await self.primary.sha256(key)
        return digest if digest is not None else await self.fallback.sha256(key)

    async def close(self) -> None:
        try:
            await self.primary.close()
        finally:
            await self.fallback.close()
