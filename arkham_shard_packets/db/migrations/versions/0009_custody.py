"""Chain of custody: the installation's signing keys, signed seals, and each packet's custody log.

A packet that exists before this revision gets a first custody entry, `log_started`, that says
so: its history before the upgrade was not recorded, and its log never claims otherwise.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 1000


def _canonical(value: object) -> str:
    """core/canonical.py's canonical JSON, spelled out: a migration does not import the package."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def upgrade() -> None:
    _start_logs(_create_tables())


def _create_tables() -> sa.Table:
    """The signing keys, the seals and the custody log (its table returned, to be filled)."""
    op.create_table(
        "arkham_packet_signing_keys",
        sa.Column("fingerprint", sa.Text, primary_key=True),
        sa.Column("algorithm", sa.Text, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("retired_at", sa.Text),
    )
    op.create_table(
        "arkham_packet_seals",
        sa.Column("packet_id", sa.Text, primary_key=True),
        sa.Column("version_number", sa.Integer, primary_key=True),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("key_fingerprint", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text),
    )
    custody = op.create_table(
        "arkham_packet_custody",
        sa.Column("packet_id", sa.Text, primary_key=True),
        sa.Column("chain", sa.Integer, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("entry_sha256", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text),
    )
    return custody


def _start_logs(custody: sa.Table) -> None:
    """Each packet there already is gets its first custody entry, `log_started`."""
    now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    packets = op.get_bind().execute(
        sa.text("SELECT id, tenant_id, status, version FROM arkham_packets ORDER BY id")
    )
    rows = []
    for packet_id, tenant_id, status, version in packets.all():
        entry = {
            "seq": 1,
            "prev": None,
            "packet_id": packet_id,
            "at": now,
            "actor": "system",
            "event": "log_started",
            "details": {
                "status": status,
                "version": version,
                "note": "custody recording began here; earlier history was not recorded",
            },
        }
        text = _canonical(entry)
        rows.append(
            {
                "packet_id": packet_id,
                "chain": 1,
                "position": 1,
                "entry": text,
                "entry_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "tenant_id": tenant_id,
            }
        )
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(custody, rows[start : start + BATCH])


def downgrade() -> None:
    op.drop_table("arkham_packet_custody")
    op.drop_table("arkham_packet_seals")
    op.drop_table("arkham_packet_signing_keys")
