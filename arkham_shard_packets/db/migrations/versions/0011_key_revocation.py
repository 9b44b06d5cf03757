"""Revoking a signing key: from `revoked_at` on, the seals it signs are not trusted (a seal it
made before stays trusted; see sealing/key_trust.py). Keys listed before are not revoked.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("arkham_packet_signing_keys", sa.Column("revoked_at", sa.Text))


def downgrade() -> None:
    op.drop_column("arkham_packet_signing_keys", "revoked_at")
