"""Feed positions handed out after commit, so writers share no lock.

Until now every transaction that wrote events took one advisory lock on PostgreSQL until it
committed, so that `sequence` (the outbox's key, given at insert) followed commit order and a
reader of the feed never saw 7 before 6: every writer of every process waited for the commit of
the one before. Events are now written without a place in the feed; the relay of some server
process (events/relay.py) gives committed events the next `position`s in one short transaction at
a time, and the feed serves them by position. Events written before keep their order: their
position is their sequence, so a consumer's cursor stays valid. Each event also names the relay
that hands it to the bus (`relay`): the writing process's, or none, and then the first relay to
claim it (events still undelivered at the upgrade are claimed so).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OUTBOX = "arkham_packet_outbox"
UNPOSITIONED = sa.text("position IS NULL")
UNDELIVERED = sa.text("delivered_at IS NULL")
PLACE = "arkham_packet_outbox_place"
# PostgreSQL: placing in one round trip. Each statement of a volatile function takes its own
# snapshot, so the highest position is read once the placers' lock is held (the key is
# events/outbox.py's PLACER_LOCK_KEY, "packets"); the lock ends with the calling transaction.
PLACE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {PLACE}(batch integer)
RETURNS TABLE (sequence bigint, "position" bigint, event_type text, payload text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    top bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(31632277023061107);
    SELECT coalesce(max(o.position), 0) INTO top FROM {OUTBOX} o;
    RETURN QUERY
    WITH waiting AS (
        SELECT o.sequence AS seq, row_number() OVER (ORDER BY o.sequence) AS n
        FROM {OUTBOX} o
        WHERE o.position IS NULL
        ORDER BY o.sequence
        LIMIT batch
    )
    UPDATE {OUTBOX} o SET position = top + w.n
    FROM waiting w
    WHERE o.sequence = w.seq
    RETURNING o.sequence::bigint, o.position::bigint, o.event_type, o.payload;
END
$$
"""


def upgrade() -> None:
    op.add_column(OUTBOX, sa.Column("position", sa.BigInteger().with_variant(sa.Integer, "sqlite")))
    op.add_column(OUTBOX, sa.Column("relay", sa.Text()))
    op.execute(f"UPDATE {OUTBOX} SET position = sequence")
    op.drop_index("idx_outbox_pending", OUTBOX)
    op.drop_index("idx_outbox_tenant_sequence", OUTBOX)
    op.create_index("idx_outbox_position", OUTBOX, ["position"], unique=True)
    op.create_index("idx_outbox_tenant_position", OUTBOX, ["tenant_id", "position"])
    op.create_index(
        "idx_outbox_unpositioned",
        OUTBOX,
        ["sequence"],
        postgresql_where=UNPOSITIONED,
        sqlite_where=UNPOSITIONED,
    )
    op.create_index(
        "idx_outbox_undelivered",
        OUTBOX,
        ["position"],
        postgresql_where=UNDELIVERED,
        sqlite_where=UNDELIVERED,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PLACE_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {PLACE}(integer)")
    for name in (
        "idx_outbox_undelivered",
        "idx_outbox_unpositioned",
        "idx_outbox_tenant_position",
        "idx_outbox_position",
    ):
        op.drop_index(name, OUTBOX)
    with op.batch_alter_table(OUTBOX) as table:
        table.drop_column("position")
        table.drop_column("relay")
    op.create_index("idx_outbox_pending", OUTBOX, ["delivered_at", "sequence"])
    op.create_index("idx_outbox_tenant_sequence", OUTBOX, ["tenant_id", "sequence"])
