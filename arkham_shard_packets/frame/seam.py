"""The one seam to the Arkham Frame: its shard base class, its services, the settings and data
directory it offers.

Nothing outside `frame/` imports `arkham_frame`; its auth, and who calls, are met in
`callers.py` (which reads the request, so the seam itself needs nothing of the web).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import DEFAULT_DATA_DIR, Settings
from ..errors import ServiceMissing

if TYPE_CHECKING:
    from .fallback import ArkhamShard
else:
    try:
        from arkham_frame import ArkhamShard
    except ImportError:
        from .fallback import ArkhamShard

__all__ = ["ArkhamShard", "optional_service", "required_service"]


def optional_service(frame: Any, name: str) -> Any:
    getter = getattr(frame, "get_service", None)
    return getter(name) if callable(getter) else None


def required_service(frame: Any, name: str) -> Any:
    service = optional_service(frame, name)
    if service is None:
        raise ServiceMissing(f"the Frame provides no '{name}' service, which packets requires")
    return service


def frame_database_url(database_service: Any) -> str | None:
    config = getattr(database_service, "config", None)
    url = getattr(config, "database_url", None)
    return str(url) if url else None


def offered_settings(frame: Any) -> Settings:
    """The settings our standalone host resolved (its flags over the environment), so the shard
    uses the host's database and data directory; inside the Frame, the environment's."""
    offered = getattr(frame, "packets_settings", None)
    return offered if isinstance(offered, Settings) else Settings()


# Settings the Frame's config may give under `packets.` (`packets.store`, `packets.s3_bucket`,
# ...) when the environment doesn't: those every server of an installation must share.
FRAME_CONFIG_SETTINGS = (
    "store",
    "s3_bucket",
    "s3_endpoint_url",
    "s3_prefix",
    "s3_region",
    "s3_addressing_style",
    "store_fallback",
    "user_cache_seconds",
    "user_cache_size",
)


def with_frame_config(settings: Settings, frame: Any) -> Settings:
    """`settings`, with what the Frame's config says under `packets.` for each of
    FRAME_CONFIG_SETTINGS the environment (or the host) left unset."""
    getter = getattr(optional_service(frame, "config"), "get", None)
    if not callable(getter):
        return settings
    given = {
        name: value
        for name in FRAME_CONFIG_SETTINGS
        if name not in settings.model_fields_set
        and (value := getter(f"packets.{name}")) is not None
    }
    if not given:
        return settings
    return Settings(**settings.model_dump(exclude_unset=True), **given)


def shard_data_dir(storage: Any, configured: Path | None) -> Path:
    """Where the shard keeps its files (file store, exports, imports, temporary files).

    The configured data directory (the standalone host's, or ARKHAM_PACKETS_DATA_DIR) wins;
    then, inside the Frame, `packets/` under the storage service's base path; else
    ./arkham-packets-data. Folders are created when first used.
    """
    if configured is not None:
        return configured
    base = getattr(storage, "base_path", None)
    if base:
        return Path(base) / "packets"
    return DEFAULT_DATA_DIR
