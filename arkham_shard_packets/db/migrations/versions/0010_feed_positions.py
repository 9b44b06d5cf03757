"""Feed positions handed out after commit, so writers share no lock.

Until now every transaction that wrote events took one advisory lock on PostgreSQL until it
committed, so that `sequence` (the outbox's key, given at insert) followed commit order and a
reader of the feed never saw 7 before 6: every writer of every process waited for the commit of
the one before. Events are now written without a place in the feed; the relay of some server
process (core/relay.py) gives committed events the next `position`s in one short transaction at
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


def downgrade() -> None:
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
