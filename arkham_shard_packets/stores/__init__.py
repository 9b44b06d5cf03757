"""The store's backends (core/store.py says what a store is): `local` in the data directory,
`s3` in an S3-compatible bucket, and both while an installation moves into the bucket
(`fallback.py`); which, from the settings."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..core.file_modes import FileModes
from ..core.store import Store, StoreUnusable
from .fallback import FallbackStore
from .local import LocalStore


def build_store(settings: Settings, data_dir: Path, modes: FileModes) -> Store:
    """The store the settings name (ARKHAM_PACKETS_STORE, and ARKHAM_PACKETS_STORE_FALLBACK
    while moving), or StoreUnusable saying why not."""
    if settings.store == "local":
        if settings.store_fallback is not None:
            raise StoreUnusable(
                "ARKHAM_PACKETS_STORE_FALLBACK=local reads from the data directory what is not "
                "in the bucket yet: it needs ARKHAM_PACKETS_STORE=s3"
            )
        return LocalStore(data_dir, modes)
    if settings.s3_bucket is None:
        raise StoreUnusable(
            "ARKHAM_PACKETS_STORE is s3, but no bucket is set (ARKHAM_PACKETS_S3_BUCKET)"
        )
    bucket = bucket_store(settings, data_dir, modes)
    if settings.store_fallback == "local":
        return FallbackStore(bucket, LocalStore(data_dir, modes))
    return bucket


def bucket_store(settings: Settings, data_dir: Path, modes: FileModes) -> Store:
    """The bucket the S3 settings name, whatever ARKHAM_PACKETS_STORE says (the target of a
    move), or StoreUnusable."""
    if settings.s3_bucket is None:
        raise StoreUnusable("no bucket is set (ARKHAM_PACKETS_S3_BUCKET)")
    try:
        from .s3 import S3Store
    except ModuleNotFoundError as error:
        raise StoreUnusable(
            f"the s3 store needs {error.name}, which is not installed: install "
            "arkham-shard-packets[s3]"
        ) from None
    return S3Store(
        settings.s3_bucket,
        settings.s3_prefix,
        staging=data_dir / "spool",
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        addressing_style=settings.s3_addressing_style,
        modes=modes,
    )


async def probe(settings: Settings, data_dir: Path, modes: FileModes) -> None:
    """Build the store and check it once (core/store.py's `check`), as a server does at
    start: StoreUnusable says in one line why it can't be used."""
    store = build_store(settings, data_dir, modes)
    try:
        await store.check()
    finally:
        await store.close()
