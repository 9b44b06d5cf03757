"""The shard's tables: the seed's four, with its column and index names, plus `tenant_id`.

Ids and timestamps are text (UUID4 strings; ISO 8601 UTC with offset), as the seed defines them.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, Table, Text, UniqueConstraint

metadata = MetaData()

packets = Table(
    "arkham_packets",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, server_default="", nullable=False),
    Column("status", Text, server_default="draft", nullable=False),
    Column("visibility", Text, server_default="private", nullable=False),
    Column("created_by", Text, server_default="system", nullable=False),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("version", Integer, server_default="1", nullable=False),
    Column("contents_count", Integer, server_default="0", nullable=False),
    Column("size_bytes", Integer, server_default="0", nullable=False),
    Column("checksum", Text),
    Column("metadata", Text, server_default="{}", nullable=False),
    Column("tenant_id", Text),
    Index("idx_packets_status", "status"),
    Index("idx_packets_creator", "created_by"),
    Index("idx_packets_tenant_created", "tenant_id", "created_at"),
)

packet_contents = Table(
    "arkham_packet_contents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("packet_id", Text, ForeignKey("arkham_packets.id"), nullable=False),
    Column("content_type", Text, nullable=False),
    Column("content_id", Text, nullable=False),
    Column("content_title", Text),
    Column("added_at", Text, nullable=False),
    Column("added_by", Text, server_default="system", nullable=False),
    Column("order_num", Integer, server_default="0", nullable=False),
    Column("data", Text),
    Column("tenant_id", Text),
    UniqueConstraint("packet_id", "content_type", "content_id", name="uq_contents_item"),
    Index("idx_contents_packet", "packet_id"),
)

packet_shares = Table(
    "arkham_packet_shares",
    metadata,
    Column("id", Text, primary_key=True),
    Column("packet_id", Text, ForeignKey("arkham_packets.id"), nullable=False),
    Column("shared_with", Text),
    Column("permissions", Text, server_default="view", nullable=False),
    Column("shared_at", Text, nullable=False),
    Column("expires_at", Text),
    Column("access_token", Text),  # SHA-256 hex digest of the token, never the token
    Column("tenant_id", Text),
    Column("shared_by", Text, server_default="system", nullable=False),
    Column("password_hash", Text),
    Column("access_count", Integer, server_default="0", nullable=False),
    Column("last_accessed_at", Text),
    Column("revoked_at", Text),
    Index("idx_shares_packet", "packet_id"),
    Index("idx_shares_token", "access_token"),
)

share_access_log = Table(
    "arkham_packet_share_access",
    metadata,
    Column("id", Text, primary_key=True),
    Column("share_id", Text, ForeignKey("arkham_packet_shares.id"), nullable=False),
    Column("packet_id", Text, ForeignKey("arkham_packets.id"), nullable=False),
    Column("accessed_at", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("client_address", Text),
    Column("tenant_id", Text),
    Index("idx_share_access_share", "share_id", "action", "accessed_at"),
)

packet_comments = Table(
    "arkham_packet_comments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("packet_id", Text, ForeignKey("arkham_packets.id"), nullable=False),
    Column("share_id", Text, ForeignKey("arkham_packet_shares.id")),
    Column("author", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("tenant_id", Text),
    Index("idx_comments_packet", "packet_id", "created_at"),
)

packet_versions = Table(
    "arkham_packet_versions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("packet_id", Text, ForeignKey("arkham_packets.id"), nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("changes_summary", Text),
    Column("snapshot_path", Text),
    Column("tenant_id", Text),
    UniqueConstraint("packet_id", "version_number", name="uq_versions_number"),
    Index("idx_versions_packet", "packet_id"),
)
