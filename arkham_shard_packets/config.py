"""All settings in one place, read from the environment with the prefix ARKHAM_PACKETS_.

Every command and the shard read them here: a command-line flag wins over the environment,
which wins over the default. The standalone host hands the settings it resolved to the shard
(frame.seam.offered_settings), so both use one database and one data directory.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
GIB = 1024 * MIB
DEFAULT_DATA_DIR = Path("arkham-packets-data")
DEFAULT_PORT = 8100
# The longest a standalone host's token may last, by the setting or `token --lifetime`.
JWT_LIFETIME_MAX_SECONDS = 366 * 24 * 3600
USER_CACHE_MAX_SECONDS = 3600  # an hour: longer would make deactivating a user mean little
SHARE_SESSION_MAX_SECONDS = 24 * 3600


def sqlite_url(data_dir: Path) -> str:
    """The database a data directory holds when no URL is given."""
    return f"sqlite:///{data_dir.resolve() / 'packets.db'}"


def public_base_url(value: str) -> str:
    """An http(s) URL with a host and at most a path (no query, fragment or credentials),
    without its trailing slash: the share link's path is appended to it."""
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "must be an http or https URL with a host, such as https://evidence.example.org"
        )
    if parts.query or parts.fragment or value.strip().endswith(("?", "#")):
        raise ValueError("must not have a query (?…) or a fragment (#…)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password")
    try:
        parts.port  # noqa: B018  (a port out of range raises)
    except ValueError:
        raise ValueError("has an invalid port") from None
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def data_dir_mode(value: object) -> int:
    """ARKHAM_PACKETS_DATA_DIR_MODE: octal, as chmod takes it (`0700`, `750`, `0o750`)."""
    if isinstance(value, str):
        text = value.strip().lower().removeprefix("0o")
        try:
            value = int(text, 8)
        except ValueError:
            raise ValueError(f"'{value}' is not an octal mode such as 0700 or 0750") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("must be an octal mode such as 0700 or 0750")
    if value & ~0o777 or value & 0o700 != 0o700:
        raise ValueError(
            f"{value:04o}: the folder mode must give its owner rwx (07xx) and nothing beyond 0777"
        )
    if value & 0o002:
        raise ValueError(f"{value:04o}: others may not write to the data directory")
    return value


def key_encryption_key(text: str) -> bytes:
    """ARKHAM_PACKETS_KEY_ENCRYPTION_KEY: 32 bytes, as 64 hex digits or base64."""
    value = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", value):
        return bytes.fromhex(value)
    standard = value.replace("-", "+").replace("_", "/")  # the URL-safe alphabet too
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ValueError(
            "must be 32 random bytes, as 64 hex digits or base64 (openssl rand -base64 32)"
        )
    return raw


class Settings(BaseSettings):
    # An error never repeats the value (a secret, or a URL with credentials, may be one).
    model_config = SettingsConfigDict(
        env_prefix="ARKHAM_PACKETS_", extra="ignore", hide_input_in_errors=True
    )

    # Unset inside the Frame: the Frame's database, and `packets/` under the storage service's
    # base path (frame.seam.shard_data_dir); outside it, the standalone defaults below.
    database_url: str | None = None
    data_dir: Path | None = None
    # Where `arkham-packets serve` listens (its --host and --port win over these).
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    # Who may read the data directory (and a SQLite database): folders get this mode, files it
    # less the execute bits, stored files less the write bits too (core/file_modes.py).
    data_dir_mode: int = 0o700
    # The standalone host's bearer token for every /api route (share links aside).
    api_token: str | None = None
    # Unset: the Frame's config `packets.require_user`, else off (the Shell's Packets page sends
    # no token). On: every route but the share links needs a Frame user.
    require_user: bool | None = None
    # The standalone host's stand-in for the Frame's auth (host/auth.py): both or neither.
    auth_secret: str | None = None
    auth_users_file: Path | None = None
    jwt_lifetime_seconds: int = Field(3600, ge=1, le=JWT_LIFETIME_MAX_SECONDS)
    # How long a resolved Frame user is kept by its token's digest (frame/user_cache.py), at
    # most until the token expires: a deactivated user or a changed role takes this long to
    # tell. 0: every request resolves its user. The Frame's config: packets.user_cache_seconds.
    user_cache_seconds: float = Field(30.0, ge=0, le=USER_CACHE_MAX_SECONDS)
    # Tokens kept at most; the least recently used go first.
    user_cache_size: int = Field(1024, ge=1, le=1_000_000)
    sqlite_busy_timeout_ms: int = 30_000
    outbox_retry_seconds: float = 2.0
    share_lockout_seconds: int = 300
    # Wrong passwords within a day that lock a share link until its owner replaces it.
    share_daily_password_failures: int = 20
    # Uses of one share link within any minute; more are refused (429) until the minute frees.
    # 0: no limit (a proxy in front limits the link routes).
    share_link_uses_per_minute: int = Field(120, ge=0, le=1_000_000)
    # How long the viewer page remembers a link's password once typed (its session cookie).
    share_session_seconds: int = Field(1800, ge=60, le=SHARE_SESSION_MAX_SECONDS)
    # Files a killed process left are swept at start once this old (another process sharing
    # the data directory may be writing a younger one right now).
    recovery_grace_seconds: float = 3600.0
    # ... and again this often while the process runs.
    recovery_sweep_seconds: float = 300.0

    # Where people reach the server (behind a proxy, say https://evidence.example.org): makes
    # a share's `share_url` absolute. Unset: `share_url` is the viewer page's path.
    public_base_url: str | None = None

    # Attachments and bundles
    max_file_bytes: int = 1 * GIB
    import_dirs: str | None = None  # os.pathsep-separated; default <data-dir>/imports, /exports
    # The defaults are bundles.format.limits.ImportLimits'; tests/test_settings.py holds them equal.
    import_max_archive_bytes: int = 4 * GIB
    import_max_entries: int = 40_000
    import_max_total_bytes: int = 8 * GIB
    import_max_json_bytes: int = 64 * MIB
    import_max_items: int = 10_000
    import_max_json_depth: int = 32
    import_max_value_bytes: int = 1 * MIB
    import_min_free_bytes: int = 256 * MIB

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value.strip()):
            raise ValueError("must be an address or a host name, such as 127.0.0.1 or ::1")
        return value.strip().removeprefix("[").removesuffix("]")

    @field_validator("data_dir_mode", mode="before")
    @classmethod
    def _data_dir_mode(cls, value: object) -> int:
        return data_dir_mode(value)

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else public_base_url(value)

    # Where finished bytes (attached files, export bundles) are kept: `local`, in the data
    # directory, or `s3`, under S3_PREFIX in S3_BUCKET of any S3-compatible service (AWS,
    # MinIO, Ceph RGW, Garage, SeaweedFS; needs arkham-shard-packets[s3]), with credentials from
    # the standard AWS chain. Scratch stays in the data directory either way. Unset inside the
    # Frame: its config `packets.store`, `packets.s3_bucket`, ... (frame/seam.py).
    store: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # unset: AWS itself
    s3_prefix: str = ""
    s3_region: str | None = None  # unset: the AWS chain's (AWS_REGION, a profile), else us-east-1
    # `path` (https://host/bucket/key) for most self-hosted services, `virtual`
    # (https://bucket.host/key), or `auto`: botocore's choice.
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    # While an installation moves into the bucket (`arkham-packets store migrate --to s3`):
    # `local` with STORE=s3 reads what is not in the bucket yet from the data directory.
    store_fallback: Literal["local"] | None = None

    @field_validator("s3_prefix")
    @classmethod
    def _s3_prefix(cls, value: str) -> str:
        """Keys go under the prefix as under a folder: `evidence` is `evidence/`."""
        value = value.strip().strip("/")
        if any(part in ("", ".", "..") for part in value.split("/")) and value:
            raise ValueError("must be folder names separated by /, such as packets/evidence")
        return f"{value}/" if value else ""

    @field_validator("store_fallback", mode="before")
    @classmethod
    def _no_fallback(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("s3_bucket", "s3_endpoint_url", "s3_region")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else value.strip()

    # Chain of custody: the PEM private key seals are signed with (default: one created in
    # <data-dir>/keys), the keys an import (and `verify`) trusts besides the installation's
    # own (comma-separated `sha256:` fingerprints or public key files), and keys revoked
    # besides those revoked in the registry (comma-separated `sha256:<hex>@<ISO 8601 time>`;
    # `verify` reads both).
    signing_key_file: Path | None = None
    trusted_keys: str | None = None
    revoked_keys: str | None = None
    # Set (the same on every server sharing the database): the signing key is kept in the
    # database, encrypted with this key-encryption key, instead of in a file (docs/custody.md).
    key_encryption_key: SecretStr | None = None

    @field_validator("key_encryption_key")
    @classmethod
    def _key_encryption_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        key_encryption_key(value.get_secret_value())
        return value

    @property
    def kek(self) -> bytes | None:
        """The key-encryption key's 32 bytes, when one is set."""
        secret = self.key_encryption_key
        return None if secret is None else key_encryption_key(secret.get_secret_value())

    @classmethod
    def with_flags(cls, **flags: Any) -> Settings:
        """The environment's settings, overridden by the flags given (a flag left out is None)."""
        return cls(**{name: value for name, value in flags.items() if value is not None})

    @property
    def standalone_data_dir(self) -> Path:
        """Outside the Frame: the configured data directory, else ./arkham-packets-data."""
        return self.data_dir or DEFAULT_DATA_DIR

    @property
    def standalone_database_url(self) -> str:
        """Outside the Frame: the configured database, else SQLite in the data directory."""
        return self.database_url or sqlite_url(self.standalone_data_dir)

    def allowed_import_dirs(self, data_dir: Path) -> list[Path]:
        if self.import_dirs:
            return [Path(part) for part in self.import_dirs.split(os.pathsep) if part.strip()]
        return [data_dir / "imports", data_dir / "exports"]
