"""Which file each download through a share link handed over, and a packet's items read in
their order from an index.

The access log names the file of a `download` (the item's entry, the file's name and SHA-256)
and of a `bundle` (its name and SHA-256); rows logged before stay without one. An item added
without `order` goes after the packet's last one: `idx_contents_order` finds that place, and
lists a packet's items in order (ties in the order they were added), without a sort.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

LOG = "arkham_packet_share_access"
HANDED = ("content_entry_id", "file_name", "file_sha256")
ORDER_INDEX = "idx_contents_order"
ORDER_COLUMNS = ["packet_id", "order_num", "added_at", "id"]

# Plain ALTER TABLE on both databases, as 0008: a batch rebuild on SQLite would take the
# triggers of 0006 with it.


def upgrade() -> None:
    for name in HANDED:
        op.add_column(LOG, sa.Column(name, sa.Text))
    op.create_index(ORDER_INDEX, "arkham_packet_contents", ORDER_COLUMNS)


def downgrade() -> None:
    op.drop_index(ORDER_INDEX, table_name="arkham_packet_contents")
    for name in reversed(HANDED):
        op.drop_column(LOG, name)
