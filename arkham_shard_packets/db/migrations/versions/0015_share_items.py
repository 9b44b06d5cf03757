"""Share links limited to items: the content entry ids a link shows (a JSON list, in the
checksum recipe's item order) and the sealed version they are items of. A link without them
shows the whole packet, as every link made before did.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("arkham_packet_shares", sa.Column("item_ids", sa.Text))
    op.add_column("arkham_packet_shares", sa.Column("items_version", sa.Integer))


def downgrade() -> None:
    op.drop_column("arkham_packet_shares", "items_version")
    op.drop_column("arkham_packet_shares", "item_ids")
