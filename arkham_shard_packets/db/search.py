"""Trigram indexes that let PostgreSQL answer the list's `search` (ILIKE '%text%' on name or
description) without reading every packet.

They need the `pg_trgm` extension (a trusted extension: the database owner may create it). Where
it can't be had, search still works, by scanning. SQLite has no such index: it always scans.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from .tables import packets

logger = logging.getLogger(__name__)

SEARCHED = ("name", "description")


def install(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    try:
        with connection.begin_nested():
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError as error:
        logger.warning("packets: no pg_trgm (%s); text search will scan", error.orig)
        return
    # The extension lives in one schema of the database, maybe not on this search_path.
    schema = connection.execute(
        text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one()
    for column in SEARCHED:
        connection.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS idx_packets_search_{column} "
                f'ON {packets.name} USING gin ({column} "{schema}".gin_trgm_ops)'
            )
        )
