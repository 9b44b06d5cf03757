"""Which statuses of a packet each kind of change accepts, for every domain that changes one.

    draft --finalize--> finalized --first share--> shared
      any state --archive--> archived
Only a draft can be edited; an archived packet takes no change at all.
"""

from __future__ import annotations

from ..models import PacketStatus

EDITABLE = (PacketStatus.DRAFT,)
NOT_ARCHIVED = (PacketStatus.DRAFT, PacketStatus.FINALIZED, PacketStatus.SHARED)
DRAFT_ONLY = "packet {id} is {status}; only a draft can be changed"
