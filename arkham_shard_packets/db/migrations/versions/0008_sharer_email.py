"""The sharer's email with each share: the viewer page names who shared a packet, and a Frame
user's id means nothing to the person opening the link. Shares made before stay without one.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite 3.35 and later drops columns in place): a batch
# table rebuild on SQLite would take the share tally triggers of 0006 with it.


def upgrade() -> None:
    op.add_column("arkham_packet_shares", sa.Column("shared_by_email", sa.Text))


def downgrade() -> None:
    op.drop_column("arkham_packet_shares", "shared_by_email")
