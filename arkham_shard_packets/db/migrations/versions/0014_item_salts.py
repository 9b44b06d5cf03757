"""Item proofs: a seal signed here keeps the salts of its items (the JSON list of their 64-hex
salts, in the checksum recipe's item order), from which a disclosure proves some of its items
against the statement's `items_root`. Seals made before, and seals an import carried in, keep
none.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("arkham_packet_seals", sa.Column("item_salts", sa.Text))


def downgrade() -> None:
    op.drop_column("arkham_packet_seals", "item_salts")
