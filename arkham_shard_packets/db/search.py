"""The list's `search`: name or description containing the text, case-insensitively, answered
from an index on both databases (migration 0006 builds them).

PostgreSQL: `ILIKE '%text%'`, which the trigram GIN indexes of pg_trgm serve (where the
extension could not be created, it scans). SQLite: an FTS5 table with the trigram tokenizer,
matched as a phrase, which is a substring match folded to lower case; it knows nothing
shorter than three characters, so shorter text falls back to scanning with LIKE.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    ColumnElement,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)

from .tables import packets

FTS_TABLE = "arkham_packets_search"
FTS_KEYS = "arkham_packet_search_keys"
INDEX_PREFIX = "idx_packets_search_"
TRIGRAM = 3

_keys = table(FTS_KEYS, column("key"), column("packet_id"))
_fts = table(FTS_TABLE, column("rowid"))


def outside_metadata(name: str | None) -> bool:
    """Schema objects the migrations make that `db.tables` does not describe."""
    return bool(name) and str(name).startswith((FTS_TABLE, FTS_KEYS, INDEX_PREFIX))


def like_pattern(text_: str) -> str:
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_phrase(text_: str) -> str:
    return '"' + text_.replace('"', '""') + '"'


def uses_fts(dialect: str, searched: str | None) -> bool:
    return dialect == "sqlite" and searched is not None and len(searched) >= TRIGRAM


def led_by_matches(owned: ColumnElement[bool]) -> ColumnElement[bool]:
    """The tenant condition, hidden from SQLite's planner (an expression no index serves), so
    that it starts from the packets FTS5 found rather than walk every packet of the tenant
    in sort-index order, probing each against the matches."""
    return func.likelihood(owned, literal_column("1.0"), type_=Boolean)


def contains(dialect: str, searched: str) -> ColumnElement[bool]:
    c = packets.c
    if uses_fts(dialect, searched):
        matching = (
            select(_keys.c.packet_id)
            .join(_fts, _fts.c.rowid == _keys.c.key)
            .where(text(f"{FTS_TABLE} MATCH :phrase").bindparams(phrase=fts_phrase(searched)))
        )
        return c.id.in_(matching)
    pattern = like_pattern(searched)
    return or_(c.name.ilike(pattern, escape="\\"), c.description.ilike(pattern, escape="\\"))
