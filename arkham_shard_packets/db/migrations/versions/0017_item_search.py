"""Search that finds items: the list's `search` also matches an item's title, content id and
attached file name, answered from an index as the packets' own text is (migration 0006).

PostgreSQL: a trigram GIN index (pg_trgm) on each of the three columns; building them holds
writes to items back while they are built (`CREATE INDEX` inside the migration's transaction).
SQLite: an FTS5 trigram table over the three columns, each item found by a stable integer key,
kept in step with every insert, delete and change of an item by triggers. Both are built for
the items already there.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

C = "arkham_packet_contents"
SEARCH = "arkham_packets_search_items"
KEYS = "arkham_packet_search_item_keys"
SEARCHED = ("content_title", "content_id", "file_name")
INDEXES = {f"idx_packets_search_item_{column}": column for column in SEARCHED}
COLUMNS = ", ".join(SEARCHED)
KEY_OF = f"(SELECT key FROM {KEYS} WHERE item_id = {{row}}.id)"


def row_values(row: str) -> str:
    return ", ".join(f"{row}.{column}" for column in SEARCHED)


SQLITE_SEARCH = [
    # FTS5 rows are found by integer rowid: each item gets a stable one here (a plain table's
    # own rowid may change on VACUUM), with its packet, which a match is looked up for.
    f"""CREATE TABLE {KEYS} (key INTEGER PRIMARY KEY, item_id TEXT NOT NULL,
        packet_id TEXT NOT NULL, CONSTRAINT uq_search_item_keys_item UNIQUE (item_id))""",
    f"CREATE VIRTUAL TABLE {SEARCH} USING fts5({COLUMNS}, tokenize = 'trigram')",
    f"INSERT INTO {KEYS} (item_id, packet_id) SELECT id, packet_id FROM {C}",
    f"""INSERT INTO {SEARCH} (rowid, {COLUMNS})
        SELECT k.key, {row_values("c")} FROM {C} c JOIN {KEYS} k ON k.item_id = c.id""",
    f"""CREATE TRIGGER {C}_search_insert AFTER INSERT ON {C} BEGIN
        INSERT INTO {KEYS} (item_id, packet_id) VALUES (NEW.id, NEW.packet_id);
        INSERT INTO {SEARCH} (rowid, {COLUMNS})
        VALUES ({KEY_OF.format(row="NEW")}, {row_values("NEW")}); END""",
    f"""CREATE TRIGGER {C}_search_delete AFTER DELETE ON {C} BEGIN
        DELETE FROM {SEARCH} WHERE rowid = {KEY_OF.format(row="OLD")};
        DELETE FROM {KEYS} WHERE item_id = OLD.id; END""",
    f"""CREATE TRIGGER {C}_search_update AFTER UPDATE OF id, packet_id, {COLUMNS} ON {C} BEGIN
        UPDATE {KEYS} SET item_id = NEW.id, packet_id = NEW.packet_id WHERE item_id = OLD.id;
        UPDATE {SEARCH} SET {", ".join(f"{c} = NEW.{c}" for c in SEARCHED)}
        WHERE rowid = {KEY_OF.format(row="NEW")}; END""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        create_trigram_indexes()
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)


def create_trigram_indexes() -> None:
    """As migration 0006: where pg_trgm can't be had, search still works, by scanning."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as error:
        print(f"packets: no pg_trgm ({error.orig}); searching items will scan")
        return
    schema = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one()
    for name, column in INDEXES.items():
        op.execute(f'CREATE INDEX {name} ON {C} USING gin ({column} "{schema}".gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        return
    for suffix in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER {C}_search_{suffix}")
    op.execute(f"DROP TABLE {SEARCH}")
    op.execute(f"DROP TABLE {KEYS}")
