"""What a host's store really holds, read without the shard's own code: the data directory on the
local store, the bucket through the tests' own S3 client on the s3 store (PACKETS_TEST_STORE)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from arkham_shard_packets.config import Settings

from .s3_bucket import Bucket


def _services(app: Any) -> Any:
    return app.state.packets_shard.services


def bucket_of(settings: Settings) -> Bucket:
    assert settings.s3_bucket is not None and settings.s3_endpoint_url is not None
    credentials = {
        name: os.environ[name]
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        if name in os.environ
    }
    region = settings.s3_region or "us-east-1"
    return Bucket(settings.s3_endpoint_url, settings.s3_bucket, region, credentials, "")


def on_s3(app: Any) -> bool:
    return bool(_services(app).settings.store == "s3")


async def stored_keys(app: Any, prefix: str) -> list[str]:
    """The keys of every object under `prefix` (`files/`, `exports/`), sorted; on the local
    store, the files under that folder of the data directory but its staging folder's."""
    services = _services(app)
    if on_s3(app):
        settings = services.settings
        found = await bucket_of(settings).keys(settings.s3_prefix + prefix)
        return sorted(prefix + key for key in found)
    data_dir: Path = services.data_dir
    folder = data_dir / prefix
    if not folder.exists():
        return []
    return sorted(
        path.relative_to(data_dir).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and ".staging" not in path.relative_to(folder).parts
    )


async def stored_bytes(app: Any, key: str) -> bytes:
    services = _services(app)
    if on_s3(app):
        settings = services.settings
        return await bucket_of(settings).read(settings.s3_prefix + key)
    return (Path(services.data_dir) / key).read_bytes()


async def overwrite(app: Any, key: str, data: bytes) -> None:
    """Damage a stored object behind the shard's back."""
    services = _services(app)
    if on_s3(app):
        settings = services.settings
        await bucket_of(settings).write(settings.s3_prefix + key, data)
        return
    path = Path(services.data_dir) / key
    path.chmod(0o644)
    path.write_bytes(data)


async def remove(app: Any, key: str) -> None:
    """Lose a stored object behind the shard's back."""
    services = _services(app)
    if on_s3(app):
        settings = services.settings
        await bucket_of(settings).remove(settings.s3_prefix + key)
        return
    (Path(services.data_dir) / key).unlink()
