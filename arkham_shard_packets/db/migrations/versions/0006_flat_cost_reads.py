"""Reads whose cost does not grow with the number of packets: one index per sort order of the
list, running totals kept by triggers (`arkham_packet_tallies`), and indexed text search
(trigram GIN indexes with pg_trgm on PostgreSQL, an FTS5 trigram table on SQLite).

Every insert, delete or counted change of a packet, an item, a version or a share appends its
difference to the tallies, in the same transaction as the change, whoever makes it. Appending
rather than updating one counter row means concurrent writers never wait on a shared row;
`packets/totals.py` sums the rows and folds them back now and then.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

T = "arkham_packet_tallies"
P, C, V, S = (
    "arkham_packets",
    "arkham_packet_contents",
    "arkham_packet_versions",
    "arkham_packet_shares",
)
SEARCH = "arkham_packets_search"
KEYS = "arkham_packet_search_keys"
SORT_INDEXES = {
    "idx_packets_sort_created": "created_at",
    "idx_packets_sort_updated": "updated_at",
    "idx_packets_sort_name": "name",
    "idx_packets_sort_contents": "contents_count",
}
SEARCHED = ("name", "description")
SUMMED = ("packets", "contents", "size_bytes", "items", "versions", "shares", "open_shares")


def case(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


# What each kind of row adds to the tallies: (columns, values for a row named `r`, signed).
TALLIED = {
    P: (
        "tenant_id, status, visibility, packets, contents, size_bytes",
        "r.tenant_id, r.status, r.visibility, {s}1, {s}r.contents_count, {s}r.size_bytes",
        "tenant_id, status, visibility, contents_count, size_bytes",
    ),
    C: (
        "tenant_id, content_type, items",
        "r.tenant_id, r.content_type, {s}1",
        "tenant_id, content_type",
    ),
    V: ("tenant_id, versions", "r.tenant_id, {s}1", "tenant_id"),
    S: (
        "tenant_id, shares, open_shares",
        "r.tenant_id, {s}"
        + case("r.revoked_at IS NULL")
        + ", {s}"
        + case("r.revoked_at IS NULL AND r.expires_at IS NULL"),
        "tenant_id, revoked_at, expires_at",
    ),
}

BACKFILL = [
    f"""INSERT INTO {T} (tenant_id, status, visibility, packets, contents, size_bytes)
        SELECT tenant_id, status, visibility, count(*), coalesce(sum(contents_count), 0),
               coalesce(sum(size_bytes), 0)
        FROM {P} GROUP BY tenant_id, status, visibility""",
    f"""INSERT INTO {T} (tenant_id, content_type, items)
        SELECT tenant_id, content_type, count(*) FROM {C} GROUP BY tenant_id, content_type""",
    f"""INSERT INTO {T} (tenant_id, versions)
        SELECT tenant_id, count(*) FROM {V} GROUP BY tenant_id""",
    f"""INSERT INTO {T} (tenant_id, shares, open_shares)
        SELECT tenant_id, sum({case("revoked_at IS NULL")}),
               sum({case("revoked_at IS NULL AND expires_at IS NULL")})
        FROM {S} GROUP BY tenant_id""",
]


def values(table: str, row: str, sign: str) -> str:
    return "(" + TALLIED[table][1].replace("r.", f"{row}.").format(s=sign) + ")"


def changed(columns: str, differs: str) -> str:
    names = columns.replace(" ", "").split(",")
    return " OR ".join(f"OLD.{name} {differs} NEW.{name}" for name in names)


def sqlite_triggers(table: str) -> list[str]:
    columns, _, watched = TALLIED[table]
    insert = f"INSERT INTO {T} ({columns}) VALUES"
    return [
        f"CREATE TRIGGER {table}_tally_insert AFTER INSERT ON {table} BEGIN"
        f" {insert} {values(table, 'NEW', '')}; END",
        f"CREATE TRIGGER {table}_tally_delete AFTER DELETE ON {table} BEGIN"
        f" {insert} {values(table, 'OLD', '-')}; END",
        f"CREATE TRIGGER {table}_tally_update AFTER UPDATE OF {watched} ON {table}"
        f" WHEN {changed(watched, 'IS NOT')} BEGIN"
        f" {insert} {values(table, 'OLD', '-')}, {values(table, 'NEW', '')}; END",
    ]


def postgres_trigger(table: str) -> list[str]:
    columns, _, watched = TALLIED[table]
    insert = f"INSERT INTO {T} ({columns}) VALUES"
    return [
        f"""CREATE OR REPLACE FUNCTION {table}_tally() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND NOT ({changed(watched, "IS DISTINCT FROM")}) THEN
                RETURN NULL;
            END IF;
            IF TG_OP <> 'INSERT' THEN {insert} {values(table, "OLD", "-")}; END IF;
            IF TG_OP <> 'DELETE' THEN {insert} {values(table, "NEW", "")}; END IF;
            RETURN NULL;
        END $$""",
        f"CREATE TRIGGER {table}_tally AFTER INSERT OR DELETE OR UPDATE OF {watched} ON {table}"
        f" FOR EACH ROW EXECUTE FUNCTION {table}_tally()",
    ]


KEY_OF = "(SELECT key FROM {keys} WHERE packet_id = {row}.id)"
SQLITE_SEARCH = [
    # FTS5 rows are found by integer rowid: each packet gets a stable one here (a plain
    # table's own rowid may change on VACUUM).
    f"""CREATE TABLE {KEYS} (key INTEGER PRIMARY KEY, packet_id TEXT NOT NULL,
        CONSTRAINT uq_search_keys_packet UNIQUE (packet_id))""",
    f"CREATE VIRTUAL TABLE {SEARCH} USING fts5(name, description, tokenize = 'trigram')",
    f"INSERT INTO {KEYS} (packet_id) SELECT id FROM {P}",
    f"""INSERT INTO {SEARCH} (rowid, name, description)
        SELECT k.key, p.name, p.description FROM {P} p JOIN {KEYS} k ON k.packet_id = p.id""",
    f"""CREATE TRIGGER {P}_search_insert AFTER INSERT ON {P} BEGIN
        INSERT INTO {KEYS} (packet_id) VALUES (NEW.id);
        INSERT INTO {SEARCH} (rowid, name, description)
        VALUES ({KEY_OF.format(keys=KEYS, row="NEW")}, NEW.name, NEW.description); END""",
    f"""CREATE TRIGGER {P}_search_delete AFTER DELETE ON {P} BEGIN
        DELETE FROM {SEARCH} WHERE rowid = {KEY_OF.format(keys=KEYS, row="OLD")};
        DELETE FROM {KEYS} WHERE packet_id = OLD.id; END""",
    f"""CREATE TRIGGER {P}_search_update AFTER UPDATE OF id, name, description ON {P} BEGIN
        UPDATE {KEYS} SET packet_id = NEW.id WHERE packet_id = OLD.id;
        UPDATE {SEARCH} SET name = NEW.name, description = NEW.description
        WHERE rowid = {KEY_OF.format(keys=KEYS, row="NEW")}; END""",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("idx_packets_tenant_created", P)
    for name, column in SORT_INDEXES.items():
        op.create_index(name, P, ["tenant_id", column, "id"])
    op.create_index("idx_shares_expiry", S, ["tenant_id", "expires_at", "revoked_at"])

    big = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        T,
        sa.Column("id", big, primary_key=True),
        sa.Column("tenant_id", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("visibility", sa.Text),
        sa.Column("content_type", sa.Text),
        *(sa.Column(name, sa.BigInteger, server_default="0", nullable=False) for name in SUMMED),
    )
    op.create_index("idx_tallies_tenant", T, ["tenant_id"])
    if postgres:
        # No writer may slip a change in between the sums and the triggers.
        op.execute(f"LOCK TABLE {P}, {C}, {V}, {S} IN SHARE MODE")
        # Folding leaves dead rows behind: a small table churned all day wants them vacuumed
        # after a fixed number of changes, not after a fifth of the table.
        op.execute(
            f"ALTER TABLE {T} SET (autovacuum_vacuum_scale_factor = 0, "
            "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0, "
            "autovacuum_analyze_threshold = 1000)"
        )
    for statement in BACKFILL:
        op.execute(statement)
    for table in TALLIED:
        for statement in postgres_trigger(table) if postgres else sqlite_triggers(table):
            op.execute(statement)

    if postgres:
        create_trigram_indexes()
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)


def create_trigram_indexes() -> None:
    """Where pg_trgm can't be had (it is a trusted extension, so a database owner may create
    it), search still works, by scanning."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as error:
        print(f"packets: no pg_trgm ({error.orig}); text search will scan")
        return
    # The extension lives in one schema of the database, maybe not on this search_path.
    schema = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one()
    for column in SEARCHED:
        op.execute(
            f"CREATE INDEX idx_packets_search_{column} "
            f'ON {P} USING gin ({column} "{schema}".gin_trgm_ops)'
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for column in SEARCHED:
            op.execute(f"DROP INDEX IF EXISTS idx_packets_search_{column}")
        for table in TALLIED:
            op.execute(f"DROP TRIGGER {table}_tally ON {table}")
            op.execute(f"DROP FUNCTION {table}_tally()")
    else:
        for suffix in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER {P}_search_{suffix}")
            for table in TALLIED:
                op.execute(f"DROP TRIGGER {table}_tally_{suffix}")
        op.execute(f"DROP TABLE {SEARCH}")
        op.execute(f"DROP TABLE {KEYS}")
    op.drop_table(T)
    op.drop_index("idx_shares_expiry", S)
    for name in SORT_INDEXES:
        op.drop_index(name, P)
    op.create_index("idx_packets_tenant_created", P, ["tenant_id", "created_at"])
