"""Alembic environment: always handed a live connection by `db.migrate`."""

from __future__ import annotations

from alembic import context

from arkham_shard_packets.db.revision import VERSION_TABLE
from arkham_shard_packets.db.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
