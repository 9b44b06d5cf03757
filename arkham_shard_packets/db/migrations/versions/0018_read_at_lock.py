"""The head of a packet's custody log, and the place of an item to add, read by the statement
that locks the packet.

PostgreSQL: a change locked its packet with one statement and read the head of the packet's
custody log with the next, so that the head included every entry committed before the lock was
granted (a statement's own subqueries see the database as it was when the statement began,
before it waited for the lock). The function below runs its query with a snapshot of its own,
taken when it is called: called in the locking statement's RETURNING, after the row is locked,
it sees what the lock's previous holder committed, and the change saves a round trip. The same
goes for an item added: whether the packet holds it already, and its place after the last item
(the second function), so the item is written with the change's other rows.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

HEAD = "arkham_packet_custody_head"
# Packet ids are unique across tenants, so a packet's entries are found by its id alone. The
# head as one text, its chain, position and hash apart by spaces (one value: RETURNING calls
# the function once).
HEAD_FUNCTION = f"""
CREATE FUNCTION {HEAD}(packet text)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head text;
BEGIN
    SELECT c.chain || ' ' || c.position || ' ' || c.entry_sha256 INTO head
    FROM arkham_packet_custody c
    WHERE c.packet_id = packet
    ORDER BY c.chain DESC, c.position DESC
    LIMIT 1;
    RETURN head;
END
$$
"""


SLOT = "arkham_packet_item_slot"
ORDER_MAX = 2**31 - 1  # records/locks.py's: `order` is a 32-bit integer
# NULL when the packet holds the item; else its place after the last item (0 for the first).
SLOT_FUNCTION = f"""
CREATE FUNCTION {SLOT}(packet text, item_type text, item_id text)
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    last integer;
BEGIN
    IF EXISTS (
        SELECT 1 FROM arkham_packet_contents c
        WHERE c.packet_id = packet AND c.content_type = item_type AND c.content_id = item_id
    ) THEN
        RETURN NULL;
    END IF;
    SELECT max(c.order_num) INTO last FROM arkham_packet_contents c WHERE c.packet_id = packet;
    RETURN CASE WHEN last IS NULL THEN 0 ELSE least(last::bigint + 1, {ORDER_MAX})::integer END;
END
$$
"""


DROPS = (
    f"DROP FUNCTION IF EXISTS {SLOT}(text, text, text)",
    f"DROP FUNCTION IF EXISTS {HEAD}(text)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for drop in DROPS:  # one of the same name left by another build would not be replaced
            op.execute(drop)
        op.execute(HEAD_FUNCTION)
        op.execute(SLOT_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for drop in DROPS:
            op.execute(drop)
