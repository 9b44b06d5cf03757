"""Sharing: hashed tokens with their bookkeeping, the access log and comments.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SHARE_COLUMNS = ("shared_by", "password_hash", "access_count", "last_accessed_at", "revoked_at")


def upgrade() -> None:
    with op.batch_alter_table("arkham_packet_shares") as table:
        table.add_column(sa.Column("shared_by", sa.Text, server_default="system", nullable=False))
        table.add_column(sa.Column("password_hash", sa.Text))
        table.add_column(sa.Column("access_count", sa.Integer, server_default="0", nullable=False))
        table.add_column(sa.Column("last_accessed_at", sa.Text))
        table.add_column(sa.Column("revoked_at", sa.Text))
    # Tokens were never handed out before this revision stored only their digests: any
    # earlier row cannot be trusted to hold a digest, so it can no longer open anything.
    op.execute(
        "UPDATE arkham_packet_shares SET revoked_at = shared_at, access_token = NULL"
        " WHERE revoked_at IS NULL"
    )

    op.create_table(
        "arkham_packet_share_access",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("share_id", sa.Text, sa.ForeignKey("arkham_packet_shares.id"), nullable=False),
        sa.Column("packet_id", sa.Text, sa.ForeignKey("arkham_packets.id"), nullable=False),
        sa.Column("accessed_at", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("client_address", sa.Text),
        sa.Column("tenant_id", sa.Text),
    )
    op.create_index(
        "idx_share_access_share",
        "arkham_packet_share_access",
        ["share_id", "action", "accessed_at"],
    )

    op.create_table(
        "arkham_packet_comments",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("packet_id", sa.Text, sa.ForeignKey("arkham_packets.id"), nullable=False),
        sa.Column("share_id", sa.Text, sa.ForeignKey("arkham_packet_shares.id")),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text),
    )
    op.create_index("idx_comments_packet", "arkham_packet_comments", ["packet_id", "created_at"])


def downgrade() -> None:
    op.drop_table("arkham_packet_comments")
    op.drop_table("arkham_packet_share_access")
    with op.batch_alter_table("arkham_packet_shares") as table:
        for column in SHARE_COLUMNS:
            table.drop_column(column)
