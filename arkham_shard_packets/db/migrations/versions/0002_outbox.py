"""The event outbox.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arkham_packet_outbox",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
        ),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("delivered_at", sa.Text),
        sa.Column("attempts", sa.Integer, server_default="0", nullable=False),
        sa.Column("tenant_id", sa.Text),
    )
    op.create_index("idx_outbox_pending", "arkham_packet_outbox", ["delivered_at", "sequence"])
    op.create_index("idx_outbox_tenant_sequence", "arkham_packet_outbox", ["tenant_id", "sequence"])


def downgrade() -> None:
    op.drop_table("arkham_packet_outbox")
