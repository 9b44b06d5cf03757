"""All settings in one place, read from the environment with the prefix ARKHAM_PACKETS_."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
GIB = 1024 * MIB


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARKHAM_PACKETS_", extra="ignore")

    database_url: str | None = None
    # Unset: the host's data directory, else `packets/` under the storage service's base path
    # (see frame.shard_data_dir).
    data_dir: Path | None = None
    api_token: str | None = None
    sqlite_busy_timeout_ms: int = 30_000
    outbox_retry_seconds: float = 2.0
    share_lockout_seconds: int = 300
    # Files a killed process left are swept at start once this old (another process sharing
    # the data directory may be writing a younger one right now).
    recovery_grace_seconds: float = 3600.0

    # Attachments and bundles
    max_file_bytes: int = 1 * GIB
    import_dirs: str | None = None  # os.pathsep-separated; default <data-dir>/imports, /exports
    import_max_archive_bytes: int = 4 * GIB
    import_max_entries: int = 10_000
    import_max_total_bytes: int = 8 * GIB
    import_max_ratio: float = 200.0
    import_max_json_bytes: int = 256 * MIB

    def allowed_import_dirs(self, data_dir: Path) -> list[Path]:
        if self.import_dirs:
            return [Path(part) for part in self.import_dirs.split(os.pathsep) if part.strip()]
        return [data_dir / "imports", data_dir / "exports"]
