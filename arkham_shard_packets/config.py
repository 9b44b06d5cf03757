"""All settings in one place, read from the environment with the prefix ARKHAM_PACKETS_."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .bundles.format.limits import ImportLimits

MIB = 1024 * 1024
GIB = 1024 * MIB
DEFAULT_LIMITS = ImportLimits()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARKHAM_PACKETS_", extra="ignore")

    database_url: str | None = None
    # Unset: the host's data directory, else `packets/` under the storage service's base path
    # (see frame.shard_data_dir).
    data_dir: Path | None = None
    api_token: str | None = None
    # Unset: the Frame's config `packets.require_user`, else off (the Shell's Packets page sends
    # no token). On: every route but the share links needs a Frame user.
    require_user: bool | None = None
    # The standalone host's stand-in for the Frame's auth (host/auth.py): both or neither.
    auth_secret: str | None = None
    auth_users_file: Path | None = None
    jwt_lifetime_seconds: int = Field(3600, ge=1, le=366 * 24 * 3600)
    sqlite_busy_timeout_ms: int = 30_000
    outbox_retry_seconds: float = 2.0
    share_lockout_seconds: int = 300
    # Files a killed process left are swept at start once this old (another process sharing
    # the data directory may be writing a younger one right now).
    recovery_grace_seconds: float = 3600.0
    # ... and again this often while the process runs.
    recovery_sweep_seconds: float = 300.0

    # Attachments and bundles
    max_file_bytes: int = 1 * GIB
    import_dirs: str | None = None  # os.pathsep-separated; default <data-dir>/imports, /exports
    import_max_archive_bytes: int = DEFAULT_LIMITS.max_archive_bytes
    import_max_entries: int = DEFAULT_LIMITS.max_entries
    import_max_total_bytes: int = DEFAULT_LIMITS.max_total_bytes
    import_max_json_bytes: int = DEFAULT_LIMITS.max_json_bytes
    import_max_items: int = DEFAULT_LIMITS.max_items
    import_max_json_depth: int = DEFAULT_LIMITS.max_json_depth
    import_max_value_bytes: int = DEFAULT_LIMITS.max_value_bytes
    import_min_free_bytes: int = DEFAULT_LIMITS.min_free_bytes

    def import_limits(self) -> ImportLimits:
        return ImportLimits(
            max_archive_bytes=self.import_max_archive_bytes,
            max_entries=self.import_max_entries,
            max_total_bytes=self.import_max_total_bytes,
            max_json_bytes=self.import_max_json_bytes,
            max_items=self.import_max_items,
            max_json_depth=self.import_max_json_depth,
            max_value_bytes=self.import_max_value_bytes,
            min_free_bytes=self.import_min_free_bytes,
        )

    def allowed_import_dirs(self, data_dir: Path) -> list[Path]:
        if self.import_dirs:
            return [Path(part) for part in self.import_dirs.split(os.pathsep) if part.strip()]
        return [data_dir / "imports", data_dir / "exports"]
