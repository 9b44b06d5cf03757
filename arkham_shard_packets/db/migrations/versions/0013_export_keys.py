"""Export bundles in the store: an export's row names the key of its bundle (`exports/<name>`)
in the configured store (local or S3), so any server sharing the database serves it. Rows of
exports made before keep no key: their `file_path` names the file on the machine that wrote it,
where it is still served from.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("arkham_packet_exports", sa.Column("store_key", sa.Text))


def downgrade() -> None:
    op.drop_column("arkham_packet_exports", "store_key")
