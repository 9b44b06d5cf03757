"""The core schema: the seed's four tables with tenant_id.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _packets()
    _contents()
    _shares()
    _versions()


def _packets() -> None:
    op.create_table(
        "arkham_packets",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, server_default="", nullable=False),
        sa.Column("status", sa.Text, server_default="draft", nullable=False),
        sa.Column("visibility", sa.Text, server_default="private", nullable=False),
        sa.Column("created_by", sa.Text, server_default="system", nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, server_default="1", nullable=False),
        sa.Column("contents_count", sa.Integer, server_default="0", nullable=False),
        sa.Column("size_bytes", sa.Integer, server_default="0", nullable=False),
        sa.Column("checksum", sa.Text),
        sa.Column("metadata", sa.Text, server_default="{}", nullable=False),
        sa.Column("tenant_id", sa.Text),
    )
    op.create_index("idx_packets_status", "arkham_packets", ["status"])
    op.create_index("idx_packets_creator", "arkham_packets", ["created_by"])
    op.create_index("idx_packets_tenant_created", "arkham_packets", ["tenant_id", "created_at"])


def _contents() -> None:
    op.create_table(
        "arkham_packet_contents",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("packet_id", sa.Text, sa.ForeignKey("arkham_packets.id"), nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("content_id", sa.Text, nullable=False),
        sa.Column("content_title", sa.Text),
        sa.Column("added_at", sa.Text, nullable=False),
        sa.Column("added_by", sa.Text, server_default="system", nullable=False),
        sa.Column("order_num", sa.Integer, server_default="0", nullable=False),
        sa.Column("data", sa.Text),
        sa.Column("tenant_id", sa.Text),
        sa.UniqueConstraint("packet_id", "content_type", "content_id", name="uq_contents_item"),
    )
    op.create_index("idx_contents_packet", "arkham_packet_contents", ["packet_id"])


def _shares() -> None:
    op.create_table(
        "arkham_packet_shares",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("packet_id", sa.Text, sa.ForeignKey("arkham_packets.id"), nullable=False),
        sa.Column("shared_with", sa.Text),
        sa.Column("permissions", sa.Text, server_default="view", nullable=False),
        sa.Column("shared_at", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Text),
        sa.Column("access_token", sa.Text),
        sa.Column("tenant_id", sa.Text),
    )
    op.create_index("idx_shares_packet", "arkham_packet_shares", ["packet_id"])
    op.create_index("idx_shares_token", "arkham_packet_shares", ["access_token"])


def _versions() -> None:
    op.create_table(
        "arkham_packet_versions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("packet_id", sa.Text, sa.ForeignKey("arkham_packets.id"), nullable=False),
        sa.Column("version_number", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("changes_summary", sa.Text),
        sa.Column("snapshot_path", sa.Text),
        sa.Column("tenant_id", sa.Text),
        sa.UniqueConstraint("packet_id", "version_number", name="uq_versions_number"),
    )
    op.create_index("idx_versions_packet", "arkham_packet_versions", ["packet_id"])


def downgrade() -> None:
    for table in (
        "arkham_packet_versions",
        "arkham_packet_shares",
        "arkham_packet_contents",
        "arkham_packets",
    ):
        op.drop_table(table)
