"""Triggers that keep `arkham_packet_tallies` in step with packets and their items.

Every insert, delete, or change of tenant, status, visibility, item count or size of a packet
(and every insert or delete of an item) appends its difference to the tallies, in the same
transaction as the change, whoever makes it. Appending rather than updating one counter row
means concurrent writers never wait on, or deadlock over, a shared row.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from .tables import packet_contents, packet_tallies, packets

T, P, C = packet_tallies.name, packets.name, packet_contents.name
PACKET_COLUMNS = "tenant_id, status, visibility, packets, contents, size_bytes"
ITEM_COLUMNS = "tenant_id, content_type, items"
WATCHED = "tenant_id, status, visibility, contents_count, size_bytes"


def packet_values(row: str, sign: str) -> str:
    return (
        f"({row}.tenant_id, {row}.status, {row}.visibility, {sign}1, "
        f"{sign}{row}.contents_count, {sign}{row}.size_bytes)"
    )


def item_values(row: str, sign: str) -> str:
    return f"({row}.tenant_id, {row}.content_type, {sign}1)"


def changed(columns: str, differs: str = "IS DISTINCT FROM") -> str:
    """True when any of `columns` changed, NULLs compared as values (SQLite spells it IS NOT)."""
    names = columns.replace(" ", "").split(",")
    return " OR ".join(f"OLD.{name} {differs} NEW.{name}" for name in names)


SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS {P}_tally_insert AFTER INSERT ON {P} BEGIN
        INSERT INTO {T} ({PACKET_COLUMNS}) VALUES {packet_values("NEW", "")}; END""",
    f"""CREATE TRIGGER IF NOT EXISTS {P}_tally_delete AFTER DELETE ON {P} BEGIN
        INSERT INTO {T} ({PACKET_COLUMNS}) VALUES {packet_values("OLD", "-")}; END""",
    f"""CREATE TRIGGER IF NOT EXISTS {P}_tally_update AFTER UPDATE OF {WATCHED} ON {P}
        WHEN {changed(WATCHED, "IS NOT")} BEGIN
        INSERT INTO {T} ({PACKET_COLUMNS})
        VALUES {packet_values("OLD", "-")}, {packet_values("NEW", "")}; END""",
    f"""CREATE TRIGGER IF NOT EXISTS {C}_tally_insert AFTER INSERT ON {C} BEGIN
        INSERT INTO {T} ({ITEM_COLUMNS}) VALUES {item_values("NEW", "")}; END""",
    f"""CREATE TRIGGER IF NOT EXISTS {C}_tally_delete AFTER DELETE ON {C} BEGIN
        INSERT INTO {T} ({ITEM_COLUMNS}) VALUES {item_values("OLD", "-")}; END""",
    f"""CREATE TRIGGER IF NOT EXISTS {C}_tally_update AFTER UPDATE OF tenant_id, content_type
        ON {C} WHEN {changed("tenant_id, content_type", "IS NOT")} BEGIN
        INSERT INTO {T} ({ITEM_COLUMNS})
        VALUES {item_values("OLD", "-")}, {item_values("NEW", "")}; END""",
]

POSTGRES_FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION {P}_tally() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NOT ({changed(WATCHED)}) THEN
            RETURN NULL;
        END IF;
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO {T} ({PACKET_COLUMNS}) VALUES {packet_values("OLD", "-")};
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO {T} ({PACKET_COLUMNS}) VALUES {packet_values("NEW", "")};
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION {C}_tally() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NOT ({changed("tenant_id, content_type")}) THEN
            RETURN NULL;
        END IF;
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO {T} ({ITEM_COLUMNS}) VALUES {item_values("OLD", "-")};
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO {T} ({ITEM_COLUMNS}) VALUES {item_values("NEW", "")};
        END IF;
        RETURN NULL;
    END $$""",
]

POSTGRES_TRIGGERS = {
    P: f"AFTER INSERT OR DELETE OR UPDATE OF {WATCHED} ON {P}",
    C: f"AFTER INSERT OR DELETE OR UPDATE OF tenant_id, content_type ON {C}",
}

BACKFILL = [
    f"""INSERT INTO {T} ({PACKET_COLUMNS})
        SELECT tenant_id, status, visibility, count(*), coalesce(sum(contents_count), 0),
               coalesce(sum(size_bytes), 0)
        FROM {P} GROUP BY tenant_id, status, visibility""",
    f"""INSERT INTO {T} ({ITEM_COLUMNS})
        SELECT tenant_id, content_type, count(*) FROM {C} GROUP BY tenant_id, content_type""",
]


def tallies_exist(connection: Connection) -> bool:
    return inspect(connection).has_table(T)


def install(connection: Connection, *, backfill: bool) -> None:
    """Creates the triggers where missing; `backfill` sums the rows already there (run it in
    the transaction that created the tallies table)."""
    postgres = connection.dialect.name == "postgresql"
    if backfill:
        if postgres:
            # No writer may slip a change in between the sums and the triggers.
            connection.execute(text(f"LOCK TABLE {P}, {C} IN SHARE MODE"))
            # Folding leaves dead rows behind; a small table churned all day wants them
            # vacuumed after a fixed number, not after a fifth of the table.
            connection.execute(
                text(
                    f"ALTER TABLE {T} SET (autovacuum_vacuum_scale_factor = 0, "
                    "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0, "
                    "autovacuum_analyze_threshold = 1000)"
                )
            )
        for statement in BACKFILL:
            connection.execute(text(statement))
    if not postgres:
        for statement in SQLITE:
            connection.execute(text(statement))
        return
    for statement in POSTGRES_FUNCTIONS:
        connection.execute(text(statement))
    for table, timing in POSTGRES_TRIGGERS.items():
        name = f"{table}_tally"
        exists = connection.execute(
            text(
                "SELECT 1 FROM pg_trigger"
                " WHERE tgname = :name AND tgrelid = CAST(:table AS regclass)"
            ),
            {"name": name, "table": table},
        ).first()
        if exists is None:
            connection.execute(
                text(f"CREATE TRIGGER {name} {timing} FOR EACH ROW EXECUTE FUNCTION {name}()")
            )
