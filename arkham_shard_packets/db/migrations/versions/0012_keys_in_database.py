"""One signing key for the installation: the active key may be kept in the database, its
private key encrypted with a key-encryption key from the environment, so servers sharing the
database sign with it (keys/key_vault.py); a key kept in a file gets the check value that tells
a starting server whether its file holds it. Keys listed before stay in their files.

Downgrading drops the columns, and with them a private key kept in the database: the code of
an older version then signs with a key file of its own.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = ("encrypted_private_key", "kek_check", "key_check")


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("arkham_packet_signing_keys", sa.Column(column, sa.Text))


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.drop_column("arkham_packet_signing_keys", column)
