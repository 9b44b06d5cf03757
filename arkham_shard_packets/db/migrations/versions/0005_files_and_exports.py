"""Attached files (content columns, the blob registry, which snapshots name which files),
the finalize time, and the record of exports.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FILE_COLUMNS = ("file_name", "file_media_type", "file_size", "file_sha256")


def upgrade() -> None:
    with op.batch_alter_table("arkham_packets") as table:
        table.add_column(sa.Column("finalized_at", sa.Text))
    # Gigabytes of files overflow a 32-bit size. SQLite's INTEGER is 64-bit already (and
    # rebuilding the parent table there would trip its foreign keys), so only PostgreSQL.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("arkham_packets", "size_bytes", type_=sa.BigInteger)
    # Packets sealed before this revision: their last change was the seal.
    op.execute(
        "UPDATE arkham_packets SET finalized_at = updated_at"
        " WHERE checksum IS NOT NULL AND finalized_at IS NULL"
    )
    with op.batch_alter_table("arkham_packet_contents") as table:
        table.add_column(sa.Column("file_name", sa.Text))
        table.add_column(sa.Column("file_media_type", sa.Text))
        table.add_column(sa.Column("file_size", sa.BigInteger))
        table.add_column(sa.Column("file_sha256", sa.Text))
    op.create_index(
        "ix_arkham_packet_contents_file_sha256", "arkham_packet_contents", ["file_sha256"]
    )

    op.create_table(
        "arkham_packet_files",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_table(
        "arkham_packet_snapshot_files",
        sa.Column(
            "snapshot_digest",
            sa.Text,
            sa.ForeignKey("arkham_packet_snapshots.digest"),
            primary_key=True,
        ),
        sa.Column("file_sha256", sa.Text, primary_key=True),
    )
    op.create_index("idx_snapshot_files_file", "arkham_packet_snapshot_files", ["file_sha256"])
    op.create_table(
        "arkham_packet_exports",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("packet_id", sa.Text, sa.ForeignKey("arkham_packets.id"), nullable=False),
        sa.Column("export_format", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("file_path", sa.Text, nullable=False),
        sa.Column("file_size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("exported_at", sa.Text, nullable=False),
        sa.Column("exported_by", sa.Text, nullable=False),
        sa.Column("contents_exported", sa.Integer, nullable=False),
        sa.Column("tenant_id", sa.Text),
    )
    op.create_index("idx_exports_packet", "arkham_packet_exports", ["packet_id"])


def downgrade() -> None:
    op.drop_table("arkham_packet_exports")
    op.drop_table("arkham_packet_snapshot_files")
    op.drop_table("arkham_packet_files")
    op.drop_index("ix_arkham_packet_contents_file_sha256", "arkham_packet_contents")
    with op.batch_alter_table("arkham_packet_contents") as table:
        for column in FILE_COLUMNS:
            table.drop_column(column)
    with op.batch_alter_table("arkham_packets") as table:
        table.drop_column("finalized_at")
