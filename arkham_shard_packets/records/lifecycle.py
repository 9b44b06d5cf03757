"""Which statuses of a packet each kind of change accepts, for every domain that changes one.

    draft --finalize--> finalized --first share--> shared
      any state --archive--> archived
Only a draft can be edited; an archived packet takes no change at all.

Each kind of change is a `Rule`: the statuses it accepts and the refusal (`PacketLocked`, 409)
of a packet in any other. `records.locks.lock_packet` checks one under the packet's lock;
a service that only reads the packet first checks it with `Rule.check`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PacketLocked
from ..models import Packet, PacketStatus

EDITABLE = (PacketStatus.DRAFT,)
NOT_ARCHIVED = (PacketStatus.DRAFT, PacketStatus.FINALIZED, PacketStatus.SHARED)


@dataclass(frozen=True)
class Rule:
    accepts: tuple[PacketStatus, ...]
    refusal: str  # the `detail` answered; {id} and {status} are the packet's

    def check(self, packet: Packet) -> None:
        """Refuse the packet (PacketLocked) unless its status is one this change accepts."""
        self.check_status(packet.id, packet.status)

    def check_status(self, packet_id: str, status: PacketStatus) -> None:
        if status not in self.accepts:
            raise PacketLocked(self.refusal.format(id=packet_id, status=status.value))


# A draft's own changes: its fields, its items and their files.
EDIT = Rule(EDITABLE, "packet {id} is {status}; only a draft can be changed")
FINALIZE = Rule(EDITABLE, "packet {id} is {status}; only a draft can be finalized")
RESTORE = Rule(EDITABLE, "packet {id} is {status}; only a draft can be restored")
IMPORT_INTO = Rule(EDITABLE, "packet {id} exists and is {status}; only a draft can take an import")
NEW_VERSION = Rule(NOT_ARCHIVED, "packet {id} is archived; it takes no new versions")
SHARE = Rule(NOT_ARCHIVED, "packet {id} is {status}; it can't be shared")
COMMENT = Rule(NOT_ARCHIVED, "packet {id} is archived; it takes no more comments")
ARCHIVE = Rule(NOT_ARCHIVED, "packet {id} is already archived")
REVOKE_SHARE = Rule(tuple(PacketStatus), "")  # whatever the packet's status
