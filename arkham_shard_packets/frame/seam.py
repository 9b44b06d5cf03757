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
