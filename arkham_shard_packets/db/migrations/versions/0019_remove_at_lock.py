"""An item's removal in the statement that locks its packet (PostgreSQL).

A removal locked its packet, deleted the item in a second statement, then wrote the packet's
counts, the custody entry and the event in a third: the counts go down by the item's size,
which the request does not carry. The function below does the delete and the counts: called in
the locking UPDATE's RETURNING, after the row is locked, each of its statements takes a
snapshot of its own, so it sees the item as the lock's previous holder left it (a statement's
own subqueries see the database as it was when the statement began, before it waited for the
lock). Its UPDATE of the locked row runs after the locking UPDATE's (a later command of the
same transaction, which sees that one's row). No such item: it raises, and the statement
writes nothing.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

REMOVE = "arkham_packet_remove_item"
# records/packets.py's stored_size: the bytes of `data`, and the attached file's
REMOVE_FUNCTION = f"""
CREATE FUNCTION {REMOVE}(packet text, entry text)
RETURNS text[]
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    item arkham_packet_contents;
BEGIN
    DELETE FROM arkham_packet_contents c
    WHERE c.id = entry AND c.packet_id = packet
    RETURNING c.* INTO item;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found', MESSAGE = '{REMOVE}: no such item';
    END IF;
    UPDATE arkham_packets p
    SET contents_count = p.contents_count - 1,
        size_bytes = p.size_bytes
            - (octet_length(coalesce(item.data, '')) + coalesce(item.file_size, 0))
    WHERE p.id = packet;
    RETURN ARRAY[item.content_type, item.content_id, item.file_sha256];
END
$$
"""
DROP = f"DROP FUNCTION IF EXISTS {REMOVE}(text, text)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP)  # one of the same name left by another build would not be replaced
        op.execute(REMOVE_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP)
