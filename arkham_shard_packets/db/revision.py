"""Where the schema's revision is kept, and the newest one this code knows."""

from __future__ import annotations

VERSION_TABLE = "arkham_packets_alembic_version"
# The newest file in db/migrations/versions; tests/test_migrations.py holds them equal.
HEAD_REVISION = "0019"
