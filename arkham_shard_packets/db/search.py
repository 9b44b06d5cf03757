"""The list's `search`: a packet whose name or description contains the text, or one of whose
items has it in its title, content id or attached file name, case-insensitively; answered from
indexes on both databases (migration 0006 builds the packets', 0017 the items').

PostgreSQL: `ILIKE '%text%'`, which the trigram GIN indexes of pg_trgm serve (where the
extension could not be created, it scans). SQLite: FTS5 tables with the trigram tokenizer,
matched as a phrase, which is a substring match folded to lower case; they know nothing
shorter than three characters, so shorter text falls back to scanning with LIKE.

The packets that match are those the indexes name, gathered before the list's own conditions
(the tenant first) are applied to them: a search costs what its matches cost, however many
packets there are. The items that matched, a few for each packet of the page, are then read
for that page (`matched_items`), through the same index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    union_all,
)

from .tables import packet_contents, packets

FTS_TABLE = "arkham_packets_search"
FTS_KEYS = "arkham_packet_search_keys"
ITEM_FTS_TABLE = "arkham_packets_search_items"
ITEM_FTS_KEYS = "arkham_packet_search_item_keys"
INDEX_PREFIX = "idx_packets_search_"
TRIGRAM = 3
# The item fields searched, in the order a match names the first it was found in.
ITEM_FIELDS = {"content_title": "title", "content_id": "content_id", "file_name": "file_name"}
MATCHED_MAX = 3  # items named per packet of the page

_keys = table(FTS_KEYS, column("key"), column("packet_id"))
_fts = table(FTS_TABLE, column("rowid"))
_item_keys = table(ITEM_FTS_KEYS, column("key"), column("item_id"), column("packet_id"))
_item_fts = table(ITEM_FTS_TABLE, column("rowid"), *(column(name) for name in ITEM_FIELDS))


def outside_metadata(name: str | None) -> bool:
    """Schema objects the migrations make that `db.tables` does not describe."""
    outside = (FTS_TABLE, FTS_KEYS, ITEM_FTS_KEYS, INDEX_PREFIX)  # FTS_TABLE prefixes ITEM_FTS
    return bool(name) and str(name).startswith(outside)


def like_pattern(text_: str) -> str:
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_phrase(text_: str) -> str:
    """The text as one FTS5 string: its operators (`*`, `:`, `-`, `NEAR(`, `^`) are letters
    inside the quotes, and a quote is written twice."""
    return '"' + text_.replace('"', '""') + '"'


def uses_fts(dialect: str, searched: str | None) -> bool:
    return dialect == "sqlite" and searched is not None and len(searched) >= TRIGRAM


def led_by_matches(owned: ColumnElement[bool]) -> ColumnElement[bool]:
    """The tenant condition, hidden from SQLite's planner (an expression no index serves), so
    that it starts from the packets FTS5 found rather than walk every packet of the tenant
    in sort-index order, probing each against the matches."""
    return func.likelihood(owned, literal_column("1.0"), type_=Boolean)


def _fts_match(fts_table: str, searched: str) -> ColumnElement[bool]:
    return literal_column(fts_table).op("MATCH", is_comparison=True)(fts_phrase(searched))


def _ilike(target: Any, searched: str) -> ColumnElement[bool]:
    return target.ilike(like_pattern(searched), escape="\\")  # type: ignore[no-any-return]


def contains(dialect: str, searched: str) -> ColumnElement[bool]:
    """The packets matching `searched`, themselves or by an item."""
    return packets.c.id.in_(
        union_all(*packets_matching(dialect, searched), *items_matching(dialect, searched))
    )


def packets_matching(dialect: str, searched: str) -> list[Select[Any]]:
    if uses_fts(dialect, searched):
        return [
            select(_keys.c.packet_id)
            .join(_fts, _fts.c.rowid == _keys.c.key)
            .where(_fts_match(FTS_TABLE, searched))
        ]
    c = packets.c
    return _each_field(c.id, [c.name, c.description], dialect, searched)


def items_matching(dialect: str, searched: str) -> list[Select[Any]]:
    """The packets one of whose items matches (a packet once per such item)."""
    if uses_fts(dialect, searched):
        return [
            select(_item_keys.c.packet_id)
            .join(_item_fts, _item_fts.c.rowid == _item_keys.c.key)
            .where(_fts_match(ITEM_FTS_TABLE, searched))
        ]
    c = packet_contents.c
    return _each_field(c.packet_id, [c[name] for name in ITEM_FIELDS], dialect, searched)


def _each_field(
    key: ColumnElement[Any], fields: list[Any], dialect: str, searched: str
) -> list[Select[Any]]:
    """`key` of the rows whose fields contain the text. PostgreSQL: one SELECT per field, each
    served by that field's trigram index. An OR of them costs the planner the sum of the
    indexes, more than scanning the table up to a few thousand rows, so it scanned, and a
    search grew with the table until the indexes won (x1.7 from 500 to 2,000 packets)."""
    if dialect == "postgresql":
        return [select(key).where(_ilike(field, searched)) for field in fields]
    return [select(key).where(or_(*(_ilike(field, searched) for field in fields)))]


def _which_field(found: list[ColumnElement[bool]]) -> ColumnElement[Any]:
    """The first field found in, by name; NULL for an item the text is not in."""
    return case(*zip(found, ITEM_FIELDS.values(), strict=True))


def _page_items(
    dialect: str, searched: str, packet_ids: Sequence[str]
) -> tuple[FromClause, ColumnElement[Any], ColumnElement[bool]]:
    """Where the items of the page's packets that match are read from, the field each matched
    in, and the condition that picks them."""
    c = packet_contents.c
    if not uses_fts(dialect, searched):
        found = [_ilike(c[name], searched) for name in ITEM_FIELDS]
        return packet_contents, _which_field(found), and_(c.packet_id.in_(packet_ids), or_(*found))
    # The text's matches, those of the page's packets kept before their rows are read. FTS5
    # marks the text where it matched: a field marked in is a field that matched.
    fts, keys = _item_fts.c, _item_keys.c
    found = [
        func.highlight(literal_column(ITEM_FTS_TABLE), index, "[", "]").is_distinct_from(fts[name])
        for index, name in enumerate(ITEM_FIELDS)
    ]
    source = _item_fts.join(_item_keys, keys.key == fts.rowid).join(
        packet_contents, c.id == keys.item_id
    )
    picked = and_(_fts_match(ITEM_FTS_TABLE, searched), keys.packet_id.in_(packet_ids))
    return source, _which_field(found), picked


def matched_items(
    owned: ColumnElement[bool], dialect: str, searched: str, packet_ids: Sequence[str]
) -> Select[Any]:
    """The first `MATCHED_MAX` items (in the contents' order) of each of these packets that
    match `searched`, each with the field it matched in (`matched`)."""
    c = packet_contents.c
    source, matched, picked = _page_items(dialect, searched, packet_ids)
    found = (
        select(
            c.id,
            c.packet_id,
            c.content_type,
            c.content_id,
            c.content_title,
            c.file_name,
            c.order_num,
            matched.label("matched"),
        )
        .select_from(source)
        .where(owned, picked)
        .subquery()
    )
    # Ranked apart from the match: SQLite's window functions read their rows back from a sort,
    # where FTS5 can no longer tell what matched.
    in_order = (found.c.order_num, found.c.content_type, found.c.content_id)  # the contents'
    rank = func.row_number().over(partition_by=found.c.packet_id, order_by=in_order)
    ranked = select(found, rank.label("rank")).subquery()
    return select(ranked).where(ranked.c.rank <= MATCHED_MAX).order_by(ranked.c.rank)
