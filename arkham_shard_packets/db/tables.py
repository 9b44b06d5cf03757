"""The shard's tables: the seed's four (packets, contents, shares, versions) with its column
and index names plus `tenant_id`, and the shard's own: the share access log and comments, the
event outbox, snapshot bodies and the files they name, the blob registry, exports, and the
tallies behind the counts.

Ids and timestamps are text (UUID4 strings; ISO 8601 UTC with offset), as the seed defines them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# 64-bit everywhere; spelled INTEGER on SQLite, whose integers are 64-bit anyway.
BIG_INTEGER = BigInteger().with_variant(Integer, "sqlite")

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
    Column("size_bytes", BIG_INTEGER, server_default="0", nullable=False),
    Column("checksum", Text),
    Column("checksum_recipe", Integer),
    Column("finalized_at", Text),
    Column("metadata", Text, server_default="{}", nullable=False),
    Column("tenant_id", Text),
    Index("idx_packets_status", "status"),
    Index("idx_packets_creator", "created_by"),
    # One per sort order of the list routes, ending with the id tie-break, so a page is read
    # in index order and stops after `limit` rows instead of sorting every match.
    Index("idx_packets_sort_created", "tenant_id", "created_at", "id"),
    Index("idx_packets_sort_updated", "tenant_id", "updated_at", "id"),
    Index("idx_packets_sort_name", "tenant_id", "name", "id"),
    Index("idx_packets_sort_contents", "tenant_id", "contents_count", "id"),
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
    # the attached file: its bytes live once per digest in the file store (attachments/service)
    Column("file_name", Text),
    Column("file_media_type", Text),
    Column("file_size", BigInteger),
    Column("file_sha256", Text, index=True),
    Column("tenant_id", Text),
    UniqueConstraint("packet_id", "content_type", "content_id", name="uq_contents_item"),
    Index("idx_contents_packet", "packet_id"),
    # A packet's items in their order (lists, pages) and its last place (an item added
    # without `order` goes after it), read from the index rather than sorted
    Index("idx_contents_order", "packet_id", "order_num", "added_at", "id"),
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
    Column("shared_by_email", Text),  # the sharer as the viewer page names them
    Column("password_hash", Text),
    Column("access_count", Integer, server_default="0", nullable=False),
    Column("last_accessed_at", Text),
    Column("revoked_at", Text),
    # a link limited to items: their content entry ids (JSON) and the sealed version's number
    Column("item_ids", Text),
    Column("items_version", Integer),
    Index("idx_shares_packet", "packet_id"),
    Index("idx_shares_token", "access_token"),
    # the statistics count shares not yet expired from here, reading only those
    Index("idx_shares_expiry", "tenant_id", "expires_at", "revoked_at"),
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
    # what a `download` or `bundle` handed over (migration 0016; earlier rows have none)
    Column("content_entry_id", Text),
    Column("file_name", Text),
    Column("file_sha256", Text),
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
    Column("kind", Text, server_default="manual", nullable=False),
    Column("created_by", Text, server_default="system", nullable=False),
    Column("checksum", Text),
    Column("checksum_recipe", Integer),
    Column("tenant_id", Text),
    UniqueConstraint("packet_id", "version_number", name="uq_versions_number"),
    Index("idx_versions_packet", "packet_id"),
)

# The event outbox: each event is written in the transaction of the change it describes, in the
# order of `sequence`; after commit the relay (events/relay.py) gives it its `position`, which
# orders the feed (whose answer names it `sequence`: docs/events.md), and delivers it to the
# Frame's bus.
outbox = Table(
    "arkham_packet_outbox",
    metadata,
    Column("sequence", BIG_INTEGER, primary_key=True),
    Column("event_type", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("delivered_at", Text),
    Column("attempts", Integer, server_default="0", nullable=False),
    Column("tenant_id", Text),
    Column("position", BIG_INTEGER),
    Column("relay", Text),  # the relay that delivers it; None: the first to claim it
    Index("idx_outbox_position", "position", unique=True),
    Index("idx_outbox_tenant_position", "tenant_id", "position"),
    Index(
        "idx_outbox_unpositioned",
        "sequence",
        postgresql_where=text("position IS NULL"),
        sqlite_where=text("position IS NULL"),
    ),
    Index(
        "idx_outbox_undelivered",
        "position",
        postgresql_where=text("delivered_at IS NULL"),
        sqlite_where=text("delivered_at IS NULL"),
    ),
)

# Snapshot bodies, stored once per SHA-256 digest however many versions name them. They carry
# no tenant: a body is only ever reached through a version row, and those are tenant-scoped.
packet_snapshots = Table(
    "arkham_packet_snapshots",
    metadata,
    Column("digest", Text, primary_key=True),
    Column("body", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("created_at", Text, nullable=False),
)

# One row per stored blob, for every tenant: blobs are shared by digest, so references are
# counted across tenants (attachments/service.py). Routes never read this table.
packet_files = Table(
    "arkham_packet_files",
    metadata,
    Column("sha256", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Text, nullable=False),
)

packet_exports = Table(
    "arkham_packet_exports",
    metadata,
    Column("id", Text, primary_key=True),
    Column("packet_id", Text, ForeignKey("arkham_packets.id"), nullable=False),
    Column("export_format", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    # A stored bundle's key (`exports/<name>`), then also its `file_path`; NULL for a file an
    # export wrote where a command was told (`export -o`) or made before exports were stored
    # (migration 0013), which `file_path` names on the machine that wrote it.
    Column("file_path", Text, nullable=False),
    Column("store_key", Text),
    Column("file_size", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("exported_at", Text, nullable=False),
    Column("exported_by", Text, nullable=False),
    Column("contents_exported", Integer, nullable=False),
    Column("tenant_id", Text),
    Index("idx_exports_packet", "packet_id"),
)

# Which attached files each snapshot body names, so a file stays stored while any version
# (restorable and exportable at any time) still needs it.
snapshot_files = Table(
    "arkham_packet_snapshot_files",
    metadata,
    Column("snapshot_digest", Text, ForeignKey("arkham_packet_snapshots.digest"), primary_key=True),
    Column("file_sha256", Text, primary_key=True),
    Index("idx_snapshot_files_file", "file_sha256"),
)

# Running totals behind the badge count, the list totals and the statistics, written by
# triggers (migration 0006) on every change to a packet, an item, a version or a share: a packet
# row adds to (status, visibility), an item row (content_type set) to its type, a version or a
# share row to its own count. Each row is a change;
# the totals are their sums, folded back into one row per group now and then.
packet_tallies = Table(
    "arkham_packet_tallies",
    metadata,
    Column("id", BIG_INTEGER, primary_key=True),
    Column("tenant_id", Text),
    Column("status", Text),
    Column("visibility", Text),
    Column("content_type", Text),
    Column("packets", BigInteger, server_default="0", nullable=False),
    Column("contents", BigInteger, server_default="0", nullable=False),
    Column("size_bytes", BigInteger, server_default="0", nullable=False),
    Column("items", BigInteger, server_default="0", nullable=False),
    Column("versions", BigInteger, server_default="0", nullable=False),
    Column("shares", BigInteger, server_default="0", nullable=False),
    Column("open_shares", BigInteger, server_default="0", nullable=False),
    Index("idx_tallies_tenant", "tenant_id"),
)

# Chain of custody (custody/, keys/). No foreign keys to the packets: nothing here is ever
# updated or deleted, like the snapshots; every row is reached through its tenant's packet id.

# Every public key this installation has signed with; the one not retired is the active key.
# Installation-wide, like the file registry: keys belong to no tenant.
signing_keys = Table(
    "arkham_packet_signing_keys",
    metadata,
    Column("fingerprint", Text, primary_key=True),
    Column("algorithm", Text, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("retired_at", Text),
    Column("revoked_at", Text),  # its seals made from then on are not trusted
    # The active key kept in the database: its private key wrapped by the key-encryption key
    # (keys/wrapping.py) and that key's check value; erased when the key is retired.
    Column("encrypted_private_key", Text),
    Column("kek_check", Text),
    # A key kept in a file: the check value of its private key, which tells a starting server
    # whether its file holds this key.
    Column("key_check", Text),
)

# The signed seal of a sealed version: the statement (canonical JSON), its signature and the
# public key, made here at finalize or carried in by an import.
packet_seals = Table(
    "arkham_packet_seals",
    metadata,
    Column("packet_id", Text, primary_key=True),
    Column("version_number", Integer, primary_key=True),
    Column("statement", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("key_fingerprint", Text, nullable=False),
    Column("origin", Text, nullable=False),  # "signed" here or "imported"
    Column("created_at", Text, nullable=False),
    # a seal of format 2 (arkham-packet-seal/2): its items' salts, a JSON list in the recipe's
    # item order (sealing/item_proofs.py); none for older seals and imported ones
    Column("item_salts", Text),
    Column("tenant_id", Text),
)

# A packet's custody log: entries (canonical JSON) in `position` order within a chain. A packet
# has one chain unless an import replaced its history with a sealed packet's own (a new chain
# whose import entry names the head of the one before); the newest chain is the packet's log.
packet_custody = Table(
    "arkham_packet_custody",
    metadata,
    Column("packet_id", Text, primary_key=True),
    Column("chain", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("entry", Text, nullable=False),
    Column("entry_sha256", Text, nullable=False),
    Column("tenant_id", Text),
)
