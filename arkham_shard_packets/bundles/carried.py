"""What an export carries besides the packet: its custody log as it stands, and the signed
seal of a sealed packet, as tag files of the bag or members of the json document."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from ..core.unit_of_work import UnitOfWork
from ..custody.log import read_log
from ..custody.seals import IMPORTED, load_seal
from ..sealing.statement import Seal
from .format.custody_file import CUSTODY_FILE, render_custody
from .format.seal_file import SEAL_FILE, render_seal
from .state import PacketState


@dataclass(frozen=True)
class Carried:
    custody: list[str]
    seal: Seal | None

    def bag_tags(self) -> list[tuple[str, bytes]]:
        tags = [(CUSTODY_FILE, render_custody(self.custody))]
        if self.seal is not None:
            tags.append((SEAL_FILE, render_seal(self.seal)))
        return tags

    def json_members(self) -> dict[str, Any]:
        return {
            "custody": [_decoded(text) for text in self.custody],
            "seal": None if self.seal is None else self.seal.as_json(),
        }


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # a damaged entry travels as it is stored, and fails every check


async def carried_by_export(work: UnitOfWork, state: PacketState) -> tuple[PacketState, Carried]:
    """The packet's log and seal, read with its state. A seal an import brought numbers its
    version as its sealer did, and names the packet by the id it had there (the import may
    have given it an id of the importer's own, bundles/packet_ids.py): the export says that
    number and that id, so the bundle's packet is the one its seal is about."""
    packet = state.packet
    seal = None
    if state.sealed:
        loaded = await load_seal(work, packet.id, packet.version)
        if loaded is not None:
            seal, origin = loaded
            named = seal.statement if isinstance(seal.statement, dict) else {}
            version, sealed_id = named.get("version"), named.get("packet_id")
            if origin == IMPORTED and isinstance(version, int) and version != packet.version:
                state = replace(state, packet=replace(state.packet, version=version))
            if origin == IMPORTED and isinstance(sealed_id, str) and sealed_id != packet.id:
                state = replace(state, packet=replace(state.packet, id=sealed_id))
    return state, Carried(await read_log(work, packet.id), seal)
