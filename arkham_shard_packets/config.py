"""All settings in one place, read from the environment with the prefix ARKHAM_PACKETS_."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARKHAM_PACKETS_", extra="ignore")

    database_url: str | None = None
    data_dir: Path = Path("arkham-packets-data")
    api_token: str | None = None
    sqlite_busy_timeout_ms: int = 30_000
    outbox_retry_seconds: float = 2.0
    share_lockout_seconds: int = 300
