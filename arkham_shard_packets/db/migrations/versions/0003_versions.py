"""Versions: content-addressed snapshot bodies, version kinds, recipe numbers on checksums.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arkham_packet_snapshots",
        sa.Column("digest", sa.Text, primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    with op.batch_alter_table("arkham_packets") as table:
        table.add_column(sa.Column("checksum_recipe", sa.Integer))
    with op.batch_alter_table("arkham_packet_versions") as table:
        table.add_column(sa.Column("kind", sa.Text, server_default="manual", nullable=False))
        table.add_column(sa.Column("created_by", sa.Text, server_default="system", nullable=False))
        table.add_column(sa.Column("checksum", sa.Text))
        table.add_column(sa.Column("checksum_recipe", sa.Integer))
    # A checksum sealed before recipe numbers were stored was made with recipe 1.
    op.execute(
        "UPDATE arkham_packets SET checksum_recipe = 1"
        " WHERE checksum IS NOT NULL AND checksum_recipe IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("arkham_packet_versions") as table:
        for column in ("checksum_recipe", "checksum", "created_by", "kind"):
            table.drop_column(column)
    with op.batch_alter_table("arkham_packets") as table:
        table.drop_column("checksum_recipe")
    op.drop_table("arkham_packet_snapshots")
